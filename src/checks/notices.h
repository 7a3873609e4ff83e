/*
 * notices.h: the notices check: EC2's notices that this instance is about
 * to go away or be disturbed (aws/notice.h), read from instance metadata.
 *
 * Rules (cdgate.ini(5): [gate] on_interruption on_rebalance
 * on_scheduled_event, each also per event section):
 * - a Spot interruption notice (spot/instance-action) is treated like
 *   leaving: on_interruption = skip (default: exit 0 at once, saying so,
 *   as on_terminating: a wait on an instance about to be reclaimed is what
 *   stalls deployments, and traffic must not reach it), fail, or check
 *   (run the checks anyway, saying so);
 * - the watch (check.h) reads spot/instance-action again with the
 *   lifecycle state, so a notice that arrives during a wait ends the run
 *   within 3 s: one more request per read, only this item;
 * - a rebalance recommendation, and every active scheduled event whose
 *   window starts before the run's deadline (or has started), print one
 *   warning line each and a note in the verdict (so in the history line):
 *   on_rebalance and on_scheduled_event, check by default (a warning), or
 *   skip or fail; completed and canceled events are ignored;
 * - a reply that cannot be read or understood fails the check with its
 *   reason (aws/notice.h): it is never taken for "no notice";
 * - imds = no: nothing read, said in the verdict.
 */
#ifndef CDGATE_NOTICES_H
#define CDGATE_NOTICES_H

#include "base/event.h"
#include "checks/check.h"

/* [gate] on_interruption on_rebalance on_scheduled_event (enum on_state,
 * check.h), each also per event section (-1: as [gate]) */
struct notices_conf {
	int on_interruption, on_rebalance, on_scheduled;
	int ev_on_interruption[EV_COUNT];
	int ev_on_rebalance[EV_COUNT];
	int ev_on_scheduled[EV_COUNT];
};

extern const struct check_def check_notices;

#endif
