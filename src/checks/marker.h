/*
 * marker.h: the marker check: is this instance provisioned?  The marker
 * file (fmt/markerfile.h) and cloud-init's result when configured,
 * waited for until the deadline.
 *
 * Rules: a missing marker is waited for (inotify); a marker of another
 * instance is waited for too (this instance's provisioning replaces it);
 * status = failed fails at once with its message; any other fault of the
 * marker fails at once with its reason.
 */
#ifndef CDGATE_CHECK_MARKER_H
#define CDGATE_CHECK_MARKER_H

#include "run/gate.h"

/* ST_OK (g->marker filled), GATE_LEAVING, or a failure in g->st. */
int marker_check(struct gate *g);

#endif
