/*
 * test_text.c: UTF-8 validation, text_clean, text_trim, text_copy,
 * text_long and text_glob, each from a table of cases.
 */
#include "testlib.h"
#include "base/text.h"

#define GUARD 16

/* ------------------------------------------------------------------ */
/* text_utf8_seq and text_utf8_valid */

struct utf8_case {
	const char *what;
	const char *s;
	size_t n;
	size_t seq;	/* text_utf8_seq of the first sequence, 0 invalid */
	int valid;	/* text_utf8_valid of the whole */
};

#define U(what, lit, seq, valid) { what, lit, sizeof(lit) - 1, seq, valid }

static const struct utf8_case utf8_cases[] = {
	U("ascii", "a", 1, 1),
	U("ascii NUL counts as a character", "\0", 1, 1),
	U("ascii DEL", "\x7f", 1, 1),
	U("U+0080 smallest 2-byte", "\xc2\x80", 2, 1),
	U("U+07FF largest 2-byte", "\xdf\xbf", 2, 1),
	U("overlong 2-byte NUL c0 80", "\xc0\x80", 0, 0),
	U("overlong 2-byte c1 bf", "\xc1\xbf", 0, 0),
	U("2-byte, bad continuation", "\xc3\x28", 0, 0),
	U("2-byte, truncated", "\xc3", 0, 0),
	U("U+0800 smallest 3-byte", "\xe0\xa0\x80", 3, 1),
	U("overlong 3-byte e0 80 80", "\xe0\x80\x80", 0, 0),
	U("overlong 3-byte e0 9f bf", "\xe0\x9f\xbf", 0, 0),
	U("U+D7FF before the surrogates", "\xed\x9f\xbf", 3, 1),
	U("surrogate U+D800", "\xed\xa0\x80", 0, 0),
	U("surrogate U+DFFF", "\xed\xbf\xbf", 0, 0),
	U("U+E000 after the surrogates", "\xee\x80\x80", 3, 1),
	U("U+FFFF", "\xef\xbf\xbf", 3, 1),
	U("euro sign", "\xe2\x82\xac", 3, 1),
	U("3-byte, bad second byte", "\xe2\x28\xa1", 0, 0),
	U("3-byte, bad third byte", "\xe2\x82\x28", 0, 0),
	U("3-byte, truncated", "\xe2\x82", 0, 0),
	U("U+10000 smallest 4-byte", "\xf0\x90\x80\x80", 4, 1),
	U("overlong 4-byte f0 8f bf bf", "\xf0\x8f\xbf\xbf", 0, 0),
	U("U+10FFFF largest", "\xf4\x8f\xbf\xbf", 4, 1),
	U("U+110000 above the range", "\xf4\x90\x80\x80", 0, 0),
	U("f5 lead byte", "\xf5\x80\x80\x80", 0, 0),
	U("4-byte, bad fourth byte", "\xf0\x90\x80\x28", 0, 0),
	U("4-byte, truncated", "\xf0\x90\x80", 0, 0),
	U("5-byte form", "\xf8\x88\x80\x80\x80", 0, 0),
	U("6-byte form", "\xfc\x84\x80\x80\x80\x80", 0, 0),
	U("lone continuation byte", "\x80", 0, 0),
	U("fe", "\xfe", 0, 0),
	U("ff", "\xff", 0, 0),
	U("mixed valid text", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 1, 1),
	U("valid then a surrogate", "ok \xed\xa0\x80", 1, 0),
	U("valid then truncated at the end", "ok \xe2\x82", 1, 0),
};

static void
test_utf8_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(utf8_cases); i++) {
		const struct utf8_case *c = &utf8_cases[i];

		CHECK_INT(c->what, text_utf8_seq((const unsigned char *)c->s,
		    c->n), c->seq);
		CHECK_INT(c->what, text_utf8_valid(c->s, c->n), c->valid);
	}
}

