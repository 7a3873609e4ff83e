/*
 * gate.h: one run of a hook program: options, configuration, the checks in
 * order under one deadline, the verdict, the exit code.
 *
 * Rules:
 * - every check runs under the one deadline of the run and ends by it with
 *   its own message;
 * - every wait goes through gate_wait, which also re-reads the Auto Scaling
 *   target lifecycle state every GATE_LIFECYCLE_EVERY_MS, so a wait ends
 *   within seconds when the instance starts terminating;
 * - checks print progress lines; only gate_main prints the verdict, last.
 */
#ifndef CDGATE_GATE_H
#define CDGATE_GATE_H

#include <stdint.h>

#include "config.h"
#include "event.h"
#include "imds.h"
#include "marker.h"
#include "status.h"
#include "watch.h"

#define GATE_LIFECYCLE_EVERY_MS 2000	/* re-read of the state in waits */
#define GATE_LIFECYCLE_BUDGET_MS 800	/* time one re-read may take */
#define GATE_HEARTBEAT_MS 60000		/* "still waiting" lines */
#define GATE_LEAVING 200		/* check result: instance leaving */

struct gate {
	int ev;				/* enum event, or -1 (cdgate-wait) */
	const char *label;
	const char *self;		/* argv[0] */
	struct config cfg;
	unsigned checks;
	long timeout;			/* seconds */
	int64_t start, deadline;	/* mono_ms */
	int check_mode;			/* -n */
	struct imds imds;
	int imds_ready;
	char instance_id[CAP_INSTANCE_ID];
	char lifecycle[64];		/* last target lifecycle state read */
	int64_t lifecycle_next;		/* next re-read in waits */
	struct marker marker;		/* the marker that passed */
	int have_marker;
	char summary[CAP_MSG];		/* what passed, for the verdict */
	struct status st;
};

/* The whole run of a hook program; returns the exit code. */
int gate_main(int argc, char **argv, enum event ev);
/* Initialises g for a program that runs checks without an event. */
int gate_init(struct gate *g, const char *label, const char *self);
/* Runs g->checks in order; returns ST_OK, GATE_LEAVING or a failure. */
int gate_run(struct gate *g);
/* Lazily opens the IMDS client; ST_OK or a failure (imds = no refused). */
int gate_imds(struct gate *g, const char *why);
/* This instance's id from IMDS (cached). */
int gate_instance_id(struct gate *g);
/*
 * Waits up to ms (cut at the deadline) or until w (may be NULL) sees a
 * change; re-reads the lifecycle state as it goes.  ST_OK, or
 * GATE_LEAVING when the instance is terminating.
 */
int gate_wait(struct gate *g, struct watch *w, int64_t ms);
/* Appends "; text" to the verdict summary. */
void gate_note(struct gate *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Seconds elapsed since the start, for messages. */
double gate_elapsed(const struct gate *g);

#endif
