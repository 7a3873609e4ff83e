/*
 * gate.h: one run of a hook program: options, configuration, the checks in
 * order under one deadline, the verdict, the exit code.
 *
 * Rules:
 * - every check runs under the one deadline of the run and ends by it with
 *   its own message;
 * - every wait goes through gate_wait (deadline, SIGTERM history line);
 * - once the lifecycle check has found the instance in a group, a watch
 *   thread re-reads the target lifecycle state every
 *   GATE_LIFECYCLE_EVERY_MS while the other checks run, whatever they are
 *   blocked in, and ends the run itself (verdict, history, exit) when the
 *   policy (lifecycle.h) says skip or fail: within 3 s of the change;
 * - checks print progress lines; only gate_verdict prints the verdict,
 *   last, once (a lock shared with the watch thread).
 */
#ifndef CDGATE_GATE_H
#define CDGATE_GATE_H

#include <stdint.h>

#include "run/config.h"
#include "base/event.h"
#include "fmt/history.h"
#include "aws/imds.h"
#include "fmt/markerfile.h"
#include "base/status.h"
#include "base/watch.h"

/*
 * The watch re-reads the state this often; with GATE_LIFECYCLE_BUDGET_MS
 * for one read, a flip to Terminated ends the run within 1.5 + 0.8 s (the
 * promise is 3 s).  A read that failed (a slow or refused IMDS) is tried
 * again after GATE_LIFECYCLE_RETRY_MS, not a whole interval later, so one
 * lost read costs at most 0.8 + 0.3 s more.
 */
#define GATE_LIFECYCLE_EVERY_MS 1500
#define GATE_LIFECYCLE_BUDGET_MS 800	/* time one re-read may take */
#define GATE_LIFECYCLE_RETRY_MS 300	/* after a failed re-read */
#define GATE_HEARTBEAT_MS 60000		/* "still waiting" lines */
/* check result: the lifecycle policy ends the run (skip or fail); only
 * lifecycle_check returns it now, the watch thread ends waits itself */
#define GATE_LEAVING 200

struct gate {
	int ev;				/* enum event, or -1 (cdgate-wait) */
	const char *label;
	const char *self;		/* argv[0] */
	struct config cfg;
	unsigned checks;
	long timeout;			/* seconds: the deadline in force */
	long appspec_timeout;		/* when it is in force, seconds */
	char deadline_text[CAP_MSG];	/* for -n: how it was chosen */
	int64_t start, deadline;	/* mono_ms */
	int check_mode;			/* -n */
	struct imds imds;
	int imds_ready;
	char instance_id[CAP_INSTANCE_ID];
	char lifecycle[64];		/* last target lifecycle state read */
	struct markerfile marker;		/* the marker that passed */
	int have_marker;
	char summary[CAP_MSG];		/* what passed, for the verdict */
	struct history hist;		/* this run's history line */
	int hist_waiting;		/* the SIGTERM line has the facts */
	struct status st;
};

/* The whole run of a hook program; returns the exit code. */
int gate_main(int argc, char **argv, enum event ev);
/* Initialises g for a program that runs checks without an event. */
int gate_init(struct gate *g, const char *label, const char *self);
/*
 * Starts this run's history line from g->cfg (after the configuration is
 * loaded, before the checks) and arms its SIGTERM line.
 */
void gate_history(struct gate *g);
/*
 * The end of a run: records the history line, then prints the verdict for
 * rc (ST_OK, GATE_LEAVING or a failure in g->st); returns the exit code.
 */
int gate_verdict(struct gate *g, int rc);
/* Runs g->checks in order; returns ST_OK, GATE_LEAVING or a failure. */
int gate_run(struct gate *g);
/*
 * After the plan, for every program that runs checks: starts the history
 * line, runs the checks, prints the verdict, frees; returns the exit code.
 */
int gate_finish(struct gate *g);
/* Lazily opens the IMDS client; ST_OK or a failure (imds = no refused). */
int gate_imds(struct gate *g, const char *why);
/* This instance's id from IMDS (cached). */
int gate_instance_id(struct gate *g);
/*
 * Waits up to ms (cut at the deadline) or until w (may be NULL) sees a
 * change.  ST_OK, or ST_OSERR in g->st when the inotify wait itself fails
 * (callers propagate any result but ST_OK).
 */
int gate_wait(struct gate *g, struct watch *w, int64_t ms);
/* Appends "; text" to the verdict summary. */
void gate_note(struct gate *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Seconds elapsed since the start, for messages. */
double gate_elapsed(const struct gate *g);

#endif