static void
test_utf8_empty_and_length_limits(void **state)
{
	const unsigned char euro[] = { 0xe2, 0x82, 0xac };

	(void)state;
	assert_int_equal(text_utf8_valid("", 0), 1);
	assert_int_equal(text_utf8_seq(euro, 0), 0);
	/* n limits the look-ahead: a sequence cut by n is invalid */
	assert_int_equal(text_utf8_seq(euro, 2), 0);
	assert_int_equal(text_utf8_seq(euro, 3), 3);
	assert_int_equal(text_utf8_valid((const char *)euro, 2), 0);
}

/* every single byte: valid alone exactly when it is ASCII */
static void
test_utf8_every_single_byte(void **state)
{
	unsigned b;

	(void)state;
	for (b = 0; b < 256; b++) {
		unsigned char c = (unsigned char)b;

		assert_int_equal(text_utf8_seq(&c, 1), b < 0x80 ? 1 : 0);
	}
}

/* ------------------------------------------------------------------ */
/* text_clean */

struct clean_case {
	const char *what;
	const char *src;
	size_t srclen;
	size_t dstlen;
	const char *want;
};

#define C(what, lit, dstlen, want) { what, lit, sizeof(lit) - 1, dstlen, want }

static const struct clean_case clean_cases[] = {
	C("plain ascii", "hello", 64, "hello"),
	C("empty", "", 64, ""),
	C("tab, newline, CR become spaces", "a\tb\nc\rd", 64, "a b c d"),
	C("C0 controls and DEL become ?", "\x01x\x1f\x1b[0m\x7f", 64,
	    "?x??[0m?"),
	C("NUL inside the source", "a\0b", 64, "a?b"),
	C("valid UTF-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    64, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	C("C1 controls U+0080 and U+009F become one ? each",
	    "a\xc2\x80" "b\xc2\x9f" "c", 64, "a?b?c"),
	C("U+00A0 is not a C1 control", "\xc2\xa0", 64, "\xc2\xa0"),
	C("invalid bytes", "\xff\xfe", 64, "??"),
	C("overlong, byte by byte", "\xc0\xaf", 64, "??"),
	C("surrogate, byte by byte", "\xed\xa0\x80", 64, "???"),
	C("above U+10FFFF, byte by byte", "\xf4\x90\x80\x80", 64, "????"),
	C("truncated sequence at the end", "ab\xe2\x82", 64, "ab??"),
	C("lone continuation in the middle", "a\x80z", 64, "a?z"),
	/* cutting: "..." and the NUL must fit in dstlen */
	C("cut ascii", "abcdefghij", 8, "abcd..."),
	C("exactly fits, not cut", "abcdefg", 8, "abcdefg"),
	C("one more than fits", "abcdefgh", 8, "abcd..."),
	C("dstlen 4, 3 bytes fit", "abc", 4, "abc"),
	C("dstlen 4, 4 bytes: only the dots", "abcd", 4, "..."),
	C("dstlen 5, 5 bytes", "abcde", 5, "a..."),
	C("cut before a 3-byte char", "ab\xe2\x82\xac\xe2\x82\xac", 8,
	    "ab..."),
	C("3-byte chars that fit", "ab\xe2\x82\xac\xe2\x82\xac", 9,
	    "ab\xe2\x82\xac\xe2\x82\xac"),
	C("cut after a whole 3-byte char",
	    "ab\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 10,
	    "ab\xe2\x82\xac..."),
	C("cut before a 4-byte char", "a\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
	    8, "a..."),
	C("cut where controls were replaced", "\x01\x02\x03\x04\x05\x06",
	    6, "??..."),
	C("C1 controls shrink to one byte each", "abc\xc2\x80\xc2\x80\xc2\x80",
	    7, "abc???"),
	C("C1 at the cut", "abc\xc2\x80\xc2\x80\xc2\x80", 6, "ab..."),
	C("C1 that fits", "ab\xc2\x80", 5, "ab?"),
};

