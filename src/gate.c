#include "gate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.h"
#include "lifecycle.h"
#include "mono.h"
#include "out.h"
#include "proc.h"
#include "provision.h"
#include "tags.h"
#include "text.h"

static const char gate_usage[] =
    "usage: %s [-hnV] [-c config]\n"
    "  The %s hook of cdgate: run by codedeploy-agent with no arguments.\n"
    "  -n  check mode: load the configuration, print the plan, exit\n"
    "  -c  use this configuration file (default: the search of cdgate.ini)\n"
    "  -h  this help;  -V  the version\n"
    "Exit: 0 pass/skip, 1 fail, 2 timeout, 3 SIGTERM, 64 usage, "
    "69 unavailable,\n  70 internal, 71 system, 77 AWS permission, "
    "78 configuration.\n";

void
gate_note(struct gate *g, const char *fmt, ...)
{
	char part[CAP_MSG];
	size_t used = strlen(g->summary);
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(part, sizeof(part), fmt, ap) < 0)
		part[0] = '\0';
	va_end(ap);
	if (used > 0 && used + 2 < sizeof(g->summary)) {
		memcpy(g->summary + used, "; ", 3);
		used += 2;
	}
	text_copy(g->summary + used, part, sizeof(g->summary) - used);
}

double
gate_elapsed(const struct gate *g)
{
	return (double)(mono_ms() - g->start) / 1000.0;
}

int
gate_imds(struct gate *g, const char *why)
{
	if (g->imds_ready)
		return ST_OK;
	if (!g->cfg.imds)
		return status_set(&g->st, ST_CONFIG, "%s needs instance "
		    "metadata, but [gate] imds = no", why);
	if (imds_init(&g->imds, &g->st) != ST_OK)
		return g->st.code;
	g->imds_ready = 1;
	return ST_OK;
}

int
gate_instance_id(struct gate *g)
{
	int rc;

	if (g->instance_id[0] != '\0')
		return ST_OK;
	if ((rc = gate_imds(g, "the instance id")) != ST_OK)
		return rc;
	if ((rc = imds_instance_id(&g->imds, g->deadline, g->instance_id,
	    sizeof(g->instance_id), &g->st)) != ST_OK)
		return rc;
	out_info("instance %s", g->instance_id);
	return ST_OK;
}

/* Re-reads the lifecycle state during a wait; 1 when leaving. */
static int
gate_recheck(struct gate *g)
{
	struct status st;
	char state[sizeof(g->lifecycle)];
	int64_t until;

	g->lifecycle_next = mono_ms() + GATE_LIFECYCLE_EVERY_MS;
	until = mono_ms() + GATE_LIFECYCLE_BUDGET_MS;
	if (until > g->deadline)
		until = g->deadline;
	if (lifecycle_read(&g->imds, until, state, sizeof(state), &st) !=
	    ST_OK)
		return 0;	/* the checks themselves fail closed */
	if (strcmp(state, g->lifecycle) != 0) {
		out_info("lifecycle: target state now %s",
		    state[0] ? state : "(not in a group)");
		text_copy(g->lifecycle, state, sizeof(g->lifecycle));
	}
	return lifecycle_leaving(state);
}

int
gate_wait(struct gate *g, struct watch *w, int64_t ms)
{
	int64_t until = mono_ms() + ms, now, slice;
	int track = (g->checks & CHK_LIFECYCLE) && g->imds_ready &&
	    g->lifecycle[0] != '\0';

	if (until > g->deadline)
		until = g->deadline;
	while ((now = mono_ms()) < until) {
		if (track && now >= g->lifecycle_next) {
			if (gate_recheck(g))
				return GATE_LEAVING;
			continue;
		}
		slice = until - now;
		if (track && g->lifecycle_next - now < slice)
			slice = g->lifecycle_next - now;
		if (w == NULL)
			mono_sleep(slice);
		else if (watch_wait(w, slice) != 0)
			return ST_OK;
	}
	return ST_OK;
}

int
gate_run(struct gate *g)
{
	static const struct {
		unsigned bit;
		int (*fn)(struct gate *);
	} order[] = {
		{ CHK_LIFECYCLE, lifecycle_check },
		{ CHK_MARKER, provision_check },
		{ CHK_TAGS, tags_check },
		{ CHK_HEALTH, health_check },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(g->checks & order[i].bit))
			continue;
		status_clear(&g->st);
		if ((rc = order[i].fn(g)) != ST_OK)
			return rc;
	}
	return ST_OK;
}

