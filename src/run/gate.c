#include "run/gate.h"

#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/mono.h"
#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"
#include "fmt/appspec.h"
#include "run/registry.h"
#include "run/tool.h"

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

/* Before the first wait of the checks: a SIGTERM from now on gets a
 * history line with what is known by now. */
static void
gate_before_wait(struct check_ctx *cx)
{
	struct gate *g = (struct gate *)(void *)((char *)cx -
	    offsetof(struct gate, cx));

	pthread_mutex_lock(&gate_end_lock);
	history_facts(&g->hist, cx->instance_id, cx->lifecycle, NULL, NULL);
	history_arm(&g->hist, GATE_TERM_REASON);
	pthread_mutex_unlock(&gate_end_lock);
}

/*
 * The watch: a thread that calls the watch of every check that asked for
 * it (check.h) every CHECK_WATCH_EVERY_MS, whatever the checks are doing
 * (an inotify wait, an EC2 request being retried, a slow health
 * endpoint), and ends the run itself when one says CHECK_LEAVING:
 * verdict, history line, _exit.  It has its own context and IMDS client
 * (sharing the token); it touches *g only under gate_end_lock and only
 * while the run has not ended, and it holds stdout's lock from its verdict
 * to _exit, so its verdict is the last line.  When the main thread ends
 * the run it wakes the watch and joins it, so nothing runs in the watch
 * while the process exits.
 */
