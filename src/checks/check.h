/*
 * check.h: what a check is.  Every check is one file pair in src/checks/
 * and one row of the registry (run/registry.c); docs/dev/checks.md says
 * how to add one.
 *
 * A check (struct check_def):
 * - owns its configuration: its own section of cdgate.ini ([marker],
 *   [health], ...) and/or keys in [gate] and the event sections
 *   (on_terminating, ...); it gives their defaults, parses each value and
 *   validates the whole after the file, in its own conf struct, which the
 *   configuration stores for it (run/config.h) and never looks into;
 * - names the events it runs for by default, and whether only when its
 *   section is there;
 * - runs against a narrow context (struct check_ctx): the deadline, the
 *   instance metadata client, the instance id, the facts gathered so far
 *   and the status; never the whole run;
 * - may add lines to the -n plan (what it will look at);
 * - may be watched: while the later checks wait, the runner calls its
 *   watch every CHECK_WATCH_EVERY_MS from a thread of its own, with a
 *   context of that thread, so that a change (the instance leaving) ends
 *   the run within 3 s, whatever the main thread is blocked in.
 * A check returns ST_OK, CHECK_LEAVING (check_leave: the run ends now as a
 * skip or a failure, with its message) or a failure in cx->st.  It prints
 * progress lines (out_info); only the runner prints the verdict.
 */
#ifndef CDGATE_CHECK_H
#define CDGATE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "aws/imds.h"
#include "base/caps.h"
#include "base/event.h"
#include "base/inifile.h"
#include "base/status.h"
#include "base/watch.h"
#include "fmt/markerfile.h"

/*
 * The watch calls every watched check this often; with CHECK_WATCH_BUDGET_MS
 * for one read, a change ends the run within 1.5 + 0.8 s (the promise is
 * 3 s).  A read that failed (a slow or refused IMDS) is tried again after
 * CHECK_WATCH_RETRY_MS, not a whole interval later.
 */
#define CHECK_WATCH_EVERY_MS 1500
#define CHECK_WATCH_BUDGET_MS 800	/* time one watch read may take */
#define CHECK_WATCH_RETRY_MS 300	/* after a failed read */
#define CHECK_HEARTBEAT_MS 60000	/* "still waiting" lines */
/* a check's result: the run ends now (skip or fail), see check_leave */
#define CHECK_LEAVING 200
/* a key handler's answer for a key that is not the check's */
#define CHECK_KEY_NOT_MINE 1
/* an event's bit in check_def.default_events */
#define CHECK_EVENT(ev) (1u << (ev))
#define CHECK_EVERY_EVENT ((1u << EV_COUNT) - 1)
/* where a key handler's key is: its own section, [gate], or an event
 * section (the event's number, 0 and up) */
#define CHECK_IN_SECTION (-2)
#define CHECK_IN_GATE (-1)

/*
 * What a check's policy setting says about a condition (a lifecycle state,
 * an EC2 notice): check = run the checks anyway, skip = exit 0 at once
 * saying why, fail = fail at once.
 */
enum on_state { ON_STATE_CHECK, ON_STATE_SKIP, ON_STATE_FAIL };

struct check_ctx {
	int ev;				/* enum event, or -1 (a helper) */
	long timeout;			/* seconds: the deadline in force */
	int64_t start, deadline;	/* mono_ms */
	int imds_on;			/* [gate] imds */
	struct imds imds;
	int imds_ready;
	/* facts gathered so far (the history line, later checks) */
	char instance_id[CAP_INSTANCE_ID];
	char lifecycle[64];		/* last target lifecycle state read */
	struct markerfile marker;	/* the marker that passed */
	int have_marker;
	char summary[CAP_MSG];		/* what passed, for the verdict */
	struct status st;
	/* a watch's progress line: the runner prints it (never after the
	 * verdict) */
	char said[CAP_MSG];
	/* set by check_leave */
	char leave_msg[CAP_MSG];
	int leave_skip;
	/* set by a check that wants its watch called from now on (a bit of
	 * the registry order, given in run) */
	unsigned watch_wanted;
	unsigned self;			/* the running check's bit */
	/* the runner's: called before the first wait (its SIGTERM line) */
	void (*before_wait)(struct check_ctx *cx);
	int waited;
};

