/*
 * test_notice.c: EC2's notices in instance metadata (aws/notice.h): the
 * three parsers (tables of good and bad replies), the two time forms,
 * cleaning of free text, the bound on kept events, and the readers over a
 * scripted transport (404 is the only "none"; 401 gets one fresh token;
 * an oversized reply is an error, never parsed).
 *
 * This binary replaces libcdgate's http.o with a scripted fake
 * (tests/fuzz/fake_http.h and the http_do below), so nothing here touches
 * the network.
 */
#include <time.h>

#include "aws/notice.h"
#include "base/mono.h"
#include "base/text.h"
#include "testlib.h"

/* ------------------------------------------------------------------ */
/* the fake transport: tokens always granted, GETs from a script */

#include "../fuzz/fake_http.h"

struct fake_reply {
	long status;
	const char *body;	/* NULL: `big` bytes of JSON list */
	size_t big;
};

static const struct fake_reply *script;
static size_t script_n, script_at;
static unsigned long tokens, gets;
static char last_item[256];

int
http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
    struct status *st)
{
	const char *item = strstr(req->url, "/latest/");
	const struct fake_reply *r;
	size_t len, i;

	memset(resp, 0, sizeof(*resp));
	h->count++;
	assert_non_null(item);
	item += strlen("/latest/");
	if (strcmp(req->method, "PUT") == 0) {
		assert_string_equal(item, "api/token");
		tokens++;
		resp->status = 200;
		resp->body = strdup("FAKE-TOKEN");
		resp->len = strlen(resp->body);
		return ST_OK;
	}
	gets++;
	text_copy(last_item, item, sizeof(last_item));
	if (script_at >= script_n)
		return status_set(st, ST_UNAVAIL, "Failed to connect");
	r = &script[script_at++];
	len = r->body != NULL ? strlen(r->body) : r->big;
	if (len > req->cap) {	/* as http.c's write callback does */
		resp->oversize = 1;
		resp->status = r->status;
		return status_set(st, ST_UNAVAIL, "reply larger than %zu "
		    "bytes (HTTP %ld)", req->cap, r->status);
	}
	resp->status = r->status;
	if ((resp->body = malloc(len + 1)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	if (r->body != NULL)
		memcpy(resp->body, r->body, len + 1);
	else {
		for (i = 0; i < len; i++)
			resp->body[i] = i == 0 ? '[' : ' ';
		resp->body[len] = '\0';
	}
	resp->len = len;
	return ST_OK;
}

static void
play(const struct fake_reply *s, size_t n)
{
	script = s;
	script_n = n;
	script_at = 0;
	tokens = gets = 0;
	last_item[0] = '\0';
}

/* A valid, UTF-8 clean message naming the item. */
#define CHECK_ERROR_MSG(what, st, item) do {				\
	CHECK_HAS((what), (st).msg, (item));				\
	assert_true(text_utf8_valid((st).msg, strlen((st).msg)));	\
} while (0)

/* ------------------------------------------------------------------ */
/* spot instance-action */

struct spot_case {
	const char *what, *body;
	int code, action;
	long long when;
	const char *msg;
};

static const struct spot_case spot_cases[] = {
	{ "terminate", "{\"action\": \"terminate\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"}", ST_OK, NOTICE_TERMINATE, 1796558400LL,
	  "" },
	{ "stop", "{\"action\":\"stop\",\"time\":\"2026-12-06T12:00:00Z\"}",
	  ST_OK, NOTICE_STOP, 1796558400LL, "" },
	{ "hibernate, blanks around", "\n {\"time\": \"2026-12-06T12:00:00Z\","
	  " \"action\": \"hibernate\"}\r\n", ST_OK, NOTICE_HIBERNATE,
	  1796558400LL, "" },
	{ "GMT time", "{\"action\": \"stop\", \"time\": "
	  "\"21 Jan 2019 09:00:43 GMT\"}", ST_OK, NOTICE_STOP, 1548061243LL,
	  "" },
	{ "extra members", "{\"action\": \"stop\", \"time\": "
	  "\"2026-12-06T12:00:00Z\", \"x\": [1, {}]}", ST_OK, NOTICE_STOP,
	  1796558400LL, "" },
	{ "empty body", "", ST_UNAVAIL, 0, 0, "HTTP 200 with an empty body" },
	{ "blank body", " \n", ST_UNAVAIL, 0, 0, "empty body" },
	{ "not JSON", "terminate", ST_UNAVAIL, 0, 0, "not valid JSON" },
	{ "cut short", "{\"action\": \"terminate\", \"time\": \"2026-12",
	  ST_UNAVAIL, 0, 0, "not valid JSON (unexpected end of data at byte 40)" },
	{ "trailing bytes", "{\"action\": \"stop\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"} x", ST_UNAVAIL, 0, 0,
	  "bytes after the JSON value" },
	{ "two objects", "{\"action\": \"stop\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"}{}", ST_UNAVAIL, 0, 0, "bytes after" },
	{ "a list", "[{\"action\": \"stop\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"}]", ST_UNAVAIL, 0, 0,
	  "not a JSON object" },
	{ "a string", "\"terminate\"", ST_UNAVAIL, 0, 0, "not a JSON object" },
	{ "null", "null", ST_UNAVAIL, 0, 0, "not" },
	{ "no action", "{\"time\": \"2026-12-06T12:00:00Z\"}", ST_UNAVAIL, 0,
	  0, "no action" },
	{ "action a number", "{\"action\": 1, \"time\": "
	  "\"2026-12-06T12:00:00Z\"}", ST_UNAVAIL, 0, 0,
	  "a non-string action" },
	{ "action null", "{\"action\": null, \"time\": "
	  "\"2026-12-06T12:00:00Z\"}", ST_UNAVAIL, 0, 0,
	  "a non-string action" },
	{ "unknown action", "{\"action\": \"reboot\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"}", ST_UNAVAIL, 0, 0,
	  "unknown action 'reboot' (expected terminate, stop or hibernate)" },
	{ "action case", "{\"action\": \"Terminate\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"}", ST_UNAVAIL, 0, 0,
	  "unknown action 'Terminate'" },
	{ "action with NUL", "{\"action\": \"stop\\u0000x\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"}", ST_UNAVAIL, 0, 0,
	  "unknown action 'stop?x'" },
	{ "action with escape", "{\"action\": \"\\u001b[31mstop\", \"time\": "
	  "\"2026-12-06T12:00:00Z\"}", ST_UNAVAIL, 0, 0,
	  "unknown action '?[31mstop'" },
	{ "no time", "{\"action\": \"terminate\"}", ST_UNAVAIL, 0, 0,
	  "has no time" },
	{ "time a number", "{\"action\": \"terminate\", \"time\": 1796558400}",
	  ST_UNAVAIL, 0, 0, "has a non-string time" },
	{ "bad time", "{\"action\": \"terminate\", \"time\": \"soon\"}",
	  ST_UNAVAIL, 0, 0, "time 'soon' is not a time" },
	{ "long time", "{\"action\": \"terminate\", \"time\": "
	  "\"2026-12-06T12:00:00.000000000000000000000000000000Z\"}",
	  ST_UNAVAIL, 0, 0, "is not a time" },
	{ "deep nesting", "{\"action\": \"stop\", \"time\": "
	  "\"2026-12-06T12:00:00Z\", \"x\": [[[[[[[[[[]]]]]]]]]]}",
	  ST_UNAVAIL, 0, 0, "not valid JSON" },
};

