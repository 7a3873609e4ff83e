#include "checks/lifecycle.h"

#include <string.h>

#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"

int
lifecycle_read(struct imds *m, int64_t deadline, char *out, size_t len,
    struct status *st)
{
	char buf[CAP_IMDS_BODY];
	long code;
	int rc;

	out[0] = '\0';
	if ((rc = imds_get(m, LIFECYCLE_ITEM, deadline, buf, sizeof(buf),
	    &code, st)) != ST_OK)
		return rc;
	if (code == 404)
		return ST_OK;
	text_trim(buf);
	if (buf[0] == '\0' || strlen(buf) >= len || strpbrk(buf, " \n"))
		return status_set(st, ST_UNAVAIL, "instance metadata sent a "
		    "malformed lifecycle state '%s'", buf);
	text_copy(out, buf, len);
	return ST_OK;
}

int
lifecycle_leaving(const char *state)
{
	return strcmp(state, "Terminated") == 0 ||
	    strcmp(state, "Warmed:Terminated") == 0;
}

int
lifecycle_action(const struct config *c, int ev, const char *state,
    const char **key)
{
	const char *dummy;
	int onterm;

	if (key == NULL)
		key = &dummy;
	*key = NULL;
	if (lifecycle_leaving(state)) {
		*key = "on_terminating";
		onterm = ev >= 0 && ev < EV_COUNT ?
		    config_on_terminating(c, (enum event)ev) :
		    c->on_terminating;
		return onterm == ON_TERM_FAIL ? ON_STATE_FAIL : ON_STATE_SKIP;
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

int
lifecycle_check(struct gate *g)
{
	const char *key;
	int rc;

	if (!g->cfg.imds) {
		gate_note(g, "lifecycle not checked (imds = no)");
		return ST_OK;
	}
	if ((rc = gate_imds(g, "the lifecycle check")) != ST_OK)
		return rc;
	if ((rc = lifecycle_read(&g->imds, g->deadline, g->lifecycle,
	    sizeof(g->lifecycle), &g->st)) != ST_OK) {
		status_wrap(&g->st, "lifecycle");
		return rc;
	}
	if (g->lifecycle[0] == '\0') {
		out_info("lifecycle: not in an Auto Scaling group");
		gate_note(g, "no Auto Scaling group");
		return ST_OK;
	}
	if (lifecycle_action(&g->cfg, g->ev, g->lifecycle, &key) !=
	    ON_STATE_CHECK)
		return GATE_LEAVING;
	out_info("lifecycle: target state %s", g->lifecycle);
	if (key != NULL)
		out_info("lifecycle: %s = check: the checks run as for "
		    "InService", key);
	else if (strcmp(g->lifecycle, "InService") != 0)
		out_info("lifecycle: state unknown to cdgate %s: the checks "
		    "run as for InService", PROC_VERSION);
	gate_note(g, "lifecycle %s", g->lifecycle);
	return ST_OK;
}
