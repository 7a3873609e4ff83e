/*
 * test_inifile.c: the strict INI layer over inih.
 *
 * Each row is an INI text, the status it must give, a piece of the message
 * (with FILE:LINE) and the exact list of callbacks it must make ("[s];" for
 * a section header, "s.k=v;" for a key).  The callback fails on the key
 * "fail" (message "refused 'VALUE'") and on the section [bad] ("refused
 * [bad]"), to test that handler errors carry the line and that the first
 * error wins.
 */
#include "base/inifile.h"
#include "base/status.h"
#include "testlib.h"

#define PATH "conf/x.ini"

/* The calls made, as "section.key=value;" one after the other. */
struct calls {
	char *buf;
	size_t len, cap;
};

static void
calls_add(struct calls *c, const char *s)
{
	size_t n = strlen(s);

	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->buf = realloc(c->buf, c->cap);
		assert_non_null(c->buf);
	}
	memcpy(c->buf + c->len, s, n + 1);
	c->len += n;
}

static int
record(struct inifile *f, const char *section, const char *key,
    const char *value)
{
	struct calls *c = f->user;

	if (key == NULL) {	/* a section header */
		if (strcmp(section, "bad") == 0)
			return inifile_error(f, "refused [%s]", section);
		calls_add(c, "[");
		calls_add(c, section);
		calls_add(c, "];");
		return 0;
	}
	if (strcmp(key, "fail") == 0)
		return inifile_error(f, "refused '%s'", value);
	calls_add(c, section);
	calls_add(c, ".");
	calls_add(c, key);
	calls_add(c, "=");
	calls_add(c, value);
	calls_add(c, ";");
	return 0;
}

/* Parses text[0..len) with `record`; the calls are left in *c. */
static int
parse(const char *text, size_t len, int errcode, struct calls *c,
    struct status *st)
{
	memset(c, 0, sizeof(*c));
	calls_add(c, "");
	status_clear(st);
	return inifile_parse(PATH, text, len, record, c, errcode, st);
}

/* ------------------------------------------------------------------ */
/* the table */

struct ini_case {
	const char *what;
	const char *text;
	int rc;			/* ST_OK or ST_CONFIG (the errcode given) */
	const char *msg;	/* substring of the message, "" when ST_OK */
	const char *calls;
};

