/*
 * cdgate-status: what this instance looks like to the gate: its
 * provisioning (marker, cloud-init), its Auto Scaling lifecycle state,
 * EC2's notices about it (Spot interruption, rebalance, scheduled events),
 * and the last runs from the deployment history, with the answer to "which
 * revision did this instance pass the gate with?".
 *
 * The report is built once as a json-c object; --json prints it, the text
 * form is read back from it.  A part that cannot be read (IMDS unreachable,
 * an unusable history) is reported inside, not fatal: the exit code is 0
 * whenever a report was printed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fmt/cloudinit.h"
#include "run/config.h"
#include "fmt/history.h"
#include "aws/imds.h"
#include "aws/notice.h"
#include "checks/lifecycle.h"
#include "checks/marker.h"
#include "fmt/markerfile.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"
#include "run/tool.h"

#define STATUS_DEFAULT_LAST 10
#define STATUS_SCAN      200	/* entries searched for "last passed" */
#define STATUS_IMDS_MS   2000	/* instance metadata, in total */

static const char usage[] =
    "usage: cdgate-status [-hnV] [-c config] [--json] [-l N]\n"
    "  This instance's provisioning (marker, cloud-init), its Auto Scaling\n"
    "  lifecycle state, EC2's notices (Spot interruption, rebalance\n"
    "  recommendation, scheduled events), the last N runs from the\n"
    "  deployment history (default 10), and the last deployment it passed\n"
    "  the gate with.\n"
    "  -l, --last N  show the last N runs, 1 to 1000;  --json  one JSON object\n"
    "  -n  check mode: print the configuration used and the plan, read\n"
    "      nothing, no network\n"
    "Exit: 0 reported, 64 usage, 70 internal, 71 system, 78 configuration.\n";

struct report {
	struct config cfg;
	const struct marker_conf *mk;	/* in cfg */
	struct json_object *root;
	char iid[CAP_INSTANCE_ID];
	struct imds imds;
	int imds_ready;
	int64_t deadline;
	struct status st;
	/* report_marker's marker: 77 KiB, too large for a frame; here in
	 * main's static report (one, in the main thread) */
	struct markerfile marker;
};

/* Adds key: s, or null when s is NULL or "". */
static void
js_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, s != NULL && s[0] != '\0' ?
	    json_object_new_string(s) : NULL);
}

static const char *
js_get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
js_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_get_boolean(v);
}

