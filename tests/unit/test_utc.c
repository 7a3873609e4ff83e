/*
 * test_utc.c: the one parser of AWS's wall-clock times (base/utc.h): both
 * forms, days that do not exist, zones, fractions, every day of 1970..2100
 * against gmtime_r, and utc_parse_iso refusing the GMT form.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/utc.h"
#include "testlib.h"

/* ------------------------------------------------------------------ */
/* both forms, and the bad ones */

static const struct {
	const char *s;
	int ok;
	long long epoch;
} time_cases[] = {
	{ "21 Jan 2019 09:00:43 GMT", 1, 1548061243LL },	/* AWS's */
	{ "21 Jan 2019 09:17:23 GMT", 1, 1548062243LL },
	{ "1 Feb 2019 09:00:43 GMT", 1, 1549011643LL },
	{ "01 Feb 2019 09:00:43 GMT", 1, 1549011643LL },
	{ "29 Feb 2024 00:00:00 GMT", 1, 1709164800LL },
	{ "2026-12-06T12:00:00Z", 1, 1796558400LL },
	{ "2026-12-06T11:58:00Z", 1, 1796558280LL },
	{ "2026-12-06T12:00:00.000Z", 1, 1796558400LL },
	{ "2026-12-06T12:00:00.123456789Z", 1, 1796558400LL },
	{ "1970-01-01T00:00:00Z", 1, 0 },
	{ "9999-12-31T23:59:59Z", 1, 253402300799LL },
	{ "2000-02-29T23:59:59Z", 1, 951868799LL },
	/* role credentials' Expiration */
	{ "2026-11-26T07:00:00Z", 1, 1795676400LL },
	{ "2026-11-26T07:00:00.123Z", 1, 1795676400LL },
	{ "2024-02-29T23:59:59Z", 1, 1709251199LL },
	{ "2026-11-26T07:00:00+01:00", 0, 0 },
	{ "", 0, 0 },
	{ "now", 0, 0 },
	{ "29 Feb 2019 00:00:00 GMT", 0, 0 },	/* no such day */
	{ "31 Apr 2019 00:00:00 GMT", 0, 0 },
	{ "2019-02-30T00:00:00Z", 0, 0 },
	{ "1900-02-29T00:00:00Z", 0, 0 },
	{ "1969-12-31T23:59:59Z", 0, 0 },	/* before 1970 */
	{ "21 Jan 1969 09:00:43 GMT", 0, 0 },
	{ "21 jan 2019 09:00:43 GMT", 0, 0 },	/* month as AWS writes it */
	{ "21 January 2019 09:00:43 GMT", 0, 0 },
	{ "21 Jan 2019 09:00:43 UTC", 0, 0 },
	{ "21 Jan 2019 09:00:43", 0, 0 },
	{ "21 Jan 2019 09:00:43 GMT ", 0, 0 },
	{ " 21 Jan 2019 09:00:43 GMT", 0, 0 },
	{ "21 Jan 2019 24:00:00 GMT", 0, 0 },
	{ "21 Jan 2019 09:60:00 GMT", 0, 0 },
	{ "21 Jan 2019 09:00:60 GMT", 0, 0 },	/* no leap second */
	{ "Mon, 21 Jan 2019 09:00:43 GMT", 0, 0 },
	{ "123 Jan 2019 09:00:43 GMT", 0, 0 },
	{ "0 Jan 2019 09:00:43 GMT", 0, 0 },
	{ "2026-12-06T12:00:00", 0, 0 },	/* no zone */
	{ "2026-12-06T12:00:00+00:00", 0, 0 },
	{ "2026-12-06 12:00:00Z", 0, 0 },
	{ "2026-12-06T12:00:00.Z", 0, 0 },
	{ "2026-12-06T12:00:00.1234567890Z", 0, 0 },	/* 10 digits */
	{ "2026-13-06T12:00:00Z", 0, 0 },
	{ "2026-00-06T12:00:00Z", 0, 0 },
	{ "2026-12-00T12:00:00Z", 0, 0 },
	{ "+026-12-06T12:00:00Z", 0, 0 },
	{ "2026-1a-06T12:00:00Z", 0, 0 },
	{ "10000-12-06T12:00:00Z", 0, 0 },
	{ "1796558400", 0, 0 },
};

static void
test_times(void **state)
{
	char what[96];
	time_t t;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(time_cases); i++) {
		snprintf(what, sizeof(what), "time '%s'", time_cases[i].s);
		t = (time_t)-42;
		rc = utc_parse(time_cases[i].s, &t);
		CHECK_INT(what, rc, time_cases[i].ok ? 0 : -1);
		if (time_cases[i].ok)
			CHECK_INT(what, t, time_cases[i].epoch);
	}
}

/* every day of 1970..2100 reads back through gmtime_r */
static void
test_times_every_day(void **state)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char iso[40], gmt[40];
	struct tm g;
	time_t t, a, b;

	(void)state;
	for (t = 0; t < (time_t)4102444800LL; t += 86400 + 3661) {
		assert_non_null(gmtime_r(&t, &g));
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &g);
		snprintf(gmt, sizeof(gmt), "%d %s %04d %02d:%02d:%02d GMT",
		    g.tm_mday, mon[g.tm_mon], g.tm_year + 1900, g.tm_hour,
		    g.tm_min, g.tm_sec);
		assert_int_equal(utc_parse(iso, &a), 0);
		assert_int_equal(utc_parse(gmt, &b), 0);
		if (a != t || b != t)
			fail_msg("%s / %s: %lld, %lld, want %lld", iso, gmt,
			    (long long)a, (long long)b, (long long)t);
	}
}

/* credentials take the ISO form only */
static void
test_iso_only(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(utc_parse_iso("2026-11-26T07:00:00Z", &t), 0);
	assert_int_equal(t, 1795676400);
	assert_int_equal(utc_parse_iso("21 Jan 2019 09:00:43 GMT", &t), -1);
	assert_int_equal(utc_parse_iso("2026-02-30T00:00:00Z", &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_times_every_day),
		cmocka_unit_test(test_iso_only),
	};

	return cmocka_run_group_tests_name("utc", tests, NULL, NULL);
}