struct check_def {
	const char *name;	/* in "checks = ..." lists and messages */
	const char *section;	/* its own section, or NULL */
	const char *keys;	/* its section's keys, for messages */
	const char *gate_keys;	/* its keys in [gate], or NULL */
	const char *event_keys;	/* those allowed in event sections too */
	size_t conf_size;	/* its conf struct (run/config.h stores it) */
	void (*defaults)(void *conf);
	/*
	 * One key = value at where (CHECK_IN_SECTION, CHECK_IN_GATE or an
	 * event): 0, CHECK_KEY_NOT_MINE, or inifile_error's result.
	 */
	int (*key)(void *conf, struct inifile *f, int where, const char *k,
	    const char *v);
	/* After the file (configured: its section was there, or an event's
	 * checks list names it); ST_OK or ST_CONFIG naming path.  May be
	 * NULL. */
	int (*validate)(const void *conf, int configured, const char *path,
	    struct status *st);
	/*
	 * The events it runs for when the event's section lists no checks
	 * (CHECK_EVENT bits, CHECK_EVERY_EVENT); with default_if_configured,
	 * only when its own section is there ([health], [drain]).
	 */
	unsigned default_events;
	int default_if_configured;
	int (*run)(struct check_ctx *cx, const void *conf);
	/* May be NULL; as run, from the watch thread's context: ST_OK,
	 * CHECK_LEAVING, or a failed read (tried again soon). */
	int (*watch)(struct check_ctx *wcx, const void *conf);
	/* May be NULL; its own lines of the -n plan (out_info), after the
	 * runner's checks and deadline lines. */
	void (*plan)(const void *conf);
};

/* Opens the IMDS client once; ST_OK or a failure (imds = no refused). */
int check_imds(struct check_ctx *cx, const char *why);
/* This instance's id from IMDS (cached in cx). */
int check_instance_id(struct check_ctx *cx);
/*
 * Waits up to ms (cut at the deadline) or until w (may be NULL) sees a
 * change.  ST_OK, or ST_OSERR in cx->st when the inotify wait itself fails.
 */
int check_wait(struct check_ctx *cx, struct watch *w, int64_t ms);
/* Appends "; text" to the verdict summary. */
void check_note(struct check_ctx *cx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Seconds elapsed since the start, for messages. */
double check_elapsed(const struct check_ctx *cx);
/* Ends the run: skip (exit 0) or fail, with this message; CHECK_LEAVING. */
int check_leave(struct check_ctx *cx, int skip, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * check_leave for a policy setting that says skip or fail (action, an enum
 * on_state): the message is fmt's, then ": not checking; KEY = skip" or
 * ": failing; KEY = fail".
 */
int check_leave_policy(struct check_ctx *cx, int action, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A policy setting in force for event ev: the event section's (per_event,
 * -1 when not set there), else [gate]'s; ev -1 (a helper): [gate]'s. */
int check_policy(int gate, const int *per_event, int ev);
/* Asks for this check's watch to be called during the later waits. */
void check_watch_me(struct check_ctx *cx);
/* Parsers of common value types for key handlers: 0 or inifile_error. */
int check_bool(struct inifile *f, const char *key, const char *v, int *out);
int check_path(struct inifile *f, const char *key, const char *v, char *out,
    size_t len);
/* "check", "skip" or "fail" into an enum on_state. */
int check_on_state(struct inifile *f, const char *key, const char *v,
    int *out);
/* The word of an enum on_state, for messages. */
const char *check_on_state_name(int on);

#endif