static struct json_object *
js_obj(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

/* The instance id from IMDS (short deadline); "" when not known. */
static void
report_instance(struct report *r, struct json_object *inst)
{
	struct status st;

	if (!r->cfg.imds) {
		js_str(inst, "error", "not read: [gate] imds = no");
		return;
	}
	if (imds_init(&r->imds, &st) == ST_OK)
		r->imds_ready = 1;
	if (!r->imds_ready || imds_instance_id(&r->imds, r->deadline, r->iid,
	    sizeof(r->iid), &st) != ST_OK) {
		r->iid[0] = '\0';
		js_str(inst, "error", st.msg);
		return;
	}
	js_str(inst, "id", r->iid);
}

static void
report_marker(struct report *r, struct json_object *mk)
{
	struct json_object *tags;
	struct markerfile *m = &r->marker;
	struct status st;
	int absent = 0, other = 0, rc;
	size_t i;

	memset(m, 0, sizeof(*m));
	js_str(mk, "path", r->mk->path);
	rc = markerfile_read(r->mk->path, m, &absent, &st);
	json_object_object_add(mk, "present", json_object_new_boolean(!absent));
	if (rc == ST_OK)
		rc = markerfile_verify(r->mk->path, m, r->iid[0] ? r->iid :
		    NULL, r->mk->digest, &other, &st);
	if (rc == ST_OK && r->cfg.imds && r->iid[0] == '\0') {
		/* the hooks would fail here: valid is not known, not true */
		json_object_object_add(mk, "valid", NULL);
		js_str(mk, "reason", "this instance's id is unknown (instance "
		    "metadata did not answer), so the marker's instance_id "
		    "was not compared");
	} else {
		json_object_object_add(mk, "valid",
		    json_object_new_boolean(rc == ST_OK));
		js_str(mk, "reason", rc == ST_OK ? NULL : st.msg);
	}
	if (absent || (rc != ST_OK && m->finished_at[0] == '\0'))
		return;
	js_str(mk, "status", m->ok ? "ok" : "failed");
	js_str(mk, "instance_id", m->instance_id);
	js_str(mk, "finished_at", m->finished_at);
	js_str(mk, "digest", m->digest);
	js_str(mk, "message", m->message);
	if (!m->has_tags)
		return;
	tags = json_object_new_object();
	for (i = 0; i < m->ntags; i++)
		js_str(tags, m->tags[i].key, m->tags[i].value);
	json_object_object_add(mk, "tags", tags);
}

static void
report_cloudinit(struct report *r, struct json_object *ci)
{
	struct cloudinit_report rep;
	struct status st;
	int rc;

	json_object_object_add(ci, "configured",
	    json_object_new_boolean(r->mk->cloud_init));
	if (!r->mk->cloud_init)
		return;
	rc = cloudinit_check(r->mk->cloud_init_result,
	    r->mk->cloud_init_status, &rep, &st);
	js_str(ci, "state", rc == ST_OK ? "done" : rc == ST_TIMEOUT &&
	    rep.pending ? "pending" : "failed");
	js_str(ci, "reason", rc == ST_OK ? NULL : st.msg);
	json_object_object_add(ci, "errors",
	    json_object_new_int64((int64_t)rep.nerrors));
	json_object_object_add(ci, "recoverable_errors",
	    json_object_new_int64((int64_t)rep.nrecoverable));
	js_str(ci, "status_problem", rep.status_problem[0] != '\0' ?
	    rep.status_problem : NULL);
}

static void
report_lifecycle(struct report *r, struct json_object *lc)
{
	char state[64];
	const char *key = NULL;
	struct status st;
	int action;

	json_object_object_add(lc, "checked",
	    json_object_new_boolean(r->cfg.imds && r->imds_ready));
	if (!r->cfg.imds) {
		js_str(lc, "error", "not read: [gate] imds = no");
		return;
	}
	if (!r->imds_ready || lifecycle_read(&r->imds, r->deadline, state,
	    sizeof(state), &st) != ST_OK) {
		js_str(lc, "error", r->imds_ready ? st.msg :
		    "instance metadata not usable");
		return;
	}
	json_object_object_add(lc, "in_group",
	    json_object_new_boolean(state[0] != '\0'));
	js_str(lc, "state", state);
	action = lifecycle_action(config_conf(&r->cfg, &check_lifecycle), -1,
	    state, &key);
	js_str(lc, "action", check_on_state_name(action));
	js_str(lc, "setting", key);
}

/*
 * Adds error msg to the notices' "error": one string, "; " between the
 * errors of several items.  Every message starts with its item's name; when
 * it says the same as the previous one after the name ("...: instance
 * metadata ... is disabled"), only the name is added, in front:
 * "spot interruption notice, rebalance recommendation: instance ...".
 */
static void
report_notices_error(struct json_object *nt, const char *msg)
{
	const char *old = js_get(nt, "error"), *tail = strstr(msg, ": ");
	size_t lo, lt, len;
	char *joined;

	if (old == NULL) {
		js_str(nt, "error", msg);
		return;
	}
	lo = strlen(old);
	lt = tail != NULL ? strlen(tail) : 0;
	len = lo + strlen(msg) + 3;
	if ((joined = malloc(len)) == NULL)
		return;		/* the first error stays: never "none" */
	if (tail != NULL && lo > lt && strcmp(old + lo - lt, tail) == 0)
		snprintf(joined, len, "%.*s, %.*s%s", (int)(lo - lt), old,
		    (int)(tail - msg), msg, tail);
	else
		snprintf(joined, len, "%s; %s", old, msg);
	js_str(nt, "error", joined);
	free(joined);
}

/*
 * EC2's notices about this instance: "spot" and "rebalance" are null when
 * instance metadata answers 404 and "scheduled" lists the active events
 * ([] on a 404 or none active).  An item that could not be read is left
 * out (never null, never []) and its error is in "error" (null when all
 * three were read).
 */
static void
report_notices(struct report *r)
{
	struct json_object *nt, *o, *list;
	struct notice_spot sp;
	struct notice_rebalance rb;
	struct notice_events *ev;
	const struct notice_event *e;
	struct status st;
	size_t i;

	if ((nt = json_object_new_object()) == NULL)
		return;
	json_object_object_add(r->root, "notices", nt);
	json_object_object_add(nt, "checked",
	    json_object_new_boolean(r->cfg.imds && r->imds_ready));
	if (!r->cfg.imds) {
		js_str(nt, "error", "not read: [gate] imds = no");
		return;
	}
	if (!r->imds_ready) {
		js_str(nt, "error", "instance metadata not usable");
		return;
	}
	js_str(nt, "error", NULL);	/* null unless an item fails below */
	if (notice_read_spot(&r->imds, r->deadline, &sp, &st) != ST_OK)
		report_notices_error(nt, st.msg);
	else if (!sp.present)
		json_object_object_add(nt, "spot", NULL);
	else {
		o = json_object_new_object();
		js_str(o, "action", notice_action_name(sp.action));
		js_str(o, "time", sp.time);
		json_object_object_add(nt, "spot", o);
	}
	if (notice_read_rebalance(&r->imds, r->deadline, &rb, &st) != ST_OK)
		report_notices_error(nt, st.msg);
	else if (!rb.present)
		json_object_object_add(nt, "rebalance", NULL);
	else {
		o = json_object_new_object();
		js_str(o, "time", rb.time);
		json_object_object_add(nt, "rebalance", o);
	}
	if ((ev = calloc(1, sizeof(*ev))) == NULL) {
		report_notices_error(nt, "scheduled maintenance events: out of memory");
		return;
	}
	if (notice_read_events(&r->imds, r->deadline, ev, &st) != ST_OK) {
		report_notices_error(nt, st.msg);
		free(ev);
		return;
	}
	list = json_object_new_array();
	for (i = 0; i < ev->n; i++) {
		e = &ev->ev[i];
		o = json_object_new_object();
		js_str(o, "code", e->code_text);
		js_str(o, "not_before", e->not_before);
		js_str(o, "not_after", e->has_end ? e->not_after : NULL);
		js_str(o, "description", e->desc);
		js_str(o, "id", e->id);
		json_object_array_add(list, o);
	}
	json_object_object_add(nt, "scheduled", list);
	json_object_object_add(nt, "scheduled_active",
	    json_object_new_int64((int64_t)ev->n_active));
	free(ev);
}

/* 1 when some entry of deployment dep failed. */
static int
deployment_failed(struct json_object *entries, const char *dep)
{
	size_t i, n = json_object_array_length(entries);
	struct json_object *e;
	const char *d, *v;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		d = js_get(e, "deployment_id");
		v = js_get(e, "verdict");
		if (d != NULL && v != NULL && strcmp(d, dep) == 0 &&
		    strcmp(v, "fail") == 0)
			return 1;
	}
	return 0;
}

