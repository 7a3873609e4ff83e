/*
 * gate.h: one run of a program that runs checks: the configuration, the
 * checks of the registry in order under one deadline, the watch, the
 * verdict, the history line, the exit code.
 *
 * Rules:
 * - every check runs under the one deadline of the run and ends by it with
 *   its own message (checks/check.h);
 * - once a check asks for its watch (check_watch_me) and more checks are
 *   to run, a watch thread calls every such check's watch every
 *   CHECK_WATCH_EVERY_MS while the other checks run, whatever they are
 *   blocked in, and ends the run itself (verdict, history, exit) when one
 *   says CHECK_LEAVING: within 3 s of the change;
 * - checks print progress lines; only gate_verdict prints the verdict,
 *   last, once (a lock shared with the watch thread).
 * A struct gate holds a whole configuration: keep it in static storage.
 */
#ifndef CDGATE_GATE_H
#define CDGATE_GATE_H

#include <stdint.h>

#include "base/event.h"
#include "checks/check.h"
#include "fmt/history.h"
#include "run/config.h"

struct gate {
	int ev;				/* enum event, or -1 (a helper) */
	const char *label;
	struct config cfg;
	unsigned checks;		/* registry bits */
	long appspec_timeout;		/* when it is in force, seconds */
	char deadline_text[CAP_MSG];	/* for -n: how it was chosen */
	int check_mode;			/* -n */
	struct check_ctx cx;		/* what the checks see */
	struct history hist;		/* this run's history line */
};

/* The whole run of a hook program; returns the exit code. */
int gate_main(int argc, char **argv, enum event ev);
/* Initialises g for a program that runs checks without an event. */
void gate_init(struct gate *g, const char *label);
/*
 * Starts this run's history line from g->cfg (after the configuration is
 * loaded, before the checks) and arms its SIGTERM line.
 */
void gate_history(struct gate *g);
/*
 * The end of a run: records the history line, then prints the verdict for
 * rc (ST_OK, CHECK_LEAVING or a failure in g->cx.st); returns the exit code.
 */
int gate_verdict(struct gate *g, int rc);
/* Runs g->checks in order; returns ST_OK, CHECK_LEAVING or a failure. */
int gate_run(struct gate *g);
/*
 * After the plan, for every program that runs checks: starts the history
 * line, runs the checks, prints the verdict, frees; returns the exit code.
 */
int gate_finish(struct gate *g);

#endif
