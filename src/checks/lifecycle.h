/*
 * lifecycle.h: the Auto Scaling target lifecycle state (docs/dev/aws.md).
 *
 * Rules: 404 means "not in an Auto Scaling group" and the checks run; an
 * unreadable or malformed state fails closed; what each state does is
 * decided by lifecycle_action alone, at the start and on every re-read of
 * the watch (check.h), so a state that ends the run ends a wait too.
 *
 * The policy (cdgate.ini [gate]):
 * - Terminated, Warmed:Terminated: the instance is leaving (a scale-in
 *   termination hook may hold it in Terminating:Wait): on_terminating,
 *   skip (default: exit 0 at once, saying so) or fail.  Never "check": a
 *   wait on a leaving instance is what stalls deployments.
 * - Standby: on_standby, default check.  An instance in Standby is still in
 *   the group and returns to service with what is deployed now; the common
 *   ELB scripts (EnterStandby in ApplicationStop, ExitStandby in
 *   ApplicationStart) put every instance in Standby during its own
 *   deployment.  Skipping would let an unverified instance back into
 *   service; failing would fail every such deployment.
 * - Detached: on_detached, default check.  The instance leaves the group
 *   but keeps running, may still be a deployment target (tags) and may
 *   serve; nothing holds it, so the waits do not stall.
 * - Warmed:Stopped, Warmed:Running, Warmed:Hibernated (any other
 *   Warmed:*): on_warmed, default check.  A launch lifecycle hook, the one
 *   CodeDeploy installs included, also pauses an instance entering the warm
 *   pool (Warmed:Pending:Wait), and Auto Scaling stops or hibernates it as
 *   soon as the hook completes, without waiting for User Data: holding the
 *   hook until the marker passes keeps provisioning from being cut off.
 *   The instance is checked again when it leaves the pool (InService).
 * - InService, not in a group, and any state AWS adds later: check (the
 *   other checks decide; the lifecycle check only avoids stalls).
 * skip and fail for Standby, Detached and Warmed:* are for operators who
 * want such instances left alone or flagged.
 */
#ifndef CDGATE_LIFECYCLE_H
#define CDGATE_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "aws/imds.h"
#include "base/event.h"
#include "checks/check.h"

#define LIFECYCLE_ITEM "meta-data/autoscaling/target-lifecycle-state"

/* every setting takes an enum on_state (check.h); on_terminating only
 * skip or fail */

/* [gate] on_terminating on_standby on_detached on_warmed, and
 * on_terminating of the event sections */
struct lifecycle_conf {
	int on_terminating;		/* ON_STATE_SKIP or ON_STATE_FAIL */
	int on_standby, on_detached, on_warmed;
	int ev_on_terminating[EV_COUNT];	/* -1: as [gate] */
};

extern const struct check_def check_lifecycle;

/* ST_OK with the state in out ("" when not in a group), or a failure. */
int lifecycle_read(struct imds *m, int64_t deadline, char *out, size_t len,
    struct status *st);
/* 1 when the state says the instance is being terminated. */
int lifecycle_leaving(const char *state);
/*
 * What the state means for a run of event ev (-1: a helper program, which
 * follows [gate]): ON_STATE_CHECK, ON_STATE_SKIP or ON_STATE_FAIL.  *key
 * (may be NULL) gets the setting that decided ("on_terminating", ...) or
 * NULL for check by rule.
 */
int lifecycle_action(const struct lifecycle_conf *c, int ev,
    const char *state, const char **key);
/* on_terminating for event ev (-1: [gate]'s) */
int lifecycle_on_terminating(const struct lifecycle_conf *c, int ev);

#endif