/*
 * 1 when a hook of this event runs the deployment's own revision: not
 * ApplicationStop, BeforeBlockTraffic or AfterBlockTraffic, which run the
 * previous revision's scripts under the new DEPLOYMENT_ID
 * (docs/dev/agent.md).
 */
static int
new_revision_event(const char *ev)
{
	return ev != NULL && strcmp(ev, "ApplicationStop") != 0 &&
	    strcmp(ev, "BeforeBlockTraffic") != 0 &&
	    strcmp(ev, "AfterBlockTraffic") != 0;
}

/*
 * The newest deployment with a pass of a hook that ran its revision and no
 * fail among the entries: the revision this instance passed the gate with.
 * A new reference, or NULL.  Helper programs (no event) do not count.
 */
static struct json_object *
last_passed(struct json_object *entries)
{
	size_t i = json_object_array_length(entries);
	struct json_object *e;
	const char *d, *v;

	while (i-- > 0) {
		e = json_object_array_get_idx(entries, i);
		d = js_get(e, "deployment_id");
		v = js_get(e, "verdict");
		if (d != NULL && v != NULL &&
		    new_revision_event(js_get(e, "event")) &&
		    strcmp(v, "pass") == 0 && !deployment_failed(entries, d))
			return json_object_get(e);
	}
	return NULL;
}

