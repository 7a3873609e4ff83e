#include "run/gate.h"

#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmt/appspec.h"
#include "checks/drain.h"
#include "checks/health.h"
#include "checks/lifecycle.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/proc.h"
#include "checks/marker.h"
#include "checks/tags.h"
#include "base/text.h"

/*
 * Serialises the end of a run between the main and the watch thread; the
 * condition wakes the watch when the run ends (one run per process).
 */
static pthread_mutex_t gate_end_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_end_cond;
static int gate_ended;		/* under gate_end_lock */
static struct gate_watch *gate_watcher;	/* main thread only */

static int gate_end(struct gate *g, int rc, int facts);

#define GATE_TERM_REASON "terminated by SIGTERM: the agent's timeout for " \
    "this script ran out first"

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

int
gate_wait(struct gate *g, struct watch *w, int64_t ms)
{
	int64_t until = mono_ms() + ms, now;
	int r;

	if (until > g->deadline)
		until = g->deadline;
	if (!g->hist_waiting) {
		/* a SIGTERM now gets a line with what is known by now */
		g->hist_waiting = 1;
		pthread_mutex_lock(&gate_end_lock);
		history_facts(&g->hist, g->instance_id, g->lifecycle, NULL,
		    NULL);
		history_arm(&g->hist, GATE_TERM_REASON);
		pthread_mutex_unlock(&gate_end_lock);
	}
	while ((now = mono_ms()) < until) {
		if (w == NULL)
			mono_sleep(until - now);
		else if ((r = watch_wait(w, until - now)) > 0)
			return ST_OK;
		else if (r < 0)	/* not a change: the wait cannot go on */
			return status_set(&g->st, ST_OSERR, "waiting on inotify "
			    "for '%s': %s", w->path, strerror(errno));
	}
	return ST_OK;
}

/*
 * The lifecycle watch: a thread that re-reads the target lifecycle state
 * every GATE_LIFECYCLE_EVERY_MS, whatever the checks are doing (an inotify
 * wait, an EC2 request being retried, a slow health endpoint), and ends
 * the run itself when the policy says so: verdict, history line, _exit.
 * It has its own IMDS client (sharing the token); it touches *g only under
 * gate_end_lock and only while the run has not ended, and it holds stdout's
 * lock from its verdict to _exit, so its verdict is the last line.  When
 * the main thread ends the run it wakes the watch and joins it, so nothing
 * runs in the watch while the process exits.
 */
struct gate_watch {
	struct gate *g;
	struct imds imds;
	int64_t deadline;
	pthread_t tid;
};

/* Sleeps ms unless the run ends; 1 when it ended.  Under gate_end_lock. */
static int
gate_watch_sleep(int64_t ms)
{
	struct timespec ts;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
	ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	while (!gate_ended)
		if (pthread_cond_timedwait(&gate_end_cond, &gate_end_lock,
		    &ts) == ETIMEDOUT)
			break;
	return gate_ended;
}

static void *
gate_watch_run(void *arg)
{
	struct gate_watch *wt = arg;
	struct gate *g = wt->g;
	char state[sizeof(g->lifecycle)];
	struct status st;
	int64_t until, every = GATE_LIFECYCLE_EVERY_MS;
	int code, ended;

	for (;;) {
		pthread_mutex_lock(&gate_end_lock);
		ended = gate_watch_sleep(every);
		pthread_mutex_unlock(&gate_end_lock);
		if (ended || mono_left(wt->deadline) == 0)
			return NULL;	/* the run ends on its own now */
		until = mono_ms() + GATE_LIFECYCLE_BUDGET_MS;
		if (until > wt->deadline)
			until = wt->deadline;
		every = GATE_LIFECYCLE_RETRY_MS;
		if (lifecycle_read(&wt->imds, until, state, sizeof(state),
		    &st) != ST_OK)
			continue;	/* the checks themselves fail closed */
		every = GATE_LIFECYCLE_EVERY_MS;
		pthread_mutex_lock(&gate_end_lock);
		if (gate_ended) {
			pthread_mutex_unlock(&gate_end_lock);
			return NULL;
		}
		if (strcmp(state, g->lifecycle) != 0) {
			out_info("lifecycle: target state now %s",
			    state[0] ? state : "(not in a group)");
			text_copy(g->lifecycle, state, sizeof(g->lifecycle));
		}
		if (lifecycle_action(&g->cfg, g->ev, state, NULL) !=
		    ON_STATE_CHECK) {
			gate_ended = 1;
			flockfile(stdout);
			code = gate_end(g, GATE_LEAVING, 0);
			fflush(stdout);
			_exit(code);
		}
		pthread_mutex_unlock(&gate_end_lock);
	}
}

