#include "checks/marker.h"

#include <stdlib.h>
#include <string.h>

#include "base/event.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/text.h"
#include "base/watch.h"
#include "fmt/cloudinit.h"

/*
 * Reads and verifies the marker once.  ST_OK, or the reason it does not
 * pass, with *absent or *other set when that is worth waiting out (no
 * marker yet, or another instance's).  The first look is made before any
 * watch exists: the common case, a marker already in place, so costs no
 * inotify instance (closing one that had a watch waits for a kernel RCU
 * grace period, 0 to 16 ms, measured in docs/dev/bench.md).
 */
static int
marker_now(struct check_ctx *cx, const struct marker_conf *c, int *absent, int *other)
{
	const char *iid = cx->imds_on ? cx->instance_id : NULL;
	int rc;

	*absent = *other = 0;
	rc = markerfile_read(c->path, &cx->marker, absent, &cx->st);
	if (rc != ST_OK)
		return rc;
	rc = markerfile_verify(c->path, &cx->marker, iid,
	    c->digest, other, &cx->st);
	if (rc == ST_OK)
		*other = 0;
	return rc;
}

/* Waits for one marker that passes; ST_OK or a failure. */
static int
marker_wait(struct check_ctx *cx, const struct marker_conf *c, struct watch *w)
{
	const char *path = c->path;
	char waiting[CAP_MSG] = "";
	int absent, other, rc;
	int64_t beat = mono_ms() + CHECK_HEARTBEAT_MS;

	for (;;) {
		if ((rc = watch_arm(w, &cx->st)) != ST_OK)
			return rc;
		rc = marker_now(cx, c, &absent, &other);
		if (rc == ST_OK || !(absent || other))
			return rc;
		if (strcmp(waiting, cx->st.msg) != 0) {
			text_copy(waiting, cx->st.msg, sizeof(waiting));
			out_info("marker: waiting: %s", waiting);
		}
		if (mono_left(cx->deadline) == 0)
			break;
		if (mono_ms() >= beat) {
			out_info("marker: still waiting after %.0fs of %lds",
			    check_elapsed(cx), cx->timeout);
			beat = mono_ms() + CHECK_HEARTBEAT_MS;
		}
		if ((rc = check_wait(cx, w, beat - mono_ms())) != ST_OK)
			return rc;
	}
	if (absent)
		return status_set(&cx->st, ST_TIMEOUT, "marker '%s' did not "
		    "appear within %lds: provisioning has not finished (is "
		    "User Data still running, or did it stop before "
		    "cdgate-mark?)", path, cx->timeout);
	return status_set(&cx->st, ST_TIMEOUT, "no marker for this instance "
	    "within %lds: %s", cx->timeout, waiting);
}

/*
 * Waits for cloud-init's result.json; ST_OK or a failure.
 * w is opened only when the result is not there at the first look (see
 * marker_now).
 */