static void
report_history(struct report *r, size_t n, struct json_object *hs)
{
	struct json_object *all = NULL, *shown, *lp;
	size_t bad = 0, total, i;
	struct status st;

	json_object_object_add(hs, "enabled",
	    json_object_new_boolean(r->cfg.history[0] != '\0'));
	js_str(hs, "path", r->cfg.history);
	if (r->cfg.history[0] == '\0')
		return;
	if (history_load(r->cfg.history, n > STATUS_SCAN ? n : STATUS_SCAN,
	    &all, &bad, &st) != ST_OK) {
		js_str(hs, "error", st.msg);
		return;
	}
	json_object_object_add(hs, "skipped_lines",
	    json_object_new_int64((int64_t)bad));
	total = json_object_array_length(all);
	shown = json_object_new_array();
	for (i = total > n ? total - n : 0; i < total; i++)
		json_object_array_add(shown,
		    json_object_get(json_object_array_get_idx(all, i)));
	json_object_object_add(hs, "entries", shown);
	if ((lp = last_passed(all)) != NULL)
		json_object_object_add(r->root, "last_passed", lp);
	json_object_put(all);
}

/* Text output: one cleaned line. */
static void
line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
line(const char *fmt, ...)
{
	char raw[CAP_LINE * 4], clean[CAP_LINE * 4];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(raw, sizeof(raw), fmt, ap) < 0)
		text_copy(raw, "(line could not be formatted)", sizeof(raw));
	va_end(ap);
	text_clean(clean, sizeof(clean), raw, strlen(raw));
	printf("%s\n", clean);
}

static const char *
or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

/* "DEP (APP/GROUP, bundle ...)" into buf. */
static void
describe_deployment(struct json_object *e, char *buf, size_t len)
{
	char bundle[CAP_MSG] = "";
	const char *b = js_get(e, "bundle_bucket"), *k = js_get(e,
	    "bundle_key"), *c = js_get(e, "bundle_commit");

	if (b != NULL || k != NULL) {
		if (snprintf(bundle, sizeof(bundle), ", bundle s3://%s/%s%s%s"
		    "%s%s", or_dash(b), or_dash(k), js_get(e,
		    "bundle_version") ? " version " : "", js_get(e,
		    "bundle_version") ? js_get(e, "bundle_version") : "",
		    js_get(e, "bundle_etag") ? " etag " : "", js_get(e,
		    "bundle_etag") ? js_get(e, "bundle_etag") : "") < 0)
			bundle[0] = '\0';
	} else if (c != NULL && snprintf(bundle, sizeof(bundle), ", bundle "
	    "commit %s", c) < 0)
		bundle[0] = '\0';
	if (snprintf(buf, len, "%s (%s/%s%s)", or_dash(js_get(e,
	    "deployment_id")), or_dash(js_get(e, "application_name")),
	    or_dash(js_get(e, "deployment_group_name")), bundle) < 0)
		text_copy(buf, "?", len);
}