/* The output is always safe text, whatever the input. */
static void
assert_clean_output(const char *out, size_t ret, size_t dstlen)
{
	size_t i;

	assert_int_equal(strlen(out), ret);
	assert_true(ret < dstlen);
	assert_int_equal(text_utf8_valid(out, ret), 1);
	for (i = 0; i < ret; i++) {
		unsigned char c = (unsigned char)out[i];

		assert_false(c < 0x20 || c == 0x7f);
		if (c == 0xc2 && i + 1 < ret)
			assert_false((unsigned char)out[i + 1] < 0xa0);
	}
}

static void
test_clean_table(void **state)
{
	char buf[128 + GUARD];
	size_t i, j, ret;

	(void)state;
	for (i = 0; i < NELEM(clean_cases); i++) {
		const struct clean_case *c = &clean_cases[i];

		assert_true(c->dstlen + GUARD <= sizeof(buf));
		memset(buf, 'Z', sizeof(buf));
		ret = text_clean(buf, c->dstlen, c->src, c->srclen);
		CHECK_STR(c->what, buf, c->want);
		CHECK_INT(c->what, ret, strlen(c->want));
		assert_clean_output(buf, ret, c->dstlen);
		for (j = c->dstlen; j < sizeof(buf); j++)
			assert_int_equal(buf[j], 'Z');
	}
}

/* dstlen below 4: an empty string when there is room for the NUL */
static void
test_clean_tiny_buffers(void **state)
{
	char buf[8];
	size_t n;

	(void)state;
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(text_clean(buf, 0, "abc", 3), 0);
	assert_int_equal(buf[0], 'Z');
	for (n = 1; n < 4; n++) {
		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(text_clean(buf, n, "abc", 3), 0);
		assert_string_equal(buf, "");
		assert_int_equal(buf[1], 'Z');
	}
}