struct gate_watch {
	struct gate *g;
	struct check_ctx wcx;
	unsigned bits;			/* the checks watched (atomic) */
	unsigned failing;		/* those whose last re-read failed */
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

/*
 * One check's watch; 0 to go on, 1 when it failed to read (retry soon).  A
 * failed re-read ends nothing (the check passed its own read, and a
 * metadata hiccup must not fail a deployment), but it is said, once until
 * a re-read works again: the operator sees the watch is blind meanwhile.
 */
static int
gate_watch_one(struct gate_watch *wt, size_t i)
{
	const struct check_def *d = registry_at(i);
	struct check_ctx *wcx = &wt->wcx;
	struct gate *g = wt->g;
	int64_t until = mono_ms() + CHECK_WATCH_BUDGET_MS;
	int code, rc;

	wcx->deadline = until < wt->deadline ? until : wt->deadline;
	wcx->said[0] = '\0';
	status_clear(&wcx->st);
	rc = d->watch(wcx, config_conf(&g->cfg, d));
	pthread_mutex_lock(&gate_end_lock);
	if (gate_ended) {
		pthread_mutex_unlock(&gate_end_lock);
		return 0;
	}
	if (wcx->said[0] != '\0')
		out_info("%s", wcx->said);
	if (rc != ST_OK && rc != CHECK_LEAVING && !(wt->failing & 1u << i))
		out_info("watch: %s: %s; reading it again every %.1fs", d->name,
		    wcx->st.msg, CHECK_WATCH_RETRY_MS / 1000.0);
	else if (rc == ST_OK && (wt->failing & 1u << i))
		out_info("watch: %s: read again", d->name);
	if (rc == ST_OK)
		wt->failing &= ~(1u << i);
	else
		wt->failing |= 1u << i;
	/* the one fact a watch may change: the history line's state */
	text_copy(g->cx.lifecycle, wcx->lifecycle, sizeof(g->cx.lifecycle));
	if (rc == CHECK_LEAVING) {
		gate_ended = 1;
		text_copy(g->cx.leave_msg, wcx->leave_msg,
		    sizeof(g->cx.leave_msg));
		g->cx.leave_skip = wcx->leave_skip;
		flockfile(stdout);
		code = gate_end(g, CHECK_LEAVING, 0);
		fflush(stdout);
		_exit(code);
	}
	pthread_mutex_unlock(&gate_end_lock);
	return rc != ST_OK;
}

static void *
gate_watch_run(void *arg)
{
	struct gate_watch *wt = arg;
	int64_t every = CHECK_WATCH_EVERY_MS;
	unsigned bits;
	size_t i;
	int ended, failed;

	for (;;) {
		pthread_mutex_lock(&gate_end_lock);
		ended = gate_watch_sleep(every);
		pthread_mutex_unlock(&gate_end_lock);
		if (ended || mono_left(wt->deadline) == 0)
			return NULL;	/* the run ends on its own now */
		bits = __atomic_load_n(&wt->bits, __ATOMIC_ACQUIRE);
		failed = 0;
		for (i = 0; i < registry_count(); i++)
			if (bits & (1u << i))
				failed |= gate_watch_one(wt, i);
		every = failed ? CHECK_WATCH_RETRY_MS : CHECK_WATCH_EVERY_MS;
	}
}

/* Starts the watch, or adds checks to it; without it the waits still end
 * by the deadline, so a failure to start only prints a line. */
static void
gate_watch_start(struct gate *g, unsigned bits)
{
	struct gate_watch *wt;
	struct status st;
	pthread_condattr_t ca;
	sigset_t all, old;

	if (gate_watcher != NULL) {
		__atomic_or_fetch(&gate_watcher->bits, bits, __ATOMIC_RELEASE);
		return;
	}
	if ((wt = calloc(1, sizeof(*wt))) == NULL) {
		out_info("watch: not watching during the waits: no memory");
		return;
	}
	if (imds_init(&wt->wcx.imds, &st) != ST_OK) {
		free(wt);
		out_info("watch: not watching during the waits: %s", st.msg);
		return;
	}
	wt->wcx.imds_ready = 1;
	wt->g = g;
	wt->bits = bits;
	wt->deadline = g->cx.deadline;
	wt->wcx.ev = g->ev;
	wt->wcx.imds_on = g->cx.imds_on;
	wt->wcx.timeout = g->cx.timeout;
	wt->wcx.start = g->cx.start;
	text_copy(wt->wcx.instance_id, g->cx.instance_id,
	    sizeof(wt->wcx.instance_id));
	text_copy(wt->wcx.lifecycle, g->cx.lifecycle,
	    sizeof(wt->wcx.lifecycle));
	if (g->cx.imds_ready && g->cx.imds.have_token) {
		text_copy(wt->wcx.imds.token, g->cx.imds.token,
		    sizeof(wt->wcx.imds.token));
		wt->wcx.imds.have_token = 1;
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
		imds_free(&wt->wcx.imds);
		free(wt);
		out_info("watch: not watching during the waits: no thread");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
gate_run(struct gate *g)
{
	struct check_ctx *cx = &g->cx;
	const struct check_def *d;
	size_t i, n = registry_count();
	unsigned later;
	int rc;

	for (i = 0; i < n; i++) {
		if (!(g->checks & (1u << i)))
			continue;
		d = registry_at(i);
		status_clear(&cx->st);
		cx->self = 1u << i;
		if ((rc = d->run(cx, config_conf(&g->cfg, d))) != ST_OK)
			return rc;
		/* more to check: watch what asked for it meanwhile */
		later = g->checks & ~((2u << i) - 1);
		if (later != 0 && cx->watch_wanted != 0)
			gate_watch_start(g, cx->watch_wanted);
	}
	return ST_OK;
}

void
gate_init(struct gate *g, const char *label)
{
	memset(g, 0, sizeof(*g));
	g->ev = -1;
	g->label = label;
	g->cx.ev = -1;
	g->cx.start = mono_ms();
	g->cx.before_wait = gate_before_wait;
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
	return status_set(&g->cx.st, ST_USAGE, "LIFECYCLE_EVENT is '%.64s' but "
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
	struct appspec_result *r;
	long configured = g->cx.timeout, in_force;
	int from_appspec, rc = ST_OK;

	/* on the heap: over 12 KiB (Makefile, FRAME_WARN) */
	if ((r = malloc(sizeof(*r))) == NULL)
		return status_set(&g->cx.st, ST_OSERR, "appspec: out of "
		    "memory");
	if (appspec_find(event_name(g->ev), r, &g->cx.st) != ST_OK ||
	    appspec_deadline(configured, r, &in_force, &from_appspec,
	    &g->cx.st) != ST_OK)
		rc = g->cx.st.code;
	else {
		g->cx.timeout = in_force;
		g->appspec_timeout = from_appspec ? r->timeout : 0;
		appspec_describe(r, event_name(g->ev), configured, in_force,
		    g->deadline_text, sizeof(g->deadline_text));
	}
	free(r);
	return rc;
}

static void
gate_plan(struct gate *g)
{
	char list[128];
	size_t i;

	registry_list(g->checks, list, sizeof(list));
	tool_plan("cdgate", &g->cfg);
	if (g->appspec_timeout > 0)
		out_info("checks: %s; deadline %lds (appspec timeout %lds)",
		    list, g->cx.timeout, g->appspec_timeout);
	else
		out_info("checks: %s; deadline %lds", list, g->cx.timeout);
	if (g->check_mode)
		out_info("deadline: %s", g->deadline_text);
	for (i = 0; g->check_mode && i < registry_count(); i++) {
		const struct check_def *d = registry_at(i);

		if ((g->checks & (1u << i)) && d->plan != NULL)
			d->plan(config_conf(&g->cfg, d));
	}
}

void
gate_history(struct gate *g)
{
	history_begin(&g->hist, g->cfg.history, g->cfg.history_max,
	    g->ev >= 0 ? event_program((enum event)g->ev) : g->label,
	    g->ev >= 0 ? event_name((enum event)g->ev) : NULL);
	g->hist.deadline = g->cx.deadline;	/* the lock is not waited past it */
	history_arm(&g->hist, GATE_TERM_REASON);
}

/* The verdict's text for rc; *skip set for a skip.  Returns the code. */
static int
gate_outcome(struct gate *g, int rc, int *skip, char *msg, size_t len)
{
	*skip = 0;
	if (rc == CHECK_LEAVING) {
		text_copy(msg, g->cx.leave_msg, len);
		*skip = g->cx.leave_skip;
		return *skip ? ST_OK : ST_FAIL;
	}
	if (rc != ST_OK) {
		text_copy(msg, g->cx.st.msg, len);
		return rc;
	}
	if (snprintf(msg, len, "%s (%.1fs)", g->cx.summary[0] ?
	    g->cx.summary : "nothing to check", check_elapsed(&g->cx)) < 0)
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
	int code, skip;

	code = gate_outcome(g, rc, &skip, msg, sizeof(msg));
	if (g->hist.on)
		history_facts(&g->hist, facts ? g->cx.instance_id : NULL,
		    g->cx.lifecycle, facts && g->cx.have_marker ?
		    g->cx.marker.digest : NULL, facts && g->cx.have_marker ?
		    g->cx.marker.finished_at : NULL);
	return tool_verdict(&g->hist, code, skip, msg);
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
		/* at most one IMDS read (CHECK_WATCH_BUDGET_MS) away */
		pthread_join(gate_watcher->tid, NULL);
		imds_free(&gate_watcher->wcx.imds);
		free(gate_watcher);
		gate_watcher = NULL;
	}
	return code;
}

int
gate_finish(struct gate *g)
{
	int rc;

	g->cx.imds_on = g->cfg.imds;
	gate_history(g);
	rc = gate_verdict(g, gate_run(g));
	if (g->cx.imds_ready)
		imds_free(&g->cx.imds);
	return rc;
}

int
gate_main(int argc, char **argv, enum event ev)
{
	static struct gate one;		/* a whole configuration: not on the stack */
	static char usage[sizeof(gate_usage) + 64], version[64];
	struct gate *g = &one;
	struct tool tool;
	int rc;

	proc_start(event_name(ev));
	gate_init(g, event_name(ev));
	g->ev = g->cx.ev = ev;
	snprintf(usage, sizeof(usage), gate_usage, event_program(ev),
	    event_name(ev));
	snprintf(version, sizeof(version), "cdgate %s", event_program(ev));
	memset(&tool, 0, sizeof(tool));
	tool.name = event_program(ev);
	tool.version = version;
	tool.usage = usage;
	if ((rc = tool_options(&tool, argc, argv, &g->cx.st)) == TOOL_EXIT)
		return ST_OK;
	if (rc != ST_OK)
		return tool_verdict(NULL, rc, 0, g->cx.st.msg);
	g->check_mode = tool.check_mode;
	rc = tool_config(&tool, &g->cfg, &g->cx.st);
	if (rc != ST_OK)
		return gate_verdict(g, rc);	/* no history: its path is unknown */
	if ((rc = gate_event_env(g)) != ST_OK) {
		if (!g->check_mode)
			gate_history(g);	/* a wrong appspec is a failed run */
		return gate_verdict(g, rc);
	}
	g->checks = config_checks(&g->cfg, ev);
	g->cx.timeout = config_timeout(&g->cfg, ev);
	if ((rc = gate_appspec(g)) != ST_OK) {
		if (!g->check_mode)
			gate_history(g);	/* it would fail every run */
		return gate_verdict(g, rc);
	}
	/* the appspec's timeout runs from the agent's spawn, not from here */
	g->cx.deadline = (g->appspec_timeout > 0 ? appspec_spawned_ms() :
	    g->cx.start) + g->cx.timeout * 1000;
	gate_plan(g);
	if (g->check_mode) {
		out_verdict(0, 0, "configuration is valid (check mode: nothing "
		    "verified)");
		return ST_OK;
	}
	return gate_finish(g);
}