static void
show_marker(struct json_object *mk)
{
	struct json_object *tags = js_obj(mk, "tags"), *v = NULL;
	const char *word;
	char tl[CAP_MSG] = "";
	size_t used = 0;
	int n;

	/* "valid": true, false, or null when it could not be decided */
	if (!json_object_object_get_ex(mk, "valid", &v) || v == NULL)
		word = "NOT verified";
	else
		word = json_object_get_boolean(v) ? "valid" : "NOT valid";
	if (!js_bool(mk, "present")) {
		line("marker: '%s' absent: %s", js_get(mk, "path"),
		    or_dash(js_get(mk, "reason")));
		return;
	}
	if (tags != NULL) {
		json_object_object_foreach(tags, key, val) {
			n = snprintf(tl + used, sizeof(tl) - used, " %s=%s",
			    key, json_object_get_string(val));
			if (n < 0 || (size_t)n >= sizeof(tl) - used)
				break;
			used += (size_t)n;
		}
	}
	line("marker: '%s' %s; status %s, instance %s, finished %s, digest "
	    "%s%s%s", js_get(mk, "path"), word, or_dash(js_get(mk, "status")),
	    or_dash(js_get(mk, "instance_id")),
	    or_dash(js_get(mk, "finished_at")), or_dash(js_get(mk, "digest")),
	    tags ? ", tags" : "", tl);
	if (js_get(mk, "reason") != NULL)
		line("marker: why: %s", or_dash(js_get(mk, "reason")));
}

static void
show_lifecycle(struct json_object *lc)
{
	const char *state = js_get(lc, "state"), *act = js_get(lc, "action"),
	    *key = js_get(lc, "setting");

	if (js_get(lc, "error") != NULL)
		line("lifecycle: unknown: %s", js_get(lc, "error"));
	else if (state == NULL)
		line("lifecycle: not in an Auto Scaling group");
	else if (key != NULL)
		line("lifecycle: target state %s: hooks %s (%s = %s)", state,
		    strcmp(act, "check") == 0 ? "run their checks" :
		    strcmp(act, "skip") == 0 ? "skip" : "fail", key, act);
	else
		line("lifecycle: target state %s: hooks run their checks",
		    state);
}

static void
show_notices(struct json_object *nt)
{
	struct json_object *sp = NULL, *rb = NULL, *list = NULL, *e, *v;
	int has_sp, has_rb, has_list;
	size_t i, n;

	if (!js_bool(nt, "checked")) {
		line("notices: unknown: %s", or_dash(js_get(nt, "error")));
		return;
	}
	has_sp = json_object_object_get_ex(nt, "spot", &sp);
	has_rb = json_object_object_get_ex(nt, "rebalance", &rb);
	has_list = json_object_object_get_ex(nt, "scheduled", &list);
	if (!has_sp)
		line("notices: spot interruption: unknown (error below)");
	else if (sp == NULL)
		line("notices: spot interruption: none");
	else
		line("notices: spot interruption: %s at %s",
		    or_dash(js_get(sp, "action")), or_dash(js_get(sp, "time")));
	if (!has_rb)
		line("notices: rebalance recommendation: unknown (error below)");
	else if (rb == NULL)
		line("notices: rebalance recommendation: none");
	else
		line("notices: rebalance recommendation: at %s",
		    or_dash(js_get(rb, "time")));
	n = has_list ? json_object_array_length(list) : 0;
	json_object_object_get_ex(nt, "scheduled_active", &v);
	if (!has_list)
		line("notices: scheduled events: unknown (error below)");
	else if (n == 0)
		line("notices: scheduled events: none");
	else if ((size_t)json_object_get_int64(v) > n)
		line("notices: scheduled events: %" PRId64 " active, the "
		    "first %zu:", json_object_get_int64(v), n);
	else
		line("notices: scheduled events: %zu active:", n);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(list, i);
		line("  %s from %s%s%s: %s%s%s%s", or_dash(js_get(e, "code")),
		    or_dash(js_get(e, "not_before")),
		    js_get(e, "not_after") ? " to " : "",
		    js_get(e, "not_after") ? js_get(e, "not_after") : "",
		    js_get(e, "description") ? js_get(e, "description") :
		    "(no description)", js_get(e, "id") ? " (" : "",
		    js_get(e, "id") ? js_get(e, "id") : "",
		    js_get(e, "id") ? ")" : "");
	}
	if (js_get(nt, "error") != NULL)
		line("notices: unknown: %s", js_get(nt, "error"));
}

