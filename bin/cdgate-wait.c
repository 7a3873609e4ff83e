/*
 * cdgate-wait: blocks until this instance is provisioned (the marker passes,
 * by the same rules as the hooks) or the timeout passes.  For ordering the
 * agent after provisioning (ExecStartPre=) and for scripts.
 */
#include <stdio.h>

#include "checks/marker.h"
#include "run/gate.h"
#include "run/registry.h"
#include "run/tool.h"
#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"

static const char usage[] =
    "usage: cdgate-wait [-hnqV] [-c config] [-t seconds]\n"
    "  Waits until the provisioning marker passes (cdgate.ini [marker]).\n"
    "  -t  seconds to wait (default: [gate] timeout of cdgate.ini)\n"
    "  -n  check mode: print the plan and exit;  -q  only the verdict\n"
    "Exit: 0 provisioned, 1 failed, 2 timeout, 3 SIGTERM, 64 usage,\n"
    "  69 unavailable, 78 configuration.\n";

/* -t seconds */
static int
wait_option(void *self, int c, const char *arg, int argc, char **argv,
    struct status *st)
{
	(void)argc;
	(void)argv;
	if (c != 't')
		return status_set(st, ST_USAGE, "bad option; see cdgate-wait -h");
	if (text_long(arg, 1, 86400, self) != 0)
		return status_set(st, ST_USAGE, "-t '%s': expected seconds "
		    "from 1 to 86400", arg);
	return ST_OK;
}

int
main(int argc, char **argv)
{
	static struct gate g;	/* a whole configuration: not on the stack */
	const struct marker_conf *mk;
	struct tool tool = {
		.name = "cdgate-wait", .version = "cdgate-wait",
		.usage = usage, .opts = "t:", .flags = TOOL_QUIET,
		.option = wait_option,
	};
	long timeout = 0;
	int rc;

	proc_start("cdgate-wait");
	proc_on_term("terminated by SIGTERM while waiting for provisioning");
	gate_init(&g, "cdgate-wait");
	tool.self = &timeout;
	if ((rc = tool_options(&tool, argc, argv, &g.cx.st)) == TOOL_EXIT)
		return 0;
	if (rc == ST_OK)
		rc = tool_config(&tool, &g.cfg, &g.cx.st);
	if (rc != ST_OK)
		return tool_verdict(NULL, rc, 0, g.cx.st.msg);
	g.check_mode = tool.check_mode;
	mk = config_conf(&g.cfg, &check_marker);
	g.checks = registry_bit("marker");
	g.cx.timeout = timeout > 0 ? timeout : g.cfg.timeout;
	g.cx.deadline = g.cx.start + g.cx.timeout * 1000;
	out_info("config %s; waiting up to %lds for '%s'", g.cfg.path[0] ?
	    g.cfg.path : "built-in defaults", g.cx.timeout, mk->path);
	if (g.check_mode) {
		out_info("checks: marker%s; deadline %lds%s", mk->cloud_init ?
		    ", and cloud-init's result" : "", g.cx.timeout, timeout > 0 ?
		    " (-t)" : " ([gate] timeout)");
		out_verdict(0, 0, "configuration is valid (check mode: nothing "
		    "read or waited for)");
		return 0;
	}
	return gate_finish(&g);
}