int
gate_init(struct gate *g, const char *label, const char *self)
{
	memset(g, 0, sizeof(*g));
	g->ev = -1;
	g->label = label;
	g->self = self;
	g->start = mono_ms();
	return ST_OK;
}

/* LIFECYCLE_EVENT, when set, must name this program's event. */
static int
gate_event_env(struct gate *g)
{
	const char *env = getenv("LIFECYCLE_EVENT");

	if (env == NULL || env[0] == '\0')
		return ST_OK;
	if (strcmp(env, event_name(g->ev)) == 0)
		return ST_OK;
	return status_set(&g->st, ST_USAGE, "LIFECYCLE_EVENT is '%.64s' but "
	    "this program checks %s; in appspec.yml list %s under %s",
	    env, event_name(g->ev), event_program(g->ev), event_name(g->ev));
}

static void
gate_plan(struct gate *g)
{
	char list[128];

	check_list(g->checks, list, sizeof(list));
	out_info("cdgate %s, config %s%s%s", PROC_VERSION,
	    g->cfg.path[0] ? "'" : "", g->cfg.path[0] ? g->cfg.path :
	    "built-in defaults (no cdgate.ini found)",
	    g->cfg.path[0] ? "'" : "");
	out_info("checks: %s; deadline %lds", list, g->timeout);
	if (g->check_mode && (g->checks & CHK_MARKER))
		out_info("marker: '%s'%s", g->cfg.marker_path,
		    g->cfg.cloud_init ? ", and cloud-init's result" : "");
}

static int
gate_verdict(struct gate *g, int rc)
{
	int onterm = config_on_terminating(&g->cfg, (enum event)g->ev);

	if (rc == GATE_LEAVING && onterm == ON_TERM_SKIP) {
		out_verdict(0, 1, "instance is leaving (target lifecycle state "
		    "%s): not waiting; on_terminating = skip", g->lifecycle);
		return ST_OK;
	}
	if (rc == GATE_LEAVING) {
		out_verdict(ST_FAIL, 0, "instance is leaving (target lifecycle "
		    "state %s); on_terminating = fail", g->lifecycle);
		return ST_FAIL;
	}
	if (rc != ST_OK) {
		out_verdict(rc, 0, "%s", g->st.msg);
		return rc;
	}
	out_verdict(0, 0, "%s (%.1fs)", g->summary[0] ? g->summary :
	    "nothing to check", gate_elapsed(g));
	return ST_OK;
}

int
gate_main(int argc, char **argv, enum event ev)
{
	struct gate g;
	const char *cfgpath = NULL;
	int c, rc;

	proc_start(event_name(ev));
	gate_init(&g, event_name(ev), argc > 0 ? argv[0] : NULL);
	g.ev = ev;
	while ((c = getopt(argc, argv, "c:hnV")) != -1) {
		switch (c) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'n':
			g.check_mode = 1;
			break;
		case 'h':
			printf(gate_usage, event_program(ev), event_name(ev));
			return ST_OK;
		case 'V':
			printf("cdgate %s %s\n", event_program(ev),
			    PROC_VERSION);
			return ST_OK;
		default:
			out_verdict(ST_USAGE, 0, "bad option; see %s -h",
			    event_program(ev));
			return ST_USAGE;
		}
	}
	if (optind != argc) {
		out_verdict(ST_USAGE, 0, "unexpected argument '%s'; see %s -h",
		    argv[optind], event_program(ev));
		return ST_USAGE;
	}
	if ((rc = gate_event_env(&g)) != ST_OK)
		return gate_verdict(&g, rc);
	if (cfgpath != NULL) {
		config_defaults(&g.cfg);
		rc = config_load_file(&g.cfg, cfgpath, &g.st);
	} else
		rc = config_load(&g.cfg, g.self, &g.st);
	if (rc != ST_OK)
		return gate_verdict(&g, rc);
	g.checks = config_checks(&g.cfg, ev);
	g.timeout = config_timeout(&g.cfg, ev);
	g.deadline = g.start + g.timeout * 1000;
	gate_plan(&g);
	if (g.check_mode) {
		out_verdict(0, 0, "configuration is valid (check mode: nothing "
		    "verified)");
		return ST_OK;
	}
	rc = gate_verdict(&g, gate_run(&g));
	if (g.imds_ready)
		imds_free(&g.imds);
	return rc;
}