/* Starts the lifecycle watch; without it the waits still end by the
 * deadline, so a failure to start only prints a line. */
static void
gate_watch_start(struct gate *g)
{
	struct gate_watch *wt;
	struct status st;
	pthread_condattr_t ca;
	sigset_t all, old;

	if ((wt = calloc(1, sizeof(*wt))) == NULL) {
		out_info("lifecycle: not watched during the waits: no memory");
		return;
	}
	if (imds_init(&wt->imds, &st) != ST_OK) {
		free(wt);
		out_info("lifecycle: not watched during the waits: %s", st.msg);
		return;
	}
	wt->g = g;
	wt->deadline = g->deadline;
	if (g->imds.have_token) {
		text_copy(wt->imds.token, g->imds.token, sizeof(wt->imds.token));
		wt->imds.have_token = 1;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&gate_end_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* signals (SIGTERM) stay with the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&wt->tid, NULL, gate_watch_run, wt) == 0)
		gate_watcher = wt;
	else {
		imds_free(&wt->imds);
		free(wt);
		out_info("lifecycle: not watched during the waits: no thread");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
gate_run(struct gate *g)
{
	static const struct {
		unsigned bit;
		int (*fn)(struct gate *);
	} order[] = {
		{ CHK_LIFECYCLE, lifecycle_check },
		{ CHK_MARKER, marker_check },
		{ CHK_TAGS, tags_check },
		{ CHK_HEALTH, health_check },
		{ CHK_DRAIN, drain_check },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(g->checks & order[i].bit))
			continue;
		status_clear(&g->st);
		if ((rc = order[i].fn(g)) != ST_OK)
			return rc;
		/* in a group and more to check: watch the state meanwhile */
		if (order[i].bit == CHK_LIFECYCLE && g->lifecycle[0] != '\0' &&
		    (g->checks & ~CHK_LIFECYCLE) != 0)
			gate_watch_start(g);
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

/*
 * The deadline in force: the configured one, or the appspec timeout of
 * this program's entry less APPSPEC_MARGIN when that is smaller, so that
 * the verdict is printed before the agent's SIGTERM (appspec.h).
 */
static int
gate_appspec(struct gate *g)
{
	struct appspec_result r;
	long configured = g->timeout, in_force;
	int from_appspec;

	if (appspec_find(event_name(g->ev), &r, &g->st) != ST_OK ||
	    appspec_deadline(configured, &r, &in_force, &from_appspec,
	    &g->st) != ST_OK)
		return g->st.code;
	g->timeout = in_force;
	g->appspec_timeout = from_appspec ? r.timeout : 0;
	appspec_describe(&r, event_name(g->ev), configured, in_force,
	    g->deadline_text, sizeof(g->deadline_text));
	return ST_OK;
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
	if (g->appspec_timeout > 0)
		out_info("checks: %s; deadline %lds (appspec timeout %lds)",
		    list, g->timeout, g->appspec_timeout);
	else
		out_info("checks: %s; deadline %lds", list, g->timeout);
	if (g->check_mode)
		out_info("deadline: %s", g->deadline_text);
	if (g->check_mode && (g->checks & CHK_MARKER))
		out_info("marker: '%s'%s", g->cfg.marker_path,
		    g->cfg.cloud_init ? ", and cloud-init's result" : "");
}

void
gate_history(struct gate *g)
{
	history_begin(&g->hist, g->cfg.history, g->cfg.history_max,
	    g->ev >= 0 ? event_program((enum event)g->ev) : g->label,
	    g->ev >= 0 ? event_name((enum event)g->ev) : NULL);
	g->hist.deadline = g->deadline;	/* the lock is not waited past it */
	history_arm(&g->hist, GATE_TERM_REASON);
}

/* The verdict's text for rc; *skip set for a skip.  Returns the code. */
static int
gate_outcome(struct gate *g, int rc, int *skip, char *msg, size_t len)
{
	const char *key = NULL, *what;
	int action;

	*skip = 0;
	if (rc == GATE_LEAVING) {
		action = lifecycle_action(&g->cfg, g->ev, g->lifecycle, &key);
		what = lifecycle_leaving(g->lifecycle) ? "instance is leaving" :
		    "instance is not in service";
		*skip = action != ON_STATE_FAIL;
		/* a cut message is still a message: truncation is fine */
		if (snprintf(msg, len, "%s (target lifecycle state %s): %s; "
		    "%s = %s", what, g->lifecycle, *skip ? "not checking" :
		    "failing", key ? key : "policy", *skip ? "skip" : "fail")
		    < 0)
			text_copy(msg, what, len);
		return *skip ? ST_OK : ST_FAIL;
	}
	if (rc != ST_OK) {
		text_copy(msg, g->st.msg, len);
		return rc;
	}
	if (snprintf(msg, len, "%s (%.1fs)", g->summary[0] ? g->summary :
	    "nothing to check", gate_elapsed(g)) < 0)
		text_copy(msg, "passed", len);
	return ST_OK;
}

/*
 * Records the history line and prints the verdict; under gate_end_lock.
 * facts: take the instance id and the marker from g (the main thread;
 * the watch thread must not read what the main thread is writing).
 */
static int
gate_end(struct gate *g, int rc, int facts)
{
	char msg[CAP_MSG];
	struct status hst;
	int code, skip;

	code = gate_outcome(g, rc, &skip, msg, sizeof(msg));
	if (g->hist.on) {
		history_facts(&g->hist, facts ? g->instance_id : NULL,
		    g->lifecycle, facts && g->have_marker ? g->marker.digest :
		    NULL, facts && g->have_marker ? g->marker.finished_at :
		    NULL);
		/* documented: history never changes a verdict or exit code */
		if (history_record(&g->hist, code, skip, msg,
		    proc_elapsed_ms(), &hst) != ST_OK)
			out_info("history not recorded: %s", hst.msg);
		else if (hst.msg[0] != '\0')	/* the lock was not had */
			out_info("%s", hst.msg);
	}
	out_verdict(code, skip, "%s", msg);
	return code;
}

int
gate_verdict(struct gate *g, int rc)
{
	int code;

	pthread_mutex_lock(&gate_end_lock);
	gate_ended = 1;		/* the watch thread stays quiet from now */
	code = gate_end(g, rc, 1);
	if (gate_watcher != NULL)
		pthread_cond_broadcast(&gate_end_cond);
	pthread_mutex_unlock(&gate_end_lock);
	if (gate_watcher != NULL) {
		/* at most one IMDS read (GATE_LIFECYCLE_BUDGET_MS) away */
		pthread_join(gate_watcher->tid, NULL);
		imds_free(&gate_watcher->imds);
		free(gate_watcher);
		gate_watcher = NULL;
	}
	return code;
}

int
gate_finish(struct gate *g)
{
	int rc;

	gate_history(g);
	rc = gate_verdict(g, gate_run(g));
	if (g->imds_ready)
		imds_free(&g->imds);
	return rc;
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
	rc = config_load_for(&g.cfg, cfgpath, &g.st);
	if (rc != ST_OK)
		return gate_verdict(&g, rc);	/* no history: its path is unknown */
	if ((rc = gate_event_env(&g)) != ST_OK) {
		if (!g.check_mode)
			gate_history(&g);	/* a wrong appspec is a failed run */
		return gate_verdict(&g, rc);
	}
	g.checks = config_checks(&g.cfg, ev);
	g.timeout = config_timeout(&g.cfg, ev);
	if ((rc = gate_appspec(&g)) != ST_OK) {
		if (!g.check_mode)
			gate_history(&g);	/* it would fail every run */
		return gate_verdict(&g, rc);
	}
	/* the appspec's timeout runs from the agent's spawn, not from here */
	g.deadline = (g.appspec_timeout > 0 ? appspec_spawned_ms() : g.start) +
	    g.timeout * 1000;
	gate_plan(&g);
	if (g.check_mode) {
		out_verdict(0, 0, "configuration is valid (check mode: nothing "
		    "verified)");
		return ST_OK;
	}
	return gate_finish(&g);
}
