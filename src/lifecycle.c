#include "lifecycle.h"

#include <string.h>

#include "out.h"
#include "text.h"

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
lifecycle_check(struct gate *g)
{
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
	out_info("lifecycle: target state %s", g->lifecycle);
	if (lifecycle_leaving(g->lifecycle))
		return GATE_LEAVING;
	gate_note(g, "lifecycle %s", g->lifecycle);
	g->lifecycle_next = 0;
	return ST_OK;
}