static void
test_spot(void **state)
{
	struct notice_spot s;
	struct status st;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(spot_cases); i++) {
		const struct spot_case *c = &spot_cases[i];

		status_clear(&st);
		memset(&s, 0x5a, sizeof(s));
		rc = notice_parse_spot(c->body, strlen(c->body), &s, &st);
		CHECK_INT(c->what, rc, c->code);
		CHECK_MSG(c->what, st.msg, c->msg);
		CHECK_INT(c->what, s.present, rc == ST_OK);
		CHECK_INT(c->what, s.action, c->action);
		CHECK_INT(c->what, s.when, c->when);
		if (rc != ST_OK)
			CHECK_ERROR_MSG(c->what, st, NOTICE_ITEM_SPOT);
		else
			CHECK_STR(c->what, notice_action_name(s.action),
			    strstr(c->body, "terminate") ? "terminate" :
			    strstr(c->body, "hibernate") ? "hibernate" :
			    "stop");
	}
	/* the text is kept as sent */
	rc = notice_parse_spot(spot_cases[3].body, strlen(spot_cases[3].body),
	    &s, &st);
	assert_int_equal(rc, ST_OK);
	assert_string_equal(s.time, "21 Jan 2019 09:00:43 GMT");
	/* body need not be NUL-terminated: only len bytes are read */
	rc = notice_parse_spot("{\"action\": \"stop\", \"time\": "
	    "\"2026-12-06T12:00:00Z\"}garbage", 50, &s, &st);
	assert_int_equal(rc, ST_OK);
	/* a raw NUL byte, inside the value or after it, is not JSON */
	{
		static const char in[] = "{\"action\": \"st\0op\", \"time\": "
		    "\"2026-12-06T12:00:00Z\"}";
		static const char after[] = "{\"action\": \"stop\", \"time\": "
		    "\"2026-12-06T12:00:00Z\"}\0";

		status_clear(&st);
		assert_int_equal(notice_parse_spot(in, sizeof(in) - 1, &s, &st),
		    ST_UNAVAIL);
		assert_true(text_utf8_valid(st.msg, strlen(st.msg)));
		status_clear(&st);
		assert_int_equal(notice_parse_spot(after, sizeof(after) - 1, &s,
		    &st), ST_UNAVAIL);
	}
}