/* Deterministic pseudo-random bytes: the output is always safe text. */
static void
test_clean_random_bytes(void **state)
{
	char src[64], dst[64 + GUARD];
	uint32_t x = 12345;
	size_t round, i, n, dstlen, ret;

	(void)state;
	for (round = 0; round < 20000; round++) {
		x = x * 1103515245u + 12345u;
		n = (x >> 16) % sizeof(src);
		for (i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			/* bias towards UTF-8 lead and continuation bytes */
			src[i] = (char)((x >> 16) & 0xff);
			if ((x >> 8) % 3 == 0)
				src[i] = (char)(0x80 | ((x >> 20) & 0x3f));
		}
		dstlen = 4 + (x >> 24) % 60;
		memset(dst, 'Z', sizeof(dst));
		ret = text_clean(dst, dstlen, src, n);
		assert_clean_output(dst, ret, dstlen);
		for (i = dstlen; i < sizeof(dst); i++)
			assert_int_equal(dst[i], 'Z');
		/* valid, control-free input that fits comes out unchanged */
		if (n < dstlen && text_utf8_valid(src, n)) {
			int plain = 1;

			for (i = 0; i < n; i++)
				if ((unsigned char)src[i] < 0x20 ||
				    src[i] == 0x7f || ((unsigned char)src[i]
				    == 0xc2 && i + 1 < n &&
				    (unsigned char)src[i + 1] < 0xa0))
					plain = 0;
			if (plain) {
				assert_int_equal(ret, n);
				assert_memory_equal(dst, src, n);
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* text_trim */

struct trim_case {
	const char *in, *want;
};

static const struct trim_case trim_cases[] = {
	{ "abc", "abc" },
	{ "", "" },
	{ "   ", "" },
	{ " \t ", "" },
	{ "  a b  ", "a b" },
	{ "\tvalue\t", "value" },
	{ "InService\n", "InService" },
	{ "uuid\r\n", "uuid" },
	{ "a \t\r\n", "a" },
	{ "a  b", "a  b" },
};

static void
test_trim_table(void **state)
{
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(trim_cases); i++) {
		text_copy(buf, trim_cases[i].in, sizeof(buf));
		assert_ptr_equal(text_trim(buf), buf);
		CHECK_STR(trim_cases[i].in, buf, trim_cases[i].want);
	}
}

/* ------------------------------------------------------------------ */
/* text_copy */

struct copy_case {
	const char *src;
	size_t dstlen;
	const char *want;	/* NULL: dst untouched */
};

static const struct copy_case copy_cases[] = {
	{ "abc", 10, "abc" },
	{ "abc", 4, "abc" },
	{ "abcdef", 4, "abc" },
	{ "abc", 1, "" },
	{ "abc", 0, NULL },
	{ "", 5, "" },
	{ "", 1, "" },
};

static void
test_copy_table(void **state)
{
	char buf[32];
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(copy_cases); i++) {
		const struct copy_case *c = &copy_cases[i];

		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(text_copy(buf, c->src, c->dstlen),
		    strlen(c->src));
		if (c->want == NULL)
			assert_int_equal(buf[0], 'Z');
		else
			assert_string_equal(buf, c->want);
		for (j = c->dstlen; j < sizeof(buf); j++)
			assert_int_equal(buf[j], 'Z');
	}
}

/* ------------------------------------------------------------------ */
/* text_long */

struct long_case {
	const char *s;
	long min, max;
	int rc;
	long want;
};

static const struct long_case long_cases[] = {
	{ "0", 0, 10, 0, 0 },
	{ "42", 0, 100, 0, 42 },
	{ " 42 ", 0, 100, 0, 42 },
	{ "\t42\t", 0, 100, 0, 42 },
	{ "007", 0, 100, 0, 7 },
	{ "-5", -10, 10, 0, -5 },
	{ "10", -10, 10, 0, 10 },
	{ "-10", -10, 10, 0, -10 },
	{ "11", -10, 10, -1, 0 },
	{ "-11", -10, 10, -1, 0 },
	{ "0", 1, 3600, -1, 0 },
	{ "3601", 1, 3600, -1, 0 },
	{ "9223372036854775807", 0, LONG_MAX, 0, LONG_MAX },
	{ "-9223372036854775808", LONG_MIN, 0, 0, LONG_MIN },
	{ "9223372036854775808", 0, LONG_MAX, -1, 0 },
	{ "-9223372036854775809", LONG_MIN, 0, -1, 0 },
	{ "99999999999999999999999", 0, LONG_MAX, -1, 0 },
	{ "", 0, 10, -1, 0 },
	{ "   ", 0, 10, -1, 0 },
	{ "+5", 0, 10, -1, 0 },
	{ " +5", 0, 10, -1, 0 },
	{ "+", 0, 10, -1, 0 },
	{ "-", -10, 10, -1, 0 },
	{ "--5", -10, 10, -1, 0 },
	{ "- 5", -10, 10, -1, 0 },
	{ "5-", 0, 10, -1, 0 },
	{ "abc", 0, 10, -1, 0 },
	{ "12abc", 0, 100, -1, 0 },
	{ "1 2", 0, 100, -1, 0 },
	{ "1.5", 0, 10, -1, 0 },
	{ "1e3", 0, 10000, -1, 0 },
	{ "0x10", 0, 100, -1, 0 },
	{ "5\n", 0, 10, -1, 0 },
	{ "\n5", 0, 10, -1, 0 },
	{ "\v5", 0, 10, -1, 0 },
	{ "\n+5", 0, 10, -1, 0 },
	{ "\xef\xbc\x95", 0, 10, -1, 0 },	/* fullwidth digit five */
};

static void
test_long_table(void **state)
{
	size_t i;
	long v;

	(void)state;
	for (i = 0; i < NELEM(long_cases); i++) {
		const struct long_case *c = &long_cases[i];

		v = 777;
		CHECK_INT(c->s, text_long(c->s, c->min, c->max, &v), c->rc);
		CHECK_INT(c->s, v, c->rc == 0 ? c->want : 777);
	}
}

/* ------------------------------------------------------------------ */
/* text_glob */

struct glob_case {
	const char *pat, *s;
	int want;
};

static const struct glob_case glob_cases[] = {
	{ "", "", 1 },
	{ "", "a", 0 },
	{ "*", "", 1 },
	{ "**", "", 1 },
	{ "?", "", 0 },
	{ "a", "a", 1 },
	{ "a", "A", 0 },
	{ "api", "api", 1 },
	{ "api", "api2", 0 },
	{ "api2", "api", 0 },
	{ "*", "anything at all", 1 },
	{ "a*", "a", 1 },
	{ "a*", "abc", 1 },
	{ "a*", "ba", 0 },
	{ "*c", "abc", 1 },
	{ "*c", "abcd", 0 },
	{ "*b*", "abc", 1 },
	{ "*b*", "acd", 0 },
	{ "a?c", "abc", 1 },
	{ "a?c", "ac", 0 },
	{ "a?c", "abbc", 0 },
	{ "a*b", "ab", 1 },
	{ "a*b", "axxbxxb", 1 },
	{ "a*b", "abc", 0 },
	{ "*a*b", "xaybzb", 1 },
	{ "*x", "xxxxxxxxxxy", 0 },
	{ "*?", "", 0 },
	{ "*?", "a", 1 },
	{ "prod-*", "prod-eu-1", 1 },
	{ "prod-*", "staging", 0 },
	{ "web-??", "web-01", 1 },
	{ "web-??", "web-1", 0 },
	{ "[ab]", "a", 0 },		/* no classes: '[' is literal */
	{ "[ab]", "[ab]", 1 },
	{ "\\*", "\\xyz", 1 },		/* no escapes: '\' is literal */
	{ "?", "\xc3\xa9", 1 },		/* '?' is one character */
	{ "??", "\xc3\xa9", 0 },
	{ "caf?", "caf\xc3\xa9", 1 },
	{ "caf*", "caf\xc3\xa9", 1 },
	{ "?", "\xf0\x9f\x9a\x80", 1 },	/* a 4-byte character */
	{ "x?y", "x\xe6\x97\xa5y", 1 },
	{ "*?", "\xe6\x97\xa5", 1 },
	{ "*\xc3\xa9", "caf\xc3\xa9", 1 },
	{ "*?\xc3\xa9", "\xc3\xa9\xc3\xa9", 1 },
	{ "*?\xc3\xa9", "\xc3\xa9", 0 },
	/* invalid UTF-8 steps byte by byte: a string still matches itself
	 * (fuzz_text, text/crash-glob-question-mark-stray-continuation) */
	{ "?\x80", "?\x80", 1 },
	{ "?*\xa0\x80", "?*\xa0\x80", 1 },
	{ "\xc0\xaf?*\xa0\x80", "\xc0\xaf?*\xa0\x80", 1 },
	{ "?", "\xc3", 1 },		/* a lone lead byte is one "character" */
	{ "?", "\xc3\x28", 0 },	/* not a sequence: two bytes, two '?' */
};

static void
test_glob_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(glob_cases); i++) {
		char what[128];

		snprintf(what, sizeof(what), "'%s' on '%s'",
		    glob_cases[i].pat, glob_cases[i].s);
		CHECK_INT(what, text_glob(glob_cases[i].pat, glob_cases[i].s),
		    glob_cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_table),
		cmocka_unit_test(test_utf8_empty_and_length_limits),
		cmocka_unit_test(test_utf8_every_single_byte),
		cmocka_unit_test(test_clean_table),
		cmocka_unit_test(test_clean_tiny_buffers),
		cmocka_unit_test(test_clean_random_bytes),
		cmocka_unit_test(test_trim_table),
		cmocka_unit_test(test_copy_table),
		cmocka_unit_test(test_long_table),
		cmocka_unit_test(test_glob_table),
	};

	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
