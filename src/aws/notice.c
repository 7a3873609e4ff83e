#include "aws/notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/text.h"
#include "base/utc.h"

const char *
notice_action_name(int action)
{
	switch (action) {
	case NOTICE_TERMINATE:
		return "terminate";
	case NOTICE_STOP:
		return "stop";
	case NOTICE_HIBERNATE:
		return "hibernate";
	default:
		return "none";
	}
}

/* ------------------------------------------------------------------ */
/* JSON */

/* The notice's name in messages, by item. */
static const char *
notice_what(const char *item)
{
	if (strcmp(item, NOTICE_ITEM_SPOT) == 0)
		return "spot interruption notice";
	if (strcmp(item, NOTICE_ITEM_REBALANCE) == 0)
		return "rebalance recommendation";
	return "scheduled maintenance events";
}

static int
notice_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Parses body[0..len) into *o (the caller puts it): exactly one JSON value
 * of type want, blanks around it allowed.
 */
static int
notice_json(const char *item, const char *body, size_t len,
    enum json_type want, struct json_object **o, struct status *st)
{
	struct json_tokener *tok;
	enum json_tokener_error err;
	size_t end;

	*o = NULL;
	if (len > CAP_IMDS_BODY)
		return status_set(st, ST_UNAVAIL, "%s '%s': reply too large "
		    "(%zu bytes, at most %d)", notice_what(item), item, len,
		    CAP_IMDS_BODY);
	for (end = 0; end < len && notice_blank(body[end]); end++)
		;
	if (end == len)
		return status_set(st, ST_UNAVAIL, "%s '%s': HTTP 200 with an "
		    "empty body", notice_what(item), item);
	if ((tok = json_tokener_new_ex(NOTICE_JSON_DEPTH)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	*o = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	err = json_tokener_get_error(tok);
	if (err == json_tokener_continue && end == len) {
		/* a bare number or literal ends only at the end of input:
		 * json-c is told so with a NUL */
		*o = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);
	if (err != json_tokener_success) {	/* *o NULL is JSON null */
		json_object_put(*o);
		*o = NULL;
		return status_set(st, ST_UNAVAIL, "%s '%s': not valid JSON "
		    "(%s at byte %zu)", notice_what(item), item,
		    json_tokener_error_desc(err), end);
	}
	while (end < len && notice_blank(body[end]))
		end++;
	if (end != len) {
		json_object_put(*o);
		*o = NULL;
		return status_set(st, ST_UNAVAIL, "%s '%s': bytes after the "
		    "JSON value (at byte %zu)", notice_what(item), item, end);
	}
	if (!json_object_is_type(*o, want)) {
		json_object_put(*o);
		*o = NULL;
		return status_set(st, ST_UNAVAIL, "%s '%s': not a JSON %s",
		    notice_what(item), item, want == json_type_array ?
		    "list" : "object");
	}
	return ST_OK;
}

/*
 * The member name of o: 1 with its string (and length), 0 when absent (or
 * null, when null_ok), -1 when of another type.
 */
static int
notice_member(struct json_object *o, const char *name, int null_ok,
    const char **s, size_t *n)
{
	struct json_object *v;

	*s = "";
	*n = 0;
	if (!json_object_object_get_ex(o, name, &v) ||
	    (null_ok && v == NULL))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*s = json_object_get_string(v);
	*n = (size_t)json_object_get_string_len(v);
	return 1;
}

/* 1 when s[0..n) is exactly the string lit. */
static int
notice_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/*
 * A required time member: ST_OK with its text in text and its epoch, else
 * ST_UNAVAIL naming where (what, e.g. "event 2").
 */
static int
notice_time_member(const char *item, const char *where,
    struct json_object *o, const char *name, int optional, int *has,
    char text[NOTICE_CAP_TIME], time_t *when, struct status *st)
{
	char shown[64];
	const char *s;
	size_t n;
	int r;

	*has = 0;
	text[0] = '\0';
	*when = 0;
	r = notice_member(o, name, optional, &s, &n);
	if (r == 0 && optional)
		return ST_OK;
	if (r <= 0)
		return status_set(st, ST_UNAVAIL, "%s '%s': %s%s%s %s",
		    notice_what(item), item, where, where[0] ? " " : "",
		    r == 0 ? "has no" : "has a non-string", name);
	if (n >= NOTICE_CAP_TIME || memchr(s, '\0', n) != NULL ||
	    utc_parse(s, when) != 0) {
		text_clean(shown, sizeof(shown), s, n);
		return status_set(st, ST_UNAVAIL, "%s '%s': %s%s%s '%s' is "
		    "not a time (like \"21 Jan 2019 09:00:43 GMT\" or "
		    "\"2019-01-21T09:00:43Z\")", notice_what(item), item,
		    where, where[0] ? " " : "", name, shown);
	}
	memcpy(text, s, n + 1);
	*has = 1;
	return ST_OK;
}

int
notice_parse_spot(const char *body, size_t len, struct notice_spot *out,
    struct status *st)
{
	static const char *const item = NOTICE_ITEM_SPOT;
	struct json_object *o;
	const char *s;
	char shown[64];
	size_t n;
	int rc, r, has;

	memset(out, 0, sizeof(*out));
	if ((rc = notice_json(item, body, len, json_type_object, &o, st)) !=
	    ST_OK)
		return rc;
	r = notice_member(o, "action", 0, &s, &n);
	if (r <= 0) {
		rc = status_set(st, ST_UNAVAIL, "%s '%s': %s action",
		    notice_what(item), item, r == 0 ? "no" : "a non-string");
		goto out;
	}
	if (notice_is(s, n, "terminate"))
		out->action = NOTICE_TERMINATE;
	else if (notice_is(s, n, "stop"))
		out->action = NOTICE_STOP;
	else if (notice_is(s, n, "hibernate"))
		out->action = NOTICE_HIBERNATE;
	else {
		text_clean(shown, sizeof(shown), s, n);
		rc = status_set(st, ST_UNAVAIL, "%s '%s': unknown action '%s' "
		    "(expected terminate, stop or hibernate)",
		    notice_what(item), item, shown);
		goto out;
	}
	if ((rc = notice_time_member(item, "", o, "time", 0, &has, out->time,
	    &out->when, st)) != ST_OK)
		goto out;
	out->present = 1;
out:
	json_object_put(o);
	if (rc != ST_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
notice_parse_rebalance(const char *body, size_t len,
    struct notice_rebalance *out, struct status *st)
{
	static const char *const item = NOTICE_ITEM_REBALANCE;
	struct json_object *o;
	int rc, has;

	memset(out, 0, sizeof(*out));
	if ((rc = notice_json(item, body, len, json_type_object, &o, st)) !=
	    ST_OK)
		return rc;
	rc = notice_time_member(item, "", o, "noticeTime", 0, &has, out->time,
	    &out->when, st);
	json_object_put(o);
	if (rc != ST_OK) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->present = 1;
	return ST_OK;
}

static const struct {
	const char *name;
	int code;
} notice_codes[] = {
	{ "instance-reboot", NOTICE_INSTANCE_REBOOT },
	{ "system-reboot", NOTICE_SYSTEM_REBOOT },
	{ "system-maintenance", NOTICE_SYSTEM_MAINTENANCE },
	{ "instance-retirement", NOTICE_INSTANCE_RETIREMENT },
	{ "instance-stop", NOTICE_INSTANCE_STOP },
};

/* Event i of the list into ev; 1 active, 0 done (dropped), or -1 (st). */
static int
notice_event(struct json_object *o, size_t i, struct notice_event *ev,
    struct status *st)
{
	static const char *const item = NOTICE_ITEM_SCHEDULED;
	char where[32], shown[64];
	const char *code, *state, *s;
	size_t ncode, nstate, n, k;
	int r, has, active;

	memset(ev, 0, sizeof(*ev));
	snprintf(where, sizeof(where), "event %zu", i + 1);
	if (!json_object_is_type(o, json_type_object)) {
		status_set(st, ST_UNAVAIL, "%s '%s': %s is not a JSON object",
		    notice_what(item), item, where);
		return -1;
	}
	if ((r = notice_member(o, "Code", 0, &code, &ncode)) <= 0) {
		status_set(st, ST_UNAVAIL, "%s '%s': %s has %s Code",
		    notice_what(item), item, where, r == 0 ? "no" :
		    "a non-string");
		return -1;
	}
	if ((r = notice_member(o, "State", 0, &state, &nstate)) <= 0) {
		status_set(st, ST_UNAVAIL, "%s '%s': %s has %s State",
		    notice_what(item), item, where, r == 0 ? "no" :
		    "a non-string");
		return -1;
	}
	if (notice_is(state, nstate, "active"))
		active = 1;
	else if (notice_is(state, nstate, "completed") ||
	    notice_is(state, nstate, "canceled"))
		active = 0;
	else {
		text_clean(shown, sizeof(shown), state, nstate);
		status_set(st, ST_UNAVAIL, "%s '%s': %s has an unknown State "
		    "'%s' (expected active, completed or canceled)",
		    notice_what(item), item, where, shown);
		return -1;
	}
	ev->code = NOTICE_CODE_OTHER;
	for (k = 0; k < sizeof(notice_codes) / sizeof(notice_codes[0]); k++)
		if (notice_is(code, ncode, notice_codes[k].name))
			ev->code = notice_codes[k].code;
	text_clean(ev->code_text, sizeof(ev->code_text), code, ncode);
	if (notice_time_member(item, where, o, "NotBefore", 0, &has,
	    ev->not_before, &ev->start, st) != ST_OK ||
	    notice_time_member(item, where, o, "NotAfter", 1, &ev->has_end,
	    ev->not_after, &ev->end, st) != ST_OK)
		return -1;
	if ((r = notice_member(o, "EventId", 1, &s, &n)) < 0) {
		status_set(st, ST_UNAVAIL, "%s '%s': %s has a non-string "
		    "EventId", notice_what(item), item, where);
		return -1;
	}
	text_clean(ev->id, sizeof(ev->id), s, n);
	if ((r = notice_member(o, "Description", 1, &s, &n)) < 0) {
		status_set(st, ST_UNAVAIL, "%s '%s': %s has a non-string "
		    "Description", notice_what(item), item, where);
		return -1;
	}
	text_clean(ev->desc, sizeof(ev->desc), s, n);
	return active;
}

/* Keeps ev among the NOTICE_MAX_EVENTS earliest, sorted by start. */
static void
notice_keep(struct notice_events *out, const struct notice_event *ev)
{
	size_t at = out->n;

	while (at > 0 && out->ev[at - 1].start > ev->start)
		at--;
	if (at >= NOTICE_MAX_EVENTS)
		return;
	if (out->n == NOTICE_MAX_EVENTS)
		out->n--;	/* the latest goes */
	memmove(&out->ev[at + 1], &out->ev[at],
	    (out->n - at) * sizeof(out->ev[0]));
	out->ev[at] = *ev;
	out->n++;
}

int
notice_parse_events(const char *body, size_t len,
    struct notice_events *out, struct status *st)
{
	static const char *const item = NOTICE_ITEM_SCHEDULED;
	struct notice_event ev;
	struct json_object *o;
	size_t i, count;
	int rc, r;

	memset(out, 0, sizeof(*out));
	if ((rc = notice_json(item, body, len, json_type_array, &o, st)) !=
	    ST_OK)
		return rc;
	count = json_object_array_length(o);
	for (i = 0; i < count; i++) {
		r = notice_event(json_object_array_get_idx(o, i), i, &ev, st);
		if (r < 0) {
			json_object_put(o);
			memset(out, 0, sizeof(*out));
			return ST_UNAVAIL;
		}
		if (r == 0) {
			out->n_done++;
			continue;
		}
		out->n_active++;
		notice_keep(out, &ev);
	}
	json_object_put(o);
	return ST_OK;
}

/* ------------------------------------------------------------------ */
/* readers */

/*
 * GETs item into a malloc'd buffer: ST_OK with *body (NULL on a 404), or
 * the error, prefixed with the notice's name.
 */
static int
notice_get(struct imds *m, const char *item, int64_t deadline, char **body,
    size_t *len, struct status *st)
{
	long code;
	int rc;

	*body = NULL;
	*len = 0;
	if ((*body = malloc(CAP_IMDS_BODY)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	/* the bytes as sent: invalid UTF-8 in a Description is cleaned,
	 * not a reason to refuse the notice (notice.h) */
	rc = imds_get_bytes(m, item, deadline, *body, CAP_IMDS_BODY, len,
	    &code, st);
	if (rc == ST_OK && code == 200)
		return ST_OK;
	free(*body);
	*body = NULL;
	if (rc != ST_OK)
		return status_wrap(st, "%s", notice_what(item));
	if (code == 404)
		return ST_OK;
	/* imds_get answers only 200 and 404 with ST_OK */
	return status_set(st, ST_SOFTWARE, "%s '%s': HTTP %ld",
	    notice_what(item), item, code);
}

int
notice_read_spot(struct imds *m, int64_t deadline, struct notice_spot *out,
    struct status *st)
{
	char *body;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = notice_get(m, NOTICE_ITEM_SPOT, deadline, &body, &len,
	    st)) != ST_OK || body == NULL)
		return rc;
	rc = notice_parse_spot(body, len, out, st);
	free(body);
	return rc;
}

int
notice_read_rebalance(struct imds *m, int64_t deadline,
    struct notice_rebalance *out, struct status *st)
{
	char *body;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = notice_get(m, NOTICE_ITEM_REBALANCE, deadline, &body, &len,
	    st)) != ST_OK || body == NULL)
		return rc;
	rc = notice_parse_rebalance(body, len, out, st);
	free(body);
	return rc;
}

int
notice_read_events(struct imds *m, int64_t deadline,
    struct notice_events *out, struct status *st)
{
	char *body;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = notice_get(m, NOTICE_ITEM_SCHEDULED, deadline, &body, &len,
	    st)) != ST_OK || body == NULL)
		return rc;
	rc = notice_parse_events(body, len, out, st);
	free(body);
	return rc;
}
