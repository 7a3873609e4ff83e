/*
 * lifecycle.h: the Auto Scaling target lifecycle state (aws.md).
 *
 * Rules: 404 means "not in an Auto Scaling group" and passes; Terminated
 * means the instance is leaving: the hook ends at once (on_terminating);
 * an unreadable state fails closed.
 */
#ifndef CDGATE_LIFECYCLE_H
#define CDGATE_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "gate.h"
#include "imds.h"

#define LIFECYCLE_ITEM "meta-data/autoscaling/target-lifecycle-state"

/* ST_OK with the state in out ("" when not in a group), or a failure. */
int lifecycle_read(struct imds *m, int64_t deadline, char *out, size_t len,
    struct status *st);
/* 1 when the state says the instance is being terminated. */
int lifecycle_leaving(const char *state);
/* The lifecycle check: ST_OK, GATE_LEAVING or a failure in g->st. */
int lifecycle_check(struct gate *g);

#endif