static const struct ini_case ini_cases[] = {
	{ "one key", "[a]\nk = v\n", ST_OK, "", "[a];a.k=v;" },
	{ "empty file", "", ST_OK, "", "" },
	{ "only blanks and comments", "\n  \n; c\n# c\n\t\n", ST_OK, "", "" },
	{ "no newline at the end", "[a]\nk = v", ST_OK, "", "[a];a.k=v;" },
	{ "blanks around = are trimmed", "[a]\nk=v\nj   =   w  \n", ST_OK,
	    "", "[a];a.k=v;a.j=w;" },
	{ "empty value", "[a]\nk =\n", ST_OK, "", "[a];a.k=;" },
	{ "':' separates too (inih)", "[a]\nk: v\n", ST_OK, "",
	    "[a];a.k=v;" },
	{ "a value keeps '=' and ':'", "[a]\nurl = http://h:1/?a=b\n",
	    ST_OK, "", "[a];a.url=http://h:1/?a=b;" },
	{ "section names keep blanks inside", "[a b]\nk = v\n", ST_OK, "",
	    "[a b];a b.k=v;" },
	{ "same key in two sections", "[a]\nk = 1\n[b]\nk = 2\n", ST_OK, "",
	    "[a];a.k=1;[b];b.k=2;" },
	{ "empty sections are reported", "[a]\n[b]\n; c\n[c]\n", ST_OK, "",
	    "[a];[b];[c];" },
	/* comments */
	{ "; and # comment lines", "; top\n[a]\n# x = y\n; k = z\nk = v\n",
	    ST_OK, "", "[a];a.k=v;" },
	{ "inline ; comment after a blank", "[a]\nk = v ; the comment\n",
	    ST_OK, "", "[a];a.k=v;" },
	{ "inline ; comment after a tab", "[a]\nk = v\t; c\n", ST_OK, "",
	    "[a];a.k=v;" },
	{ "';' without a blank before it is part of the value",
	    "[a]\nk = x;y\n", ST_OK, "", "[a];a.k=x;y;" },
	{ "'#' inside a value is not a comment", "[a]\nk = v # x\n", ST_OK,
	    "", "[a];a.k=v # x;" },
	{ "comment after a section", "[a] ; c\nk = v\n", ST_OK, "",
	    "[a];a.k=v;" },
	/* indentation: never a continuation line */
	{ "indented keys", "[a]\n  k = v\n\tj = w\n", ST_OK, "",
	    "[a];a.k=v;a.j=w;" },
	{ "indented section", "  [a]\nk = v\n", ST_OK, "", "[a];a.k=v;" },
	{ "indented text after a key is an error, not a continuation",
	    "[a]\nk = v\n    more\n", ST_CONFIG,
	    PATH ":3: syntax error", "[a];a.k=v;" },
	/* BOM and CRLF */
	{ "UTF-8 BOM", "\xef\xbb\xbf[a]\nk = v\n", ST_OK, "", "[a];a.k=v;" },
	{ "BOM then a key outside a section", "\xef\xbb\xbfk = v\n",
	    ST_CONFIG, PATH ":1: 'k' is outside any [section]", "" },
	{ "BOM then a refused section", "\xef\xbb\xbf[bad]\n", ST_CONFIG,
	    PATH ":1: refused [bad]", "" },
	{ "CRLF line endings", "[a]\r\nk = v\r\nj=w\r\n\r\n; c\r\n",
	    ST_OK, "", "[a];a.k=v;a.j=w;" },
	{ "CRLF with an inline comment", "[a]\r\nk = v ; c\r\n", ST_OK, "",
	    "[a];a.k=v;" },
	{ "CRLF error names the line", "[a]\r\nk = v\r\nbroken\r\n",
	    ST_CONFIG, PATH ":3: syntax error", "[a];a.k=v;" },
	{ "CRLF section", "[a]\r\n[b]\r\n", ST_OK, "", "[a];[b];" },
	{ "BOM and CRLF", "\xef\xbb\xbf[a]\r\nk = v\r\n", ST_OK, "",
	    "[a];a.k=v;" },
	/* errors */
	{ "key outside a section", "k = v\n[a]\nj = w\n", ST_CONFIG,
	    PATH ":1: 'k' is outside any [section]", "" },
	{ "key outside a section after comments", "; c\n\nk = v\n",
	    ST_CONFIG, PATH ":3: 'k' is outside any [section]", "" },
	{ "duplicate key", "[a]\nk = 1\nk = 2\n", ST_CONFIG,
	    PATH ":3: 'k' is given twice in [a]", "[a];a.k=1;" },
	{ "duplicate key, section given twice",
	    "[a]\nk = 1\n[b]\nj = 2\n[a]\nk = 3\n", ST_CONFIG,
	    PATH ":6: 'k' is given twice in [a]", "[a];a.k=1;[b];b.j=2;[a];" },
	{ "a line without '='", "[a]\nnovalue\n", ST_CONFIG,
	    PATH ":2: syntax error (expected [section], key = value", "[a];" },
	{ "unterminated section", "[a\nk = v\n", ST_CONFIG,
	    PATH ":1: syntax error", "" },
	{ "handler error", "[a]\nk = v\nfail = bad\n", ST_CONFIG,
	    PATH ":3: refused 'bad'", "[a];a.k=v;" },
	{ "refused section, even empty", "[a]\nk = v\n; c\n[bad]\n",
	    ST_CONFIG, PATH ":4: refused [bad]", "[a];a.k=v;" },
	{ "first error wins: handler, then syntax",
	    "[a]\nfail = one\nbroken\nfail = two\n", ST_CONFIG,
	    PATH ":2: refused 'one'", "[a];" },
	{ "first error wins: syntax, then handler",
	    "[a]\nbroken\nfail = two\n", ST_CONFIG,
	    PATH ":2: syntax error", "[a];" },
	{ "first error wins: syntax, then section",
	    "[a]\nbroken\n[bad]\n", ST_CONFIG, PATH ":2: syntax error",
	    "[a];" },
	{ "first error wins: syntax, then duplicate",
	    "[a]\nk = 1\nbroken\nk = 2\n", ST_CONFIG,
	    PATH ":3: syntax error", "[a];a.k=1;" },
	{ "first error wins: two handler errors",
	    "[a]\nfail = one\n[bad]\nfail = two\n", ST_CONFIG,
	    PATH ":2: refused 'one'", "[a];" },
	{ "nothing is passed on after an error",
	    "[a]\nfail = x\nk = v\n[b]\n", ST_CONFIG, PATH ":2: refused 'x'",
	    "[a];" },
};

