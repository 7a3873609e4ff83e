#include "checks/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/event.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/text.h"

void
check_note(struct check_ctx *cx, const char *fmt, ...)
{
	char part[CAP_MSG];
	size_t used = strlen(cx->summary);
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(part, sizeof(part), fmt, ap) < 0)
		part[0] = '\0';
	va_end(ap);
	if (used > 0 && used + 2 < sizeof(cx->summary)) {
		memcpy(cx->summary + used, "; ", 3);
		used += 2;
	}
	text_copy(cx->summary + used, part, sizeof(cx->summary) - used);
}

int
check_leave(struct check_ctx *cx, int skip, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* a cut message is still a message: truncation is fine */
	if (vsnprintf(cx->leave_msg, sizeof(cx->leave_msg), fmt, ap) < 0)
		text_copy(cx->leave_msg, "the instance is leaving",
		    sizeof(cx->leave_msg));
	va_end(ap);
	cx->leave_skip = skip;
	return CHECK_LEAVING;
}

int
check_leave_policy(struct check_ctx *cx, int action, const char *key,
    const char *fmt, ...)
{
	int skip = action != ON_STATE_FAIL;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	if (vsnprintf(cx->leave_msg, sizeof(cx->leave_msg), fmt, ap) < 0)
		cx->leave_msg[0] = '\0';
	va_end(ap);
	n = strlen(cx->leave_msg);
	/* a cut message is still a message: truncation is fine */
	(void)snprintf(cx->leave_msg + n, sizeof(cx->leave_msg) - n,
	    ": %s; %s = %s", skip ? "not checking" : "failing", key,
	    check_on_state_name(skip ? ON_STATE_SKIP : ON_STATE_FAIL));
	cx->leave_skip = skip;
	return CHECK_LEAVING;
}

int
check_policy(int gate, const int *per_event, int ev)
{
	if (ev >= 0 && ev < EV_COUNT && per_event[ev] >= 0)
		return per_event[ev];
	return gate;
}

void
check_watch_me(struct check_ctx *cx)
{
	cx->watch_wanted |= cx->self;
}

double
check_elapsed(const struct check_ctx *cx)
{
	return (double)(mono_ms() - cx->start) / 1000.0;
}

int
check_imds(struct check_ctx *cx, const char *why)
{
	if (cx->imds_ready)
		return ST_OK;
	if (!cx->imds_on)
		return status_set(&cx->st, ST_CONFIG, "%s needs instance "
		    "metadata, but [gate] imds = no", why);
	if (imds_init(&cx->imds, &cx->st) != ST_OK)
		return cx->st.code;
	cx->imds_ready = 1;
	return ST_OK;
}

int
check_instance_id(struct check_ctx *cx)
{
	int rc;

	if (cx->instance_id[0] != '\0')
		return ST_OK;
	if ((rc = check_imds(cx, "the instance id")) != ST_OK)
		return rc;
	if ((rc = imds_instance_id(&cx->imds, cx->deadline, cx->instance_id,
	    sizeof(cx->instance_id), &cx->st)) != ST_OK)
		return rc;
	out_info("instance %s", cx->instance_id);
	return ST_OK;
}

int
check_wait(struct check_ctx *cx, struct watch *w, int64_t ms)
{
	int64_t until = mono_ms() + ms, now;
	int r;

	if (until > cx->deadline)
		until = cx->deadline;
	if (!cx->waited) {
		cx->waited = 1;
		if (cx->before_wait != NULL)
			cx->before_wait(cx);
	}
	while ((now = mono_ms()) < until) {
		if (w == NULL)
			mono_sleep(until - now);
		else if ((r = watch_wait(w, until - now)) > 0)
			return ST_OK;
		else if (r < 0)	/* not a change: the wait cannot go on */
			return status_set(&cx->st, ST_OSERR, "waiting on inotify "
			    "for '%s': %s", w->path, strerror(errno));
	}
	return ST_OK;
}

int
check_bool(struct inifile *f, const char *key, const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return inifile_error(f, "%s = '%s': expected yes or no", key,
		    v);
	return 0;
}

int
check_path(struct inifile *f, const char *key, const char *v, char *out,
    size_t len)
{
	if (v[0] != '/')
		return inifile_error(f, "%s = '%s': expected an absolute path",
		    key, v);
	if (strlen(v) >= len)
		return inifile_error(f, "%s: path too long", key);
	text_copy(out, v, len);
	return 0;
}

int
check_on_state(struct inifile *f, const char *key, const char *v, int *out)
{
	if (strcmp(v, "check") == 0)
		*out = ON_STATE_CHECK;
	else if (strcmp(v, "skip") == 0)
		*out = ON_STATE_SKIP;
	else if (strcmp(v, "fail") == 0)
		*out = ON_STATE_FAIL;
	else
		return inifile_error(f, "%s = '%s': expected check, skip or "
		    "fail", key, v);
	return 0;
}

const char *
check_on_state_name(int on)
{
	return on == ON_STATE_SKIP ? "skip" : on == ON_STATE_FAIL ? "fail" :
	    "check";
}