/* ------------------------------------------------------------------ */
/* rebalance recommendation */

struct rebalance_case {
	const char *what, *body;
	int code;
	long long when;
	const char *msg;
};

static const struct rebalance_case rebalance_cases[] = {
	{ "documented", "{\"noticeTime\": \"2026-12-06T11:58:00Z\"}", ST_OK,
	  1796558280LL, "" },
	{ "GMT", "{\"noticeTime\": \"21 Jan 2019 09:00:43 GMT\"}", ST_OK,
	  1548061243LL, "" },
	{ "empty body", "", ST_UNAVAIL, 0, "empty body" },
	{ "not JSON", "<html>", ST_UNAVAIL, 0, "not valid JSON" },
	{ "a list", "[]", ST_UNAVAIL, 0, "not a JSON object" },
	{ "empty object", "{}", ST_UNAVAIL, 0, "has no noticeTime" },
	{ "wrong case", "{\"NoticeTime\": \"2026-12-06T11:58:00Z\"}",
	  ST_UNAVAIL, 0, "has no noticeTime" },
	{ "a number", "{\"noticeTime\": 1796558280}", ST_UNAVAIL, 0,
	  "non-string noticeTime" },
	{ "null", "{\"noticeTime\": null}", ST_UNAVAIL, 0,
	  "non-string noticeTime" },
	{ "bad time", "{\"noticeTime\": \"2026-12-06\"}", ST_UNAVAIL, 0,
	  "noticeTime '2026-12-06' is not a time" },
	{ "bad time, hostile", "{\"noticeTime\": \"\\u0007\\udc80x\"}",
	  ST_UNAVAIL, 0, "is not a time" },
};

static void
test_rebalance(void **state)
{
	struct notice_rebalance r;
	struct status st;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(rebalance_cases); i++) {
		const struct rebalance_case *c = &rebalance_cases[i];

		status_clear(&st);
		memset(&r, 0x5a, sizeof(r));
		rc = notice_parse_rebalance(c->body, strlen(c->body), &r, &st);
		CHECK_INT(c->what, rc, c->code);
		CHECK_MSG(c->what, st.msg, c->msg);
		CHECK_INT(c->what, r.present, rc == ST_OK);
		CHECK_INT(c->what, r.when, c->when);
		if (rc != ST_OK)
			CHECK_ERROR_MSG(c->what, st, NOTICE_ITEM_REBALANCE);
	}
}

/* ------------------------------------------------------------------ */
/* scheduled maintenance events */

#define EV(code, state, nb, na) "{\"Code\": \"" code "\", \"State\": \"" \
	state "\", \"NotBefore\": \"" nb "\", \"NotAfter\": \"" na "\", "  \
	"\"Description\": \"scheduled reboot\", \"EventId\": "		    \
	"\"instance-event-0d59937288b749b32\"}"

/* AWS's documented example (EC2 User Guide, scheduled events) */
static const char aws_example[] =
    "[ \n  {\n    \"NotBefore\" : \"21 Jan 2019 09:00:43 GMT\",\n"
    "    \"Code\" : \"system-reboot\",\n"
    "    \"Description\" : \"scheduled reboot\",\n"
    "    \"EventId\" : \"instance-event-0d59937288b749b32\",\n"
    "    \"NotAfter\" : \"21 Jan 2019 09:17:23 GMT\",\n"
    "    \"State\" : \"active\"\n  } \n]";

struct events_case {
	const char *what, *body;
	int code;
	size_t n, n_active, n_done;
	long long first;
	const char *msg;
};

