#include "checks/lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"

int
lifecycle_read(struct imds *m, int64_t deadline, char *out, size_t len,
    struct status *st)
{
	char line[IMDS_LINE];
	long code;
	int rc;

	out[0] = '\0';
	if ((rc = imds_get_line(m, LIFECYCLE_ITEM, deadline, line,
	    sizeof(line), &code, st)) != ST_OK || code == 404)
		return rc;
	if (line[0] == '\0' || strlen(line) >= len || strpbrk(line, " \n"))
		return status_set(st, ST_UNAVAIL, "instance metadata sent a "
		    "malformed lifecycle state '%s'", line);
	text_copy(out, line, len);
	return ST_OK;
}

int
lifecycle_leaving(const char *state)
{
	return strcmp(state, "Terminated") == 0 ||
	    strcmp(state, "Warmed:Terminated") == 0;
}

int
lifecycle_on_terminating(const struct lifecycle_conf *c, int ev)
{
	return check_policy(c->on_terminating, c->ev_on_terminating, ev);
}

int
lifecycle_action(const struct lifecycle_conf *c, int ev, const char *state,
    const char **key)
{
	const char *dummy;

	if (key == NULL)
		key = &dummy;
	*key = NULL;
	if (lifecycle_leaving(state)) {
		*key = "on_terminating";
		return lifecycle_on_terminating(c, ev);
	}
	if (strcmp(state, "Standby") == 0) {
		*key = "on_standby";
		return c->on_standby;
	}
	if (strcmp(state, "Detached") == 0) {
		*key = "on_detached";
		return c->on_detached;
	}
	if (strncmp(state, "Warmed:", 7) == 0) {
		*key = "on_warmed";
		return c->on_warmed;
	}
	return ON_STATE_CHECK;
}

/* The end of the run for a state the policy skips or fails. */
static int
lifecycle_leave(struct check_ctx *cx, const char *state, int action,
    const char *key)
{
	return check_leave_policy(cx, action, key ? key : "policy",
	    "%s (target lifecycle state %s)", lifecycle_leaving(state) ?
	    "instance is leaving" : "instance is not in service", state);
}

static int
lifecycle_run(struct check_ctx *cx, const void *conf)
{
	const char *key;
	int action, rc;

	if (!cx->imds_on) {
		check_note(cx, "lifecycle not checked (imds = no)");
		return ST_OK;
	}
	if ((rc = check_imds(cx, "the lifecycle check")) != ST_OK)
		return rc;
	if ((rc = lifecycle_read(&cx->imds, cx->deadline, cx->lifecycle,
	    sizeof(cx->lifecycle), &cx->st)) != ST_OK) {
		status_wrap(&cx->st, "lifecycle");
		return rc;
	}
	if (cx->lifecycle[0] == '\0') {
		out_info("lifecycle: not in an Auto Scaling group");
		check_note(cx, "no Auto Scaling group");
		return ST_OK;
	}
	if ((action = lifecycle_action(conf, cx->ev, cx->lifecycle, &key)) !=
	    ON_STATE_CHECK)
		return lifecycle_leave(cx, cx->lifecycle, action, key);
	out_info("lifecycle: target state %s", cx->lifecycle);
	if (key != NULL)
		out_info("lifecycle: %s = check: the checks run as for "
		    "InService", key);
	else if (strcmp(cx->lifecycle, "InService") != 0)
		out_info("lifecycle: state unknown to cdgate %s: the checks "
		    "run as for InService", PROC_VERSION);
	check_note(cx, "lifecycle %s", cx->lifecycle);
	check_watch_me(cx);	/* in a group: the state may change */
	return ST_OK;
}

/* The watch: the state again; a change is said, a leaving ends the run. */
static int
lifecycle_watch(struct check_ctx *wcx, const void *conf)
{
	char state[sizeof(wcx->lifecycle)];
	const char *key;
	int action;

	if (lifecycle_read(&wcx->imds, wcx->deadline, state, sizeof(state),
	    &wcx->st) != ST_OK)
		return wcx->st.code;	/* the runner says it, reads again */
	if (strcmp(state, wcx->lifecycle) != 0) {
		snprintf(wcx->said, sizeof(wcx->said), "lifecycle: target "
		    "state now %s", state[0] ? state : "(not in a group)");
		text_copy(wcx->lifecycle, state, sizeof(wcx->lifecycle));
	}
	if ((action = lifecycle_action(conf, wcx->ev, state, &key)) !=
	    ON_STATE_CHECK)
		return lifecycle_leave(wcx, state, action, key);
	return ST_OK;
}

static void
lifecycle_defaults(void *conf)
{
	struct lifecycle_conf *c = conf;
	int i;

	/* skip on_terminating, check the rest: see lifecycle.h for why */
	c->on_terminating = ON_STATE_SKIP;
	c->on_standby = c->on_detached = c->on_warmed = ON_STATE_CHECK;
	for (i = 0; i < EV_COUNT; i++)
		c->ev_on_terminating[i] = -1;
}

static int
lifecycle_on_term(struct inifile *f, const char *v, int *out)
{
	if (strcmp(v, "skip") == 0)
		*out = ON_STATE_SKIP;
	else if (strcmp(v, "fail") == 0)
		*out = ON_STATE_FAIL;
	else
		return inifile_error(f, "on_terminating = '%s': expected skip "
		    "or fail", v);
	return 0;
}

static int
lifecycle_key(void *conf, struct inifile *f, int where, const char *k,
    const char *v)
{
	struct lifecycle_conf *c = conf;

	if (strcmp(k, "on_terminating") == 0)
		return lifecycle_on_term(f, v, where >= 0 ?
		    &c->ev_on_terminating[where] : &c->on_terminating);
	if (where != CHECK_IN_GATE)
		return CHECK_KEY_NOT_MINE;
	if (strcmp(k, "on_standby") == 0)
		return check_on_state(f, k, v, &c->on_standby);
	if (strcmp(k, "on_detached") == 0)
		return check_on_state(f, k, v, &c->on_detached);
	if (strcmp(k, "on_warmed") == 0)
		return check_on_state(f, k, v, &c->on_warmed);
	return CHECK_KEY_NOT_MINE;
}

const struct check_def check_lifecycle = {
	.name = "lifecycle",
	.gate_keys = "on_terminating on_standby on_detached on_warmed",
	.event_keys = "on_terminating",
	.conf_size = sizeof(struct lifecycle_conf),
	.defaults = lifecycle_defaults,
	.key = lifecycle_key,
	/* every event: it is what keeps waits from stalling */
	.default_events = CHECK_EVERY_EVENT,
	.run = lifecycle_run,
	.watch = lifecycle_watch,
};
