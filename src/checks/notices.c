#include "checks/notices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/notice.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/text.h"

/* "in 94s" or "12s ago": against the wall clock, as EC2 means it. */
static void
notices_in(time_t when, char *buf, size_t len)
{
	long d = (long)(when - time(NULL));

	if (d >= 0)
		snprintf(buf, len, "in %lds", d);
	else
		snprintf(buf, len, "%lds ago", -d);
}

/*
 * Whether the on_interruption = check warning was printed: by the run (a
 * notice at the start) or by the watch (one that came later), never twice.
 * One run per process; the run sets it before the watch thread starts.
 */
static int notices_warned;

/* A Spot interruption notice under on_interruption; ST_OK to go on. */
static int
notices_spot(struct check_ctx *cx, const struct notices_conf *c,
    const struct notice_spot *s, int quiet)
{
	int action = check_policy(c->on_interruption,
	    c->ev_on_interruption, cx->ev);
	char in[32];

	notices_in(s->when, in, sizeof(in));
	if (action != ON_STATE_CHECK)
		return check_leave_policy(cx, action, "on_interruption",
		    "spot interruption notice: %s at %s (%s)",
		    notice_action_name(s->action), s->time, in);
	if (!quiet && !notices_warned++)
		out_info("notices: WARNING: spot interruption notice: %s at %s "
		    "(%s); on_interruption = check: the checks run",
		    notice_action_name(s->action), s->time, in);
	return ST_OK;
}

static int
notices_rebalance(struct check_ctx *cx, const struct notices_conf *c)
{
	struct notice_rebalance r;
	int action, rc;

	if ((rc = notice_read_rebalance(&cx->imds, cx->deadline, &r,
	    &cx->st)) != ST_OK)
		return status_wrap(&cx->st, "notices");
	if (!r.present)
		return ST_OK;
	action = check_policy(c->on_rebalance, c->ev_on_rebalance, cx->ev);
	if (action != ON_STATE_CHECK)
		return check_leave_policy(cx, action, "on_rebalance",
		    "rebalance recommendation at %s (elevated risk of a Spot "
		    "interruption)", r.time);
	out_info("notices: WARNING: rebalance recommendation at %s (elevated "
	    "risk of a Spot interruption); on_rebalance = check", r.time);
	check_note(cx, "rebalance recommended at %s", r.time);
	return ST_OK;
}

static int
notices_scheduled(struct check_ctx *cx, const struct notices_conf *c)
{
	struct notice_events *e;
	const struct notice_event *ev;
	/* the window starts before the deadline (or has started) */
	time_t until = time(NULL) + (time_t)(mono_left(cx->deadline) / 1000);
	size_t i, n = 0;
	int action, rc;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return status_set(&cx->st, ST_OSERR, "out of memory");
	if ((rc = notice_read_events(&cx->imds, cx->deadline, e,
	    &cx->st)) != ST_OK) {
		free(e);
		return status_wrap(&cx->st, "notices");
	}
	action = check_policy(c->on_scheduled, c->ev_on_scheduled, cx->ev);
	for (i = 0; i < e->n; i++) {
		ev = &e->ev[i];
		if (ev->start > until)
			break;		/* earliest first: none of the rest */
		n++;
		out_info("notices: %sscheduled event %s from %s%s%s: %s",
		    action == ON_STATE_CHECK ? "WARNING: " : "", ev->code_text,
		    ev->not_before, ev->has_end ? " to " : "",
		    ev->has_end ? ev->not_after : "", ev->desc[0] ? ev->desc :
		    "(no description)");
	}
	if (n > 0 && action != ON_STATE_CHECK) {
		rc = check_leave_policy(cx, action, "on_scheduled_event",
		    "scheduled event %s from %s within the deadline",
		    e->ev[0].code_text, e->ev[0].not_before);
		free(e);
		return rc;
	}
	if (n > 0)
		check_note(cx, "%zu scheduled event%s (%s from %s)", n,
		    n == 1 ? "" : "s", e->ev[0].code_text,
		    e->ev[0].not_before);
	free(e);
	return ST_OK;
}

static int
notices_run(struct check_ctx *cx, const void *conf)
{
	const struct notices_conf *c = conf;
	struct notice_spot s;
	int rc;

	if (!cx->imds_on) {
		check_note(cx, "notices not read (imds = no)");
		return ST_OK;
	}
	if ((rc = check_imds(cx, "the notices check")) != ST_OK)
		return rc;
	if ((rc = notice_read_spot(&cx->imds, cx->deadline, &s,
	    &cx->st)) != ST_OK)
		return status_wrap(&cx->st, "notices");
	if (s.present && (rc = notices_spot(cx, c, &s, 0)) != ST_OK)
		return rc;
	if (s.present)
		check_note(cx, "spot interruption notice (%s at %s)",
		    notice_action_name(s.action), s.time);
	if ((rc = notices_rebalance(cx, c)) != ST_OK ||
	    (rc = notices_scheduled(cx, c)) != ST_OK)
		return rc;
	if (!s.present)
		out_info("notices: no spot interruption notice");
	check_watch_me(cx);	/* a notice may come during the waits */
	return ST_OK;
}

/* The watch: spot/instance-action again (the one item read each time). */
static int
notices_watch(struct check_ctx *wcx, const void *conf)
{
	struct notice_spot s;
	int rc;

	if ((rc = notice_read_spot(&wcx->imds, wcx->deadline, &s,
	    &wcx->st)) != ST_OK || !s.present)
		return rc;	/* a failed read: the runner says it, reads again */
	rc = notices_spot(wcx, conf, &s, 1);
	if (rc == ST_OK && !notices_warned++)
		snprintf(wcx->said, sizeof(wcx->said), "notices: WARNING: "
		    "spot interruption notice now: %s at %s; on_interruption "
		    "= check: the checks go on", notice_action_name(s.action),
		    s.time);
	return rc;
}

static void
notices_defaults(void *conf)
{
	struct notices_conf *c = conf;
	int i;

	/* skip, as on_terminating; warnings for the others (notices.h) */
	c->on_interruption = ON_STATE_SKIP;
	c->on_rebalance = c->on_scheduled = ON_STATE_CHECK;
	for (i = 0; i < EV_COUNT; i++)
		c->ev_on_interruption[i] = c->ev_on_rebalance[i] =
		    c->ev_on_scheduled[i] = -1;
}

static int
notices_key(void *conf, struct inifile *f, int where, const char *k,
    const char *v)
{
	struct notices_conf *c = conf;
	int *gate, *per_event, *out;

	if (strcmp(k, "on_interruption") == 0) {
		gate = &c->on_interruption;
		per_event = c->ev_on_interruption;
	} else if (strcmp(k, "on_rebalance") == 0) {
		gate = &c->on_rebalance;
		per_event = c->ev_on_rebalance;
	} else if (strcmp(k, "on_scheduled_event") == 0) {
		gate = &c->on_scheduled;
		per_event = c->ev_on_scheduled;
	} else
		return CHECK_KEY_NOT_MINE;
	/* no section of its own: [gate] or an event section */
	out = where >= 0 ? &per_event[where] : gate;
	return check_on_state(f, k, v, out);
}

const struct check_def check_notices = {
	.name = "notices",
	.gate_keys = "on_interruption on_rebalance on_scheduled_event",
	.event_keys = "on_interruption on_rebalance on_scheduled_event",
	.conf_size = sizeof(struct notices_conf),
	.defaults = notices_defaults,
	.key = notices_key,
	/* every event, with the lifecycle check */
	.default_events = CHECK_EVERY_EVENT,
	.run = notices_run,
	.watch = notices_watch,
};