static void
show_history(struct json_object *hs, struct json_object *lp)
{
	struct json_object *entries = NULL, *e, *v;
	char dep[CAP_MSG];
	size_t i, n;

	if (!js_bool(hs, "enabled")) {
		line("history: off ([gate] history = none)");
		return;
	}
	if (js_get(hs, "error") != NULL) {
		line("history: '%s' not read: %s", js_get(hs, "path"),
		    js_get(hs, "error"));
		return;
	}
	json_object_object_get_ex(hs, "entries", &entries);
	n = json_object_array_length(entries);
	json_object_object_get_ex(hs, "skipped_lines", &v);
	if (json_object_get_int64(v) > 0)
		line("history: '%s', last %zu run%s (%" PRId64 " unreadable "
		    "line%s skipped)", js_get(hs, "path"), n, n == 1 ? "" :
		    "s", json_object_get_int64(v), json_object_get_int64(v) ==
		    1 ? "" : "s");
	else
		line("history: '%s', last %zu run%s", js_get(hs, "path"), n,
		    n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		describe_deployment(e, dep, sizeof(dep));
		json_object_object_get_ex(e, "duration_ms", &v);
		line("  %s %s %s %.1fs %s: %s", or_dash(js_get(e, "time")),
		    or_dash(js_get(e, "event") ? js_get(e, "event") :
		    js_get(e, "program")), or_dash(js_get(e, "verdict")),
		    (double)json_object_get_int64(v) / 1000.0,
		    js_get(e, "deployment_id") ? dep : "-",
		    or_dash(js_get(e, "reason")));
	}
	if (lp == NULL) {
		line("last passed: none in the history");
		return;
	}
	describe_deployment(lp, dep, sizeof(dep));
	line("last passed: %s at %s", dep, or_dash(js_get(lp, "time")));
}

static void
print_text(struct report *r)
{
	struct json_object *root = r->root, *inst = js_obj(root, "instance"),
	    *ci = js_obj(root, "cloud_init"), *lp = js_obj(root,
	    "last_passed");

	line("cdgate-status %s, config %s", PROC_VERSION, r->cfg.path[0] ?
	    r->cfg.path : "built-in defaults");
	if (js_get(inst, "id") != NULL)
		line("instance: %s", js_get(inst, "id"));
	else
		line("instance: unknown: %s", or_dash(js_get(inst, "error")));
	show_marker(js_obj(root, "marker"));
	if (!js_bool(ci, "configured"))
		line("cloud-init: not checked ([marker] cloud_init = no)");
	else
		line("cloud-init: %s%s%s", js_get(ci, "state"),
		    js_get(ci, "reason") ? ": " : "",
		    js_get(ci, "reason") ? js_get(ci, "reason") : "");
	if (js_get(ci, "status_problem") != NULL)
		line("cloud-init: recoverable errors not read: %s",
		    js_get(ci, "status_problem"));
	show_lifecycle(js_obj(root, "lifecycle"));
	show_notices(js_obj(root, "notices"));
	show_history(js_obj(root, "history"), lp);
}

/*
 * Check mode: what a report would read, from the configuration alone.  No
 * file but the configuration is opened and no request is made.
 */
static int
report_plan(const struct config *cfg, long n)
{
	const struct marker_conf *mk = config_conf(cfg, &check_marker);
	struct imds m;
	struct status st;

	tool_plan("cdgate-status", cfg);
	out_info("marker: '%s'%s", mk->path, mk->digest[0] ?
	    ", digest required" : "");
	if (cfg->history[0] != '\0')
		out_info("history: '%s', last %ld run%s", cfg->history, n,
		    n == 1 ? "" : "s");
	else
		out_info("history: off ([gate] history = none)");
	if (mk->cloud_init)
		out_info("cloud-init: would be consulted ('%s', '%s')",
		    mk->cloud_init_result, mk->cloud_init_status);
	else
		out_info("cloud-init: not consulted ([marker] cloud_init = no)");
	if (!cfg->imds)
		out_info("instance metadata: not consulted ([gate] imds = no)");
	else if (imds_init(&m, &st) != ST_OK)
		out_info("instance metadata: not usable: %s", st.msg);
	else {
		if (m.disabled)
			out_info("instance metadata: not consulted "
			    "(AWS_EC2_METADATA_DISABLED=true)");
		else
			out_info("instance metadata: would be consulted at '%s' "
			    "for the instance id, the lifecycle state and "
			    "EC2's notices (deadline %ds)", m.base,
			    STATUS_IMDS_MS / 1000);
		imds_free(&m);
	}
	out_verdict(0, 0, "configuration is valid (check mode: nothing read)");
	return 0;
}

