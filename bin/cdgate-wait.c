/*
 * cdgate-wait: blocks until this instance is provisioned (the marker passes,
 * by the same rules as the hooks) or the timeout passes.  For ordering the
 * agent after provisioning (ExecStartPre=) and for scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks/marker.h"
#include "run/gate.h"
#include "run/registry.h"
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

int
main(int argc, char **argv)
{
	static struct gate g;	/* a whole configuration: not on the stack */
	const struct marker_conf *mk;
	const char *cfgpath = NULL;
	long timeout = 0;
	int c, rc;

	proc_start("cdgate-wait");
	proc_on_term("terminated by SIGTERM while waiting for provisioning");
	gate_init(&g, "cdgate-wait");
	while ((c = getopt(argc, argv, "c:hnqt:V")) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'n': g.check_mode = 1; break;
		case 'q': out_quiet(1); break;
		case 't':
			if (text_long(optarg, 1, 86400, &timeout) != 0) {
				out_verdict(ST_USAGE, 0, "-t '%s': expected "
				    "seconds from 1 to 86400", optarg);
				return ST_USAGE;
			}
			break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': printf("cdgate-wait %s\n", PROC_VERSION); return 0;
		default:
			out_verdict(ST_USAGE, 0, "bad option; see cdgate-wait -h");
			return ST_USAGE;
		}
	}
	if (optind != argc) {
		out_verdict(ST_USAGE, 0, "unexpected argument '%s'; see "
		    "cdgate-wait -h", argv[optind]);
		return ST_USAGE;
	}
	rc = config_load_for(&g.cfg, cfgpath, &g.cx.st);
	if (rc != ST_OK) {
		out_verdict(rc, 0, "%s", g.cx.st.msg);
		return rc;
	}
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
