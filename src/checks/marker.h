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

#include "base/caps.h"
#include "checks/check.h"

#define MARKER_DEFAULT_PATH "/var/lib/cdgate/provisioned"
#define MARKER_CLOUD_INIT_RESULT "/run/cloud-init/result.json"
#define MARKER_CLOUD_INIT_STATUS "/run/cloud-init/status.json"

/* [marker] */
struct marker_conf {
	char path[CAP_PATH];
	int cloud_init;
	char cloud_init_result[CAP_PATH];
	char cloud_init_status[CAP_PATH];
	char digest[CAP_DIGEST];	/* "" when not required */
};

/* Fills cx->marker and cx->have_marker when it passes. */
extern const struct check_def check_marker;

#endif