static const struct events_case events_cases[] = {
	{ "AWS's example", aws_example, ST_OK, 1, 1, 0, 1548061243LL, "" },
	{ "none", "[]", ST_OK, 0, 0, 0, 0, "" },
	{ "none, blanks", " [ ]\n", ST_OK, 0, 0, 0, 0, "" },
	{ "done ones dropped", "[" EV("system-reboot", "completed",
	  "21 Jan 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT") ", "
	  EV("instance-stop", "canceled", "21 Jan 2019 09:00:43 GMT",
	  "21 Jan 2019 09:17:23 GMT") "]", ST_OK, 0, 0, 2, 0, "" },
	{ "sorted", "[" EV("instance-stop", "active",
	  "2026-12-06T12:00:00Z", "2026-12-06T13:00:00Z") ", "
	  EV("system-reboot", "completed", "1 Jan 2019 09:00:43 GMT",
	  "1 Jan 2019 09:17:23 GMT") ", "
	  EV("instance-reboot", "active", "21 Jan 2019 09:00:43 GMT",
	  "21 Jan 2019 09:17:23 GMT") "]", ST_OK, 2, 2, 1, 1548061243LL, "" },
	{ "NotAfter absent", "[{\"Code\": \"system-maintenance\", \"State\": "
	  "\"active\", \"NotBefore\": \"21 Jan 2019 09:00:43 GMT\"}]", ST_OK,
	  1, 1, 0, 1548061243LL, "" },
	{ "NotAfter null", "[{\"Code\": \"system-maintenance\", \"State\": "
	  "\"active\", \"NotBefore\": \"21 Jan 2019 09:00:43 GMT\", "
	  "\"NotAfter\": null, \"Description\": null}]", ST_OK, 1, 1, 0,
	  1548061243LL, "" },
	{ "unknown Code kept", "[{\"Code\": \"instance-hug\", \"State\": "
	  "\"active\", \"NotBefore\": \"21 Jan 2019 09:00:43 GMT\"}]", ST_OK,
	  1, 1, 0, 1548061243LL, "" },
	{ "empty body", "", ST_UNAVAIL, 0, 0, 0, 0, "empty body" },
	{ "not JSON", "[{]", ST_UNAVAIL, 0, 0, 0, 0, "not valid JSON" },
	{ "cut short", "[" EV("system-reboot", "active",
	  "21 Jan 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT"),
	  ST_UNAVAIL, 0, 0, 0, 0, "unexpected end of data" },
	{ "an object", EV("system-reboot", "active",
	  "21 Jan 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT"),
	  ST_UNAVAIL, 0, 0, 0, 0, "not a JSON list" },
	{ "null", "null", ST_UNAVAIL, 0, 0, 0, 0, "not a JSON list" },
	{ "element a string", "[\"system-reboot\"]", ST_UNAVAIL, 0, 0, 0, 0,
	  "event 1 is not a JSON object" },
	{ "element null", "[" EV("system-reboot", "completed",
	  "21 Jan 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT") ", null]",
	  ST_UNAVAIL, 0, 0, 0, 0, "event 2 is not a JSON object" },
	{ "no Code", "[{\"State\": \"active\", \"NotBefore\": "
	  "\"21 Jan 2019 09:00:43 GMT\"}]", ST_UNAVAIL, 0, 0, 0, 0,
	  "event 1 has no Code" },
	{ "Code a number", "[{\"Code\": 7, \"State\": \"active\", "
	  "\"NotBefore\": \"21 Jan 2019 09:00:43 GMT\"}]", ST_UNAVAIL, 0, 0, 0,
	  0, "event 1 has a non-string Code" },
	{ "no State", "[{\"Code\": \"system-reboot\", \"NotBefore\": "
	  "\"21 Jan 2019 09:00:43 GMT\"}]", ST_UNAVAIL, 0, 0, 0, 0,
	  "event 1 has no State" },
	{ "unknown State", "[" EV("system-reboot", "scheduled",
	  "21 Jan 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT") "]",
	  ST_UNAVAIL, 0, 0, 0, 0, "event 1 has an unknown State 'scheduled'" },
	{ "State case", "[" EV("system-reboot", "Active",
	  "21 Jan 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT") "]",
	  ST_UNAVAIL, 0, 0, 0, 0, "unknown State 'Active'" },
	{ "no NotBefore", "[{\"Code\": \"system-reboot\", \"State\": "
	  "\"active\"}]", ST_UNAVAIL, 0, 0, 0, 0, "event 1 has no NotBefore" },
	{ "NotBefore a number", "[{\"Code\": \"system-reboot\", \"State\": "
	  "\"active\", \"NotBefore\": 1548061243}]", ST_UNAVAIL, 0, 0, 0, 0,
	  "event 1 has a non-string NotBefore" },
	{ "bad NotBefore", "[" EV("system-reboot", "active",
	  "Jan 21 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT") "]",
	  ST_UNAVAIL, 0, 0, 0, 0,
	  "event 1 NotBefore 'Jan 21 2019 09:00:43 GMT' is not a time" },
	{ "bad NotBefore, done event", "[" EV("system-reboot", "canceled",
	  "yesterday", "21 Jan 2019 09:17:23 GMT") "]", ST_UNAVAIL, 0, 0, 0, 0,
	  "NotBefore 'yesterday' is not a time" },
	{ "bad NotAfter", "[" EV("system-reboot", "active",
	  "21 Jan 2019 09:00:43 GMT", "later") "]", ST_UNAVAIL, 0, 0, 0, 0,
	  "event 1 NotAfter 'later' is not a time" },
	{ "Description a list", "[{\"Code\": \"system-reboot\", \"State\": "
	  "\"active\", \"NotBefore\": \"21 Jan 2019 09:00:43 GMT\", "
	  "\"Description\": []}]", ST_UNAVAIL, 0, 0, 0, 0,
	  "non-string Description" },
	{ "EventId a number", "[{\"Code\": \"system-reboot\", \"State\": "
	  "\"active\", \"NotBefore\": \"21 Jan 2019 09:00:43 GMT\", "
	  "\"EventId\": 5}]", ST_UNAVAIL, 0, 0, 0, 0, "non-string EventId" },
};