static int
marker_cloudinit(struct check_ctx *cx, const struct marker_conf *c, struct watch *w)
{
	struct cloudinit_report rep;
	int rc, said = 0;

	for (;;) {
		if (w->fd >= 0 && (rc = watch_arm(w, &cx->st)) != ST_OK)
			return rc;
		rc = cloudinit_check(c->cloud_init_result,
		    c->cloud_init_status, &rep, &cx->st);
		if (rc != ST_TIMEOUT || !rep.pending)
			break;
		if (w->fd < 0) {
			/* arm, then look again: the loop loses no event */
			if ((rc = watch_open(w, c->cloud_init_result,
			    &cx->st)) != ST_OK) {
				w->fd = -1;	/* nothing for the caller to close */
				return rc;
			}
			continue;
		}
		if (!said++)
			out_info("cloud-init: waiting for '%s'",
			    c->cloud_init_result);
		if (mono_left(cx->deadline) == 0)
			return status_set(&cx->st, ST_TIMEOUT, "cloud-init did "
			    "not finish within %lds ('%s' does not exist); see "
			    "/var/log/cloud-init-output.log", cx->timeout,
			    c->cloud_init_result);
		if ((rc = check_wait(cx, w, CHECK_HEARTBEAT_MS)) != ST_OK)
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
	check_note(cx, "cloud-init ok");
	return ST_OK;
}

/*
 * boot_id is informational: a marker written before a reboot passes, since
 * provisioning does not run again at a reboot (cdgate.ini(5)); it is said.
 */
static void
marker_boot_note(struct check_ctx *cx)
{
	char now[CAP_BOOT_ID];
	struct status st;

	if (markerfile_boot_id(now, sizeof(now), &st) == ST_OK &&
	    strcmp(now, cx->marker.boot_id) != 0)
		out_info("marker: written in an earlier boot (boot_id %s, now "
		    "%s); provisioning does not run again at a reboot",
		    cx->marker.boot_id, now);
}

static int
marker_run(struct check_ctx *cx, const void *conf)
{
	const struct marker_conf *c = conf;
	struct watch *w;
	int rc, absent, other;

	if (cx->imds_on && (rc = check_instance_id(cx)) != ST_OK)
		return rc;
	if ((w = malloc(sizeof(*w))) == NULL)
		return status_set(&cx->st, ST_OSERR, "out of memory");
	rc = marker_now(cx, c, &absent, &other);
	if (rc != ST_OK && (absent || other)) {
		/* arm, then look again: the loop loses no event */
		if ((rc = watch_open(w, c->path, &cx->st)) == ST_OK) {
			rc = marker_wait(cx, c, w);
			watch_close(w);
		}
	}
	if (rc != ST_OK) {
		free(w);
		return rc;
	}
	cx->have_marker = 1;
	out_info("marker: ok, provisioned at %s%s%s", cx->marker.finished_at,
	    cx->marker.digest[0] ? ", digest " : "", cx->marker.digest);
	check_note(cx, "marker ok (%s)", cx->marker.finished_at);
	marker_boot_note(cx);
	if (c->cloud_init) {
		w->fd = -1;
		rc = marker_cloudinit(cx, c, w);
		watch_close(w);
	}
	free(w);
	return rc;
}

static void
marker_defaults(void *conf)
{
	struct marker_conf *c = conf;

	text_copy(c->path, MARKER_DEFAULT_PATH, sizeof(c->path));
	text_copy(c->cloud_init_result, MARKER_CLOUD_INIT_RESULT,
	    sizeof(c->cloud_init_result));
	text_copy(c->cloud_init_status, MARKER_CLOUD_INIT_STATUS,
	    sizeof(c->cloud_init_status));
}

static int
marker_digest_value(struct inifile *f, const char *v, char *out, size_t len)
{
	size_t i;

	if (strncmp(v, "sha256:", 7) != 0 || strlen(v) != 7 + 64)
		return inifile_error(f, "digest = '%s': expected sha256: and "
		    "64 hex digits", v);
	for (i = 7; v[i] != '\0'; i++)
		if (!((v[i] >= '0' && v[i] <= '9') ||
		    (v[i] >= 'a' && v[i] <= 'f') ||
		    (v[i] >= 'A' && v[i] <= 'F')))
			return inifile_error(f, "digest = '%s': expected "
			    "sha256: and 64 hex digits", v);
	text_copy(out, v, len);
	for (i = 7; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'F')
			out[i] = (char)(out[i] - 'A' + 'a');
	return 0;
}

static int
marker_key(void *conf, struct inifile *f, int where, const char *k,
    const char *v)
{
	struct marker_conf *c = conf;

	if (where != CHECK_IN_SECTION)
		return CHECK_KEY_NOT_MINE;
	if (strcmp(k, "path") == 0)
		return check_path(f, k, v, c->path, sizeof(c->path));
	if (strcmp(k, "cloud_init") == 0)
		return check_bool(f, k, v, &c->cloud_init);
	if (strcmp(k, "cloud_init_result") == 0)
		return check_path(f, k, v, c->cloud_init_result,
		    sizeof(c->cloud_init_result));
	if (strcmp(k, "cloud_init_status") == 0)
		return check_path(f, k, v, c->cloud_init_status,
		    sizeof(c->cloud_init_status));
	if (strcmp(k, "digest") == 0)
		return marker_digest_value(f, v, c->digest, sizeof(c->digest));
	return CHECK_KEY_NOT_MINE;
}

static void
marker_plan(const void *conf)
{
	const struct marker_conf *mk = conf;

	out_info("marker: '%s'%s", mk->path, mk->cloud_init ?
	    ", and cloud-init's result" : "");
}

const struct check_def check_marker = {
	.name = "marker",
	.section = "marker",
	.keys = "path cloud_init cloud_init_result cloud_init_status digest",
	.conf_size = sizeof(struct marker_conf),
	.defaults = marker_defaults,
	.key = marker_key,
	/* before the revision is installed, and before traffic */
	.default_events = CHECK_EVENT(EV_BEFORE_INSTALL) |
	    CHECK_EVENT(EV_BEFORE_ALLOW_TRAFFIC),
	.run = marker_run,
	.plan = marker_plan,
};