/* The options of cdgate-status: what it reads, how it prints. */
struct report_opts {
	long last;		/* -l: history entries */
	int json;		/* --json */
};

static int
report_option(void *self, int c, const char *arg, int argc, char **argv,
    struct status *st)
{
	struct report_opts *o = self;

	(void)argc;
	(void)argv;
	if (c == 'j') {
		o->json = 1;
		return ST_OK;
	}
	if (c == 'l' && text_long(arg, 1, HISTORY_CAP_ENTRIES, &o->last) != 0)
		return status_set(st, ST_USAGE, "-l: expected a number of "
		    "entries from 1 to 1000");
	if (c == 'l')
		return ST_OK;
	return status_set(st, ST_USAGE, "bad option; see cdgate-status -h");
}

/* The whole report in r->root, every part read once: ST_OK or ST_OSERR. */
static int
report_build(struct report *r, size_t last)
{
	struct json_object *part;

	if ((r->root = json_object_new_object()) == NULL)
		return ST_OSERR;
	r->deadline = mono_ms() + STATUS_IMDS_MS;
	js_str(r->root, "version", PROC_VERSION);
	js_str(r->root, "config", r->cfg.path);
	json_object_object_add(r->root, "instance",
	    part = json_object_new_object());
	report_instance(r, part);
	json_object_object_add(r->root, "marker",
	    part = json_object_new_object());
	report_marker(r, part);
	json_object_object_add(r->root, "cloud_init",
	    part = json_object_new_object());
	report_cloudinit(r, part);
	json_object_object_add(r->root, "lifecycle",
	    part = json_object_new_object());
	report_lifecycle(r, part);
	report_notices(r);
	json_object_object_add(r->root, "last_passed", NULL);
	json_object_object_add(r->root, "history",
	    part = json_object_new_object());
	report_history(r, last, part);
	if (r->imds_ready)
		imds_free(&r->imds);
	return ST_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "last", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	static struct report r;
	struct report_opts o = { STATUS_DEFAULT_LAST, 0 };
	struct tool tool = {
		.name = "cdgate-status", .version = "cdgate-status",
		.usage = usage, .opts = "l:", .longopts = longopts,
		.option = report_option,
	};
	long n;
	int check, json, rc;

	proc_start("cdgate-status");
	proc_on_term("terminated by SIGTERM");
	tool.self = &o;
	if ((rc = tool_options(&tool, argc, argv, &r.st)) == TOOL_EXIT)
		return 0;
	if (rc == ST_OK)
		rc = tool_config(&tool, &r.cfg, &r.st);
	if (rc != ST_OK)
		return tool_verdict(NULL, rc, 0, r.st.msg);
	n = o.last;
	json = o.json;
	check = tool.check_mode;
	r.mk = config_conf(&r.cfg, &check_marker);
	if (check)
		return report_plan(&r.cfg, n);
	if (report_build(&r, (size_t)n) != ST_OK)
		return tool_verdict(NULL, ST_OSERR, 0, "out of memory");
	if (json)
		printf("%s\n", json_object_to_json_string_ext(r.root,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_text(&r);
	json_object_put(r.root);
	/* stdout failed: no channel is left for a reason (proc_start makes
	 * stderr stdout, one stream as the agent keeps); the exit code says */
	if (fflush(stdout) != 0 || ferror(stdout))
		return ST_OSERR;
	return 0;
}