static void
test_events(void **state)
{
	struct notice_events *e = calloc(1, sizeof(*e));
	struct status st;
	const char *b;
	size_t i;
	int rc;

	(void)state;
	assert_non_null(e);
	for (i = 0; i < NELEM(events_cases); i++) {
		const struct events_case *c = &events_cases[i];

		status_clear(&st);
		memset(e, 0x5a, sizeof(*e));
		rc = notice_parse_events(c->body, strlen(c->body), e, &st);
		CHECK_INT(c->what, rc, c->code);
		CHECK_MSG(c->what, st.msg, c->msg);
		CHECK_INT(c->what, e->n, c->n);
		CHECK_INT(c->what, e->n_active, c->n_active);
		CHECK_INT(c->what, e->n_done, c->n_done);
		if (c->n > 0)
			CHECK_INT(c->what, e->ev[0].start, c->first);
		if (rc != ST_OK)
			CHECK_ERROR_MSG(c->what, st, NOTICE_ITEM_SCHEDULED);
	}
	/* the fields of AWS's example */
	assert_int_equal(notice_parse_events(aws_example, strlen(aws_example),
	    e, &st), ST_OK);
	assert_int_equal(e->ev[0].code, NOTICE_SYSTEM_REBOOT);
	assert_string_equal(e->ev[0].code_text, "system-reboot");
	assert_string_equal(e->ev[0].not_before, "21 Jan 2019 09:00:43 GMT");
	assert_int_equal(e->ev[0].has_end, 1);
	assert_string_equal(e->ev[0].not_after, "21 Jan 2019 09:17:23 GMT");
	assert_int_equal(e->ev[0].end, 1548062243LL);
	assert_string_equal(e->ev[0].id, "instance-event-0d59937288b749b32");
	assert_string_equal(e->ev[0].desc, "scheduled reboot");
	/* an unknown code is kept as text */
	b = events_cases[7].body;
	assert_int_equal(notice_parse_events(b, strlen(b), e, &st), ST_OK);
	assert_int_equal(e->ev[0].code, NOTICE_CODE_OTHER);
	assert_string_equal(e->ev[0].code_text, "instance-hug");
	assert_int_equal(e->ev[0].has_end, 0);
	assert_string_equal(e->ev[0].not_after, "");
	assert_string_equal(e->ev[0].desc, "");
	free(e);
}

