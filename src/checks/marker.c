#include "checks/marker.h"

#include <string.h>

#include "fmt/cloudinit.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/text.h"
#include "base/watch.h"

/*
 * Reads and verifies the marker once.  ST_OK, or the reason it does not
 * pass, with *absent or *other set when that is worth waiting out (no
 * marker yet, or another instance's).  The first look is made before any
 * watch exists: the common case, a marker already in place, so costs no
 * inotify instance (closing one that had a watch waits for a kernel RCU
 * grace period, 0 to 16 ms, measured in docs/bench.md).
 */
static int
marker_now(struct gate *g, int *absent, int *other)
{
	const char *iid = g->cfg.imds ? g->instance_id : NULL;
	int rc;

	*absent = *other = 0;
	rc = markerfile_read(g->cfg.marker_path, &g->marker, absent, &g->st);
	if (rc != ST_OK)
		return rc;
	rc = markerfile_verify(g->cfg.marker_path, &g->marker, iid,
	    g->cfg.digest, other, &g->st);
	if (rc == ST_OK)
		*other = 0;
	return rc;
}

/* Waits for one marker that passes; ST_OK, GATE_LEAVING or a failure. */
static int
marker_wait(struct gate *g, struct watch *w)
{
	const char *path = g->cfg.marker_path;
	char waiting[CAP_MSG] = "";
	int absent, other, rc;
	int64_t beat = mono_ms() + GATE_HEARTBEAT_MS;

	for (;;) {
		if ((rc = watch_arm(w, &g->st)) != ST_OK)
			return rc;
		rc = marker_now(g, &absent, &other);
		if (rc == ST_OK || !(absent || other))
			return rc;
		if (strcmp(waiting, g->st.msg) != 0) {
			text_copy(waiting, g->st.msg, sizeof(waiting));
			out_info("marker: waiting: %s", waiting);
		}
		if (mono_left(g->deadline) == 0)
			break;
		if (mono_ms() >= beat) {
			out_info("marker: still waiting after %.0fs of %lds",
			    gate_elapsed(g), g->timeout);
			beat = mono_ms() + GATE_HEARTBEAT_MS;
		}
		if ((rc = gate_wait(g, w, beat - mono_ms())) != ST_OK)
			return rc;
	}
	if (absent)
		return status_set(&g->st, ST_TIMEOUT, "marker '%s' did not "
		    "appear within %lds: provisioning has not finished (is "
		    "User Data still running, or did it stop before "
		    "cdgate-mark?)", path, g->timeout);
	return status_set(&g->st, ST_TIMEOUT, "no marker for this instance "
	    "within %lds: %s", g->timeout, waiting);
}

/*
 * Waits for cloud-init's result.json; ST_OK, GATE_LEAVING or a failure.
 * w is opened only when the result is not there at the first look (see
 * marker_now).
 */
static int
marker_cloudinit(struct gate *g, struct watch *w)
{
	struct cloudinit_report rep;
	int rc, said = 0;

	for (;;) {
		if (w->fd >= 0 && (rc = watch_arm(w, &g->st)) != ST_OK)
			return rc;
		rc = cloudinit_check(g->cfg.cloud_init_result,
		    g->cfg.cloud_init_status, &rep, &g->st);
		if (rc != ST_TIMEOUT || !rep.pending)
			break;
		if (w->fd < 0) {
			/* arm, then look again: the loop loses no event */
			if ((rc = watch_open(w, g->cfg.cloud_init_result,
			    &g->st)) != ST_OK) {
				w->fd = -1;	/* nothing for the caller to close */
				return rc;
			}
			continue;
		}
		if (!said++)
			out_info("cloud-init: waiting for '%s'",
			    g->cfg.cloud_init_result);
		if (mono_left(g->deadline) == 0)
			return status_set(&g->st, ST_TIMEOUT, "cloud-init did "
			    "not finish within %lds ('%s' does not exist); see "
			    "/var/log/cloud-init-output.log", g->timeout,
			    g->cfg.cloud_init_result);
		if ((rc = gate_wait(g, w, GATE_HEARTBEAT_MS)) != ST_OK)
			return rc;
	}
	if (rc != ST_OK)
		return rc;
	if (rep.nrecoverable > 0)
		out_info("cloud-init: warning: %zu recoverable errors, first: "
		    "%s", rep.nrecoverable, rep.first_recoverable);
	if (rep.status_problem[0] != '\0')
		out_info("cloud-init: recoverable errors not read (passing on "
		    "result.json alone): %s", rep.status_problem);
	out_info("cloud-init: finished without errors");
	gate_note(g, "cloud-init ok");
	return ST_OK;
}

/*
 * boot_id is informational: a marker written before a reboot passes, since
 * provisioning does not run again at a reboot (cdgate.ini(5)); it is said.
 */
static void
marker_boot_note(struct gate *g)
{
	char now[CAP_BOOT_ID];
	struct status st;

	if (markerfile_boot_id(now, sizeof(now), &st) == ST_OK &&
	    strcmp(now, g->marker.boot_id) != 0)
		out_info("marker: written in an earlier boot (boot_id %s, now "
		    "%s); provisioning does not run again at a reboot",
		    g->marker.boot_id, now);
}

int
marker_check(struct gate *g)
{
	struct watch w;
	int rc, absent, other;

	if (g->cfg.imds && (rc = gate_instance_id(g)) != ST_OK)
		return rc;
	rc = marker_now(g, &absent, &other);
	if (rc != ST_OK && (absent || other)) {
		/* arm, then look again: the loop loses no event */
		if ((rc = watch_open(&w, g->cfg.marker_path, &g->st)) != ST_OK)
			return rc;
		rc = marker_wait(g, &w);
		watch_close(&w);
	}
	if (rc != ST_OK)
		return rc;
	g->have_marker = 1;
	out_info("marker: ok, provisioned at %s%s%s", g->marker.finished_at,
	    g->marker.digest[0] ? ", digest " : "", g->marker.digest);
	gate_note(g, "marker ok (%s)", g->marker.finished_at);
	marker_boot_note(g);
	if (!g->cfg.cloud_init)
		return ST_OK;
	w.fd = -1;
	rc = marker_cloudinit(g, &w);
	watch_close(&w);
	return rc;
}