static void
test_ini_table(void **state)
{
	struct status st;
	struct calls c;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(ini_cases); i++) {
		const struct ini_case *k = &ini_cases[i];

		rc = parse(k->text, strlen(k->text), ST_CONFIG, &c, &st);
		CHECK_INT(k->what, rc, k->rc);
		if (k->rc == ST_OK) {
			CHECK_STR(k->what, st.msg, "");
		} else {
			CHECK_INT(k->what, st.code, k->rc);
			CHECK_HAS(k->what, st.msg, k->msg);
		}
		CHECK_STR(k->what, c.buf, k->calls);
		free(c.buf);
	}
}

/* the error code is the caller's */
static void
test_ini_errcode_is_the_callers(void **state)
{
	struct status st;
	struct calls c;

	(void)state;
	assert_int_equal(parse("[a]\nk\n", 6, ST_FAIL, &c, &st), ST_FAIL);
	assert_int_equal(st.code, ST_FAIL);
	assert_non_null(strstr(st.msg, PATH ":2: syntax error"));
	free(c.buf);
	assert_int_equal(parse("k = v\n", 6, ST_FAIL, &c, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, PATH ":1: "));
	free(c.buf);
}

/* only len bytes are parsed: text after them is not seen */
static void
test_ini_len_bounds_the_text(void **state)
{
	const char text[] = "[a]\nk = v\nbroken";
	struct status st;
	struct calls c;

	(void)state;
	assert_int_equal(parse(text, 10, ST_CONFIG, &c, &st), ST_OK);
	assert_string_equal(c.buf, "[a];a.k=v;");
	free(c.buf);
}

/* ------------------------------------------------------------------ */
/* long lines: up to CAP_INI_LINE bytes (without the line end) pass whole */

/* "[a]\n" + "k = " + value of vlen bytes + eol + "j = w\n" */
static char *
long_line_text(size_t vlen, const char *eol, size_t *len)
{
	size_t n = 4 + 4 + vlen + strlen(eol) + 6, i;
	char *t = malloc(n + 1);

	assert_non_null(t);
	memcpy(t, "[a]\nk = ", 8);
	for (i = 0; i < vlen; i++)
		t[8 + i] = (char)('a' + i % 26);
	memcpy(t + 8 + vlen, eol, strlen(eol));
	memcpy(t + 8 + vlen + strlen(eol), "j = w\n", 7);
	*len = n;
	return t;
}

struct long_case {
	const char *what;
	size_t line;		/* length of "k = VALUE" */
	const char *eol;
	int ok;
};

static const struct long_case long_cases[] = {
	{ "199 bytes", 199, "\n", 1 },	/* inih's own buffer is 200 */
	{ "200 bytes", 200, "\n", 1 },
	{ "500 bytes", 500, "\n", 1 },
	{ "CAP_INI_LINE bytes", CAP_INI_LINE, "\n", 1 },
	{ "CAP_INI_LINE bytes, CRLF", CAP_INI_LINE, "\r\n", 1 },
	{ "CAP_INI_LINE bytes, last line", CAP_INI_LINE, "", 1 },
	{ "CAP_INI_LINE + 1 bytes", CAP_INI_LINE + 1, "\n", 0 },
	{ "CAP_INI_LINE + 1 bytes, CRLF", CAP_INI_LINE + 1, "\r\n", 0 },
	{ "CAP_INI_LINE + 1 bytes, last line", CAP_INI_LINE + 1, "", 0 },
	{ "4 * CAP_INI_LINE bytes", 4 * CAP_INI_LINE, "\n", 0 },
};