/* Appends to a growing buffer (the test fails when it cannot). */
static void
add(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	while (*len + n + 1 > *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		assert_non_null(*buf = realloc(*buf, *cap));
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

/* 40 active events, latest first: the 16 earliest are kept, sorted */
static void
test_events_bounded(void **state)
{
	struct notice_events *e = calloc(1, sizeof(*e));
	char *buf = NULL, one[256];
	size_t len = 0, cap = 0, i;
	struct status st;

	(void)state;
	assert_non_null(e);
	add(&buf, &len, &cap, "[");
	for (i = 0; i < 40; i++) {
		snprintf(one, sizeof(one), "%s{\"Code\": \"system-reboot\", "
		    "\"State\": \"%s\", \"NotBefore\": \"%zu Jan 2030 "
		    "00:00:00 GMT\", \"EventId\": \"ev-%zu\"}", i ? "," : "",
		    i % 5 == 4 ? "completed" : "active", 31 - i % 31, i);
		add(&buf, &len, &cap, one);
	}
	add(&buf, &len, &cap, "]");
	assert_int_equal(notice_parse_events(buf, len, e, &st), ST_OK);
	assert_int_equal(e->n, NOTICE_MAX_EVENTS);
	assert_int_equal(e->n_active, 32);
	assert_int_equal(e->n_done, 8);
	for (i = 1; i < e->n; i++)
		assert_true(e->ev[i - 1].start <= e->ev[i].start);
	/* day 1 (i = 30) is the earliest; ties (days 23..31 twice) are
	 * kept in the reply's order */
	assert_string_equal(e->ev[0].not_before, "1 Jan 2030 00:00:00 GMT");
	assert_string_equal(e->ev[0].id, "ev-30");
	free(buf);
	free(e);
}

/* 10,000 events (about 1.4 MB) and a multi-megabyte body: refused whole */
static void
test_events_huge(void **state)
{
	struct notice_events *e = calloc(1, sizeof(*e));
	char *buf = NULL;
	size_t len = 0, cap = 0, i;
	struct status st;

	(void)state;
	assert_non_null(e);
	add(&buf, &len, &cap, "[");
	for (i = 0; i < 10000; i++)
		add(&buf, &len, &cap, i ? "," EV("system-reboot", "active",
		    "21 Jan 2019 09:00:43 GMT", "21 Jan 2019 09:17:23 GMT") :
		    EV("system-reboot", "active", "21 Jan 2019 09:00:43 GMT",
		    "21 Jan 2019 09:17:23 GMT"));
	add(&buf, &len, &cap, "]");
	assert_true(len > CAP_IMDS_BODY);
	assert_int_equal(notice_parse_events(buf, len, e, &st), ST_UNAVAIL);
	CHECK_HAS("10,000 events", st.msg, "reply too large");
	CHECK_HAS("10,000 events", st.msg, NOTICE_ITEM_SCHEDULED);
	assert_int_equal(e->n, 0);
	assert_int_equal(e->n_active, 0);
	free(buf);
	free(e);
}

/* free text is cleaned, never an error */
static void
test_events_cleaned(void **state)
{
	struct notice_events *e = calloc(1, sizeof(*e));
	char *buf = NULL, big[1200];
	size_t len = 0, cap = 0;
	struct status st;
	const struct notice_event *v;

	(void)state;
	assert_non_null(e);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	add(&buf, &len, &cap, "[{\"Code\": \"system-\\u001b[2Jreboot\", "
	    "\"State\": \"active\", \"NotBefore\": \"21 Jan 2019 09:00:43 GMT\","
	    " \"EventId\": \"id\\nX-Evil: 1\", \"Description\": \"a\\u0000b"
	    "\\u0007c\\td\\udc80e\\ud800f\xff\xfeg\xc3\x28h\\u00e9\xc3\xa9"
	    "\"}, {\"Code\": \"system-reboot\", \"State\": \"active\", "
	    "\"NotBefore\": \"22 Jan 2019 09:00:43 GMT\", \"Description\": \"");
	add(&buf, &len, &cap, big);
	add(&buf, &len, &cap, "\"}]");
	assert_int_equal(notice_parse_events(buf, len, e, &st), ST_OK);
	assert_int_equal(e->n, 2);
	v = &e->ev[0];
	assert_int_equal(v->code, NOTICE_CODE_OTHER);
	assert_string_equal(v->code_text, "system-?[2Jreboot");
	assert_string_equal(v->id, "id X-Evil: 1");
	assert_true(text_utf8_valid(v->desc, strlen(v->desc)));
	assert_null(strpbrk(v->desc, "\x01\x07\x1b\t\n\r\x7f"));
	CHECK_HAS("description", v->desc, "a?b?c d");
	CHECK_HAS("description", v->desc, "h\xc3\xa9\xc3\xa9");
	v = &e->ev[1];
	assert_int_equal(strlen(v->desc), NOTICE_CAP_DESC - 1);
	CHECK_HAS("long description", v->desc, "xxx...");
	free(buf);
	free(e);
}

/* ------------------------------------------------------------------ */
/* readers over the scripted transport */

static struct imds m;

static int
setup_imds(void **state)
{
	struct status st;

	(void)state;
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	return imds_init(&m, &st) == ST_OK ? 0 : -1;
}

static int
teardown_imds(void **state)
{
	(void)state;
	imds_free(&m);
	return 0;
}

static const char spot_body[] =
    "{\"action\": \"terminate\", \"time\": \"2026-12-06T12:00:00Z\"}";

static void
test_read_404_is_none(void **state)
{
	static const struct fake_reply s[] = {
		{ 404, "<html>404 - Not Found</html>", 0 },
		{ 404, "<html>404 - Not Found</html>", 0 },
		{ 404, "", 0 },
	};
	struct notice_events *e = calloc(1, sizeof(*e));
	struct notice_spot sp;
	struct notice_rebalance rb;
	struct status st;

	(void)state;
	assert_non_null(e);
	play(s, NELEM(s));
	memset(&sp, 0x5a, sizeof(sp));
	assert_int_equal(notice_read_spot(&m, mono_ms() + 5000, &sp, &st),
	    ST_OK);
	assert_string_equal(last_item, NOTICE_ITEM_SPOT);
	assert_int_equal(sp.present, 0);
	assert_int_equal(notice_read_rebalance(&m, mono_ms() + 5000, &rb,
	    &st), ST_OK);
	assert_string_equal(last_item, NOTICE_ITEM_REBALANCE);
	assert_int_equal(rb.present, 0);
	assert_int_equal(notice_read_events(&m, mono_ms() + 5000, e, &st),
	    ST_OK);
	assert_string_equal(last_item, NOTICE_ITEM_SCHEDULED);
	assert_int_equal(e->n + e->n_active + e->n_done, 0);
	free(e);
}

static void
test_read_notice(void **state)
{
	static const struct fake_reply s[] = {
		{ 200, spot_body, 0 },
		{ 200, "{\"noticeTime\": \"2026-12-06T11:58:00Z\"}", 0 },
		{ 200, aws_example, 0 },
		{ 200, "[]", 0 },
	};
	struct notice_events *e = calloc(1, sizeof(*e));
	struct notice_spot sp;
	struct notice_rebalance rb;
	struct status st;

	(void)state;
	assert_non_null(e);
	play(s, NELEM(s));
	assert_int_equal(notice_read_spot(&m, mono_ms() + 5000, &sp, &st),
	    ST_OK);
	assert_int_equal(sp.present, 1);
	assert_int_equal(sp.action, NOTICE_TERMINATE);
	assert_int_equal(sp.when, 1796558400LL);
	assert_string_equal(sp.time, "2026-12-06T12:00:00Z");
	assert_int_equal(notice_read_rebalance(&m, mono_ms() + 5000, &rb,
	    &st), ST_OK);
	assert_int_equal(rb.present, 1);
	assert_int_equal(rb.when, 1796558280LL);
	assert_int_equal(notice_read_events(&m, mono_ms() + 5000, e, &st),
	    ST_OK);
	assert_int_equal(e->n, 1);
	assert_int_equal(e->ev[0].start, 1548061243LL);
	assert_int_equal(notice_read_events(&m, mono_ms() + 5000, e, &st),
	    ST_OK);
	assert_int_equal(e->n, 0);
	free(e);
}

/* everything but 200 and 404 is an error, never "none" */
static void
test_read_errors_are_not_none(void **state)
{
	static const struct fake_reply s[] = {
		{ 200, "", 0 },				/* empty 200 */
		{ 200, "{\"action\": \"reboot\", \"time\": "
		  "\"2026-12-06T12:00:00Z\"}", 0 },
		{ 403, "<html>403</html>", 0 },
		{ 400, "<html>400</html>", 0 },
		{ 200, "{\"noticeTime\": \"\xff\"}", 0 },	/* raw bad UTF-8 */
		{ 200, NULL, 3 * 1024 * 1024 },		/* multi-megabyte */
		{ 200, NULL, CAP_IMDS_BODY },		/* just over */
	};
	struct notice_events *e = calloc(1, sizeof(*e));
	struct notice_spot sp;
	struct notice_rebalance rb;
	struct status st;

	(void)state;
	assert_non_null(e);
	play(s, NELEM(s));
	assert_int_equal(notice_read_spot(&m, mono_ms() + 5000, &sp, &st),
	    ST_UNAVAIL);
	CHECK_HAS("empty 200", st.msg, "spot interruption notice "
	    "'meta-data/spot/instance-action': HTTP 200 with an empty body");
	assert_int_equal(sp.present, 0);
	assert_int_equal(notice_read_spot(&m, mono_ms() + 5000, &sp, &st),
	    ST_UNAVAIL);
	CHECK_HAS("unknown action", st.msg, "unknown action 'reboot'");
	assert_int_equal(sp.present, 0);
	assert_int_equal(notice_read_spot(&m, mono_ms() + 5000, &sp, &st),
	    ST_UNAVAIL);
	CHECK_HAS("403", st.msg, "spot interruption notice: ");
	CHECK_HAS("403", st.msg, "disabled (403)");
	assert_int_equal(notice_read_rebalance(&m, mono_ms() + 5000, &rb,
	    &st), ST_UNAVAIL);
	CHECK_HAS("400", st.msg, "rebalance recommendation: ");
	CHECK_HAS("400", st.msg, "HTTP 400 for "
	    "'meta-data/events/recommendations/rebalance'");
	assert_int_equal(rb.present, 0);
	/* raw invalid UTF-8 reaches the parser (imds_get_bytes): in a time
	 * it is no time, and the message shows it cleaned */
	assert_int_equal(notice_read_rebalance(&m, mono_ms() + 5000, &rb,
	    &st), ST_UNAVAIL);
	CHECK_HAS("bad UTF-8", st.msg, "is not a time");
	assert_true(text_utf8_valid(st.msg, strlen(st.msg)));
	/* too large: an error naming the item, never parsed, not retried */
	gets = 0;
	assert_int_equal(notice_read_events(&m, mono_ms() + 5000, e, &st),
	    ST_UNAVAIL);
	CHECK_HAS("3 MB", st.msg, "scheduled maintenance events: ");
	CHECK_HAS("3 MB", st.msg, "GET /latest/" NOTICE_ITEM_SCHEDULED);
	CHECK_HAS("3 MB", st.msg, "reply larger than 65536 bytes (HTTP 200)");
	assert_int_equal(gets, 1);
	assert_int_equal(e->n + e->n_active, 0);
	assert_int_equal(notice_read_events(&m, mono_ms() + 5000, e, &st),
	    ST_UNAVAIL);
	CHECK_HAS("64 KiB", st.msg, "too long (65536 bytes)");
	free(e);
}

/* a 401 (token expired or revoked) gets one fresh token, then fails */
static void
test_read_401_fresh_token_once(void **state)
{
	static const struct fake_reply once[] = {
		{ 401, "<html>401</html>", 0 },
		{ 200, spot_body, 0 },
	};
	static const struct fake_reply twice[] = {
		{ 401, "<html>401</html>", 0 },
		{ 401, "<html>401</html>", 0 },
		{ 200, spot_body, 0 },
	};
	struct notice_spot sp;
	struct status st;

	(void)state;
	/* the token from an earlier test is reused until refused */
	play(once, NELEM(once));
	assert_int_equal(notice_read_spot(&m, mono_ms() + 5000, &sp, &st),
	    ST_OK);
	assert_int_equal(sp.present, 1);
	assert_int_equal(tokens, 1);
	assert_int_equal(gets, 2);
	play(twice, NELEM(twice));
	assert_int_equal(notice_read_spot(&m, mono_ms() + 5000, &sp, &st),
	    ST_UNAVAIL);
	CHECK_HAS("401 twice", st.msg, "refused a fresh token for "
	    "'meta-data/spot/instance-action' (401)");
	assert_int_equal(sp.present, 0);
	assert_int_equal(tokens, 1);	/* one fresh token */
	assert_int_equal(gets, 2);	/* no third try */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spot),
		cmocka_unit_test(test_rebalance),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_events_bounded),
		cmocka_unit_test(test_events_huge),
		cmocka_unit_test(test_events_cleaned),
		cmocka_unit_test(test_read_404_is_none),
		cmocka_unit_test(test_read_notice),
		cmocka_unit_test(test_read_errors_are_not_none),
		cmocka_unit_test(test_read_401_fresh_token_once),
	};

	return cmocka_run_group_tests(tests, setup_imds, teardown_imds);
}