static void
test_ini_long_lines(void **state)
{
	char msg[128];
	struct status st;
	struct calls c;
	size_t i, len;
	char *t;
	int rc;

	(void)state;
	snprintf(msg, sizeof(msg), PATH ":2: line longer than %d bytes",
	    CAP_INI_LINE);
	for (i = 0; i < NELEM(long_cases); i++) {
		const struct long_case *k = &long_cases[i];
		size_t vlen = k->line - 4;

		t = long_line_text(vlen, k->eol, &len);
		if (k->eol[0] == '\0')
			len -= 6;	/* k is the last line */
		rc = parse(t, len, ST_CONFIG, &c, &st);
		if (k->ok) {
			CHECK_INT(k->what, rc, ST_OK);
			/* the whole value, then the next line as usual */
			CHECK_INT(k->what, strlen(c.buf), 4 + 4 + vlen + 1 +
			    (k->eol[0] != '\0' ? 6 : 0));
			CHECK_INT(k->what, memcmp(c.buf, "[a];a.k=", 8), 0);
			CHECK_INT(k->what, memcmp(c.buf + 8, t + 8, vlen), 0);
		} else {
			CHECK_INT(k->what, rc, ST_CONFIG);
			CHECK_HAS(k->what, st.msg, msg);
			/* parsing stops at the long line */
			CHECK_STR(k->what, c.buf, "[a];");
		}
		free(c.buf);
		free(t);
	}
}

/* a long comment line is refused too, with its own line number */
static void
test_ini_long_comment_line(void **state)
{
	char text[CAP_INI_LINE + 64], msg[128];
	struct status st;
	struct calls c;
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "[a]\nk = v\n;");
	memset(text + n, 'c', CAP_INI_LINE);
	n += CAP_INI_LINE;
	text[n++] = '\n';
	assert_int_equal(parse(text, n, ST_CONFIG, &c, &st), ST_CONFIG);
	snprintf(msg, sizeof(msg), PATH ":3: line longer than %d",
	    CAP_INI_LINE);
	assert_non_null(strstr(st.msg, msg));
	assert_string_equal(c.buf, "[a];a.k=v;");
	free(c.buf);
}

/* INIFILE_SEEN_MAX distinct keys pass; one more is an error on its line */
static void
test_ini_too_many_keys(void **state)
{
	char *text, msg[64];
	struct status st;
	struct calls c;
	size_t used, cap = 32 * (INIFILE_SEEN_MAX + 2);
	int i, n;

	(void)state;
	assert_non_null(text = malloc(cap));
	used = (size_t)snprintf(text, cap, "[a]\n");
	for (i = 0; i < INIFILE_SEEN_MAX; i++) {
		n = snprintf(text + used, cap - used, "k%d = %d\n", i, i);
		assert_true(n > 0 && (size_t)n < cap - used);
		used += (size_t)n;
	}
	assert_int_equal(parse(text, used, ST_CONFIG, &c, &st), ST_OK);
	free(c.buf);
	n = snprintf(text + used, cap - used, "one = more\n");
	used += (size_t)n;
	assert_int_equal(parse(text, used, ST_CONFIG, &c, &st), ST_CONFIG);
	snprintf(msg, sizeof(msg), PATH ":%d: more than %d keys",
	    INIFILE_SEEN_MAX + 2, INIFILE_SEEN_MAX);
	assert_non_null(strstr(st.msg, msg));
	free(c.buf);
	free(text);
}

/* text from the file is cleaned in the message */
static void
test_ini_message_is_clean_text(void **state)
{
	const char text[] = "[a]\nfail = \x1b[31mred\xff\n";
	struct status st;
	struct calls c;

	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, ST_CONFIG, &c, &st),
	    ST_CONFIG);
	assert_non_null(strstr(st.msg, PATH ":2: refused '?[31mred?'"));
	free(c.buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini_table),
		cmocka_unit_test(test_ini_errcode_is_the_callers),
		cmocka_unit_test(test_ini_len_bounds_the_text),
		cmocka_unit_test(test_ini_long_lines),
		cmocka_unit_test(test_ini_long_comment_line),
		cmocka_unit_test(test_ini_too_many_keys),
		cmocka_unit_test(test_ini_message_is_clean_text),
	};

	return cmocka_run_group_tests_name("inifile", tests, NULL, NULL);
}
