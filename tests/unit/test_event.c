/*
 * test_event.c: event names and programs, the default checks of each event
 * (cdgate-hooks(8): man/cdgate-hooks.8), check names and check_list.
 *
 * Written so that adding a check does not break it: the four first checks
 * (lifecycle, marker, tags, health) are compared through a mask of their
 * bits, DESIGN_CHECKS, and the name tables are walked up to CHK_COUNT.
 */
#include "base/event.h"
#include "testlib.h"

#define DESIGN_CHECKS (CHK_LIFECYCLE | CHK_MARKER | CHK_TAGS | CHK_HEALTH)

/* ------------------------------------------------------------------ */
/* names and programs */

struct ev_case {
	enum event ev;
	const char *name, *program;
	unsigned checks, checks_health;	/* defaults, cdgate-hooks(8) */
};

static const struct ev_case ev_cases[] = {
	{ EV_APPLICATION_STOP, "ApplicationStop", "application-stop",
	    CHK_LIFECYCLE, CHK_LIFECYCLE },
	{ EV_BEFORE_INSTALL, "BeforeInstall", "before-install",
	    CHK_LIFECYCLE | CHK_MARKER | CHK_TAGS,
	    CHK_LIFECYCLE | CHK_MARKER | CHK_TAGS },
	{ EV_AFTER_INSTALL, "AfterInstall", "after-install",
	    CHK_LIFECYCLE, CHK_LIFECYCLE },
	{ EV_APPLICATION_START, "ApplicationStart", "application-start",
	    CHK_LIFECYCLE, CHK_LIFECYCLE },
	{ EV_VALIDATE_SERVICE, "ValidateService", "validate-service",
	    CHK_LIFECYCLE, CHK_LIFECYCLE | CHK_HEALTH },
	{ EV_BEFORE_BLOCK_TRAFFIC, "BeforeBlockTraffic",
	    "before-block-traffic", CHK_LIFECYCLE, CHK_LIFECYCLE },
	{ EV_AFTER_BLOCK_TRAFFIC, "AfterBlockTraffic", "after-block-traffic",
	    CHK_LIFECYCLE, CHK_LIFECYCLE },
	{ EV_BEFORE_ALLOW_TRAFFIC, "BeforeAllowTraffic",
	    "before-allow-traffic", CHK_LIFECYCLE | CHK_MARKER | CHK_TAGS,
	    CHK_LIFECYCLE | CHK_MARKER | CHK_TAGS | CHK_HEALTH },
	{ EV_AFTER_ALLOW_TRAFFIC, "AfterAllowTraffic", "after-allow-traffic",
	    CHK_LIFECYCLE, CHK_LIFECYCLE },
};

static void
test_every_event_is_in_the_table(void **state)
{
	(void)state;
	assert_int_equal(NELEM(ev_cases), EV_COUNT);
}

static void
test_event_names_and_programs(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(ev_cases); i++) {
		const struct ev_case *c = &ev_cases[i];

		CHECK_STR(c->name, event_name(c->ev), c->name);
		CHECK_STR(c->name, event_program(c->ev), c->program);
		CHECK_INT(c->name, event_by_name(c->name), c->ev);
	}
}

static void
test_event_out_of_range_is_unknown(void **state)
{
	(void)state;
	assert_string_equal(event_name(EV_COUNT), "unknown");
	assert_string_equal(event_program(EV_COUNT), "unknown");
	assert_string_equal(event_name((enum event)-1), "unknown");
	assert_string_equal(event_program((enum event)-1), "unknown");
}

static const char *const bad_event_names[] = {
	"", "beforeinstall", "BEFOREINSTALL", "Before Install",
	"before-install", "BeforeInstall ", " BeforeInstall", "Before",
	"BeforeInstallX", "unknown", "Install",
};

static void
test_event_by_name_is_exact(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad_event_names); i++)
		CHECK_INT(bad_event_names[i], event_by_name(bad_event_names[i]),
		    -1);
}

/* lifecycle everywhere; BeforeInstall adds marker tags; ValidateService
 * adds health when set; BeforeAllowTraffic adds marker tags and health */
static void
test_event_default_checks(void **state)
{
	size_t i;
	int drain;

	(void)state;
	for (i = 0; i < NELEM(ev_cases); i++) {
		const struct ev_case *c = &ev_cases[i];

		for (drain = 0; drain <= 1; drain++) {
			CHECK_INT(c->name, event_default_checks(c->ev, 0,
			    drain) & DESIGN_CHECKS, c->checks);
			CHECK_INT(c->name, event_default_checks(c->ev, 1,
			    drain) & DESIGN_CHECKS, c->checks_health);
		}
	}
}

/* ------------------------------------------------------------------ */
/* check names */

struct chk_case {
	unsigned bit;
	const char *name;
};

static const struct chk_case chk_cases[] = {
	{ CHK_LIFECYCLE, "lifecycle" },
	{ CHK_MARKER, "marker" },
	{ CHK_TAGS, "tags" },
	{ CHK_HEALTH, "health" },
};

static void
test_check_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(chk_cases); i++) {
		CHECK_STR(chk_cases[i].name, check_name(chk_cases[i].bit),
		    chk_cases[i].name);
		CHECK_INT(chk_cases[i].name, check_by_name(chk_cases[i].name),
		    chk_cases[i].bit);
	}
}

/* every bit below CHK_COUNT has a name that maps back to it, and no two
 * share one */
static void
test_check_names_round_trip(void **state)
{
	unsigned i, j;

	(void)state;
	for (i = 0; i < CHK_COUNT; i++) {
		const char *n = check_name(1u << i);

		assert_non_null(n);
		assert_true(n[0] != '\0');
		assert_int_equal(check_by_name(n), 1u << i);
		for (j = 0; j < i; j++)
			assert_string_not_equal(n, check_name(1u << j));
	}
}

static void
test_check_name_of_bad_bits_is_null(void **state)
{
	(void)state;
	assert_null(check_name(0));
	assert_null(check_name(CHK_LIFECYCLE | CHK_MARKER));
	assert_null(check_name(1u << CHK_COUNT));
	assert_null(check_name(1u << 31));
}

static const char *const bad_check_names[] = {
	"", "Marker", "MARKER", "marker ", " marker", "mark", "markers",
	"lifecycle,marker", "none", "all", "*",
};

static void
test_check_by_name_is_exact(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad_check_names); i++)
		CHECK_INT(bad_check_names[i], check_by_name(bad_check_names[i]),
		    0);
}

/* ------------------------------------------------------------------ */
/* check_list */

struct list_case {
	unsigned checks;
	size_t len;
	const char *want;
};

static const struct list_case list_cases[] = {
	{ 0, 64, "none" },
	{ CHK_LIFECYCLE, 64, "lifecycle" },
	{ CHK_HEALTH, 64, "health" },
	{ CHK_LIFECYCLE | CHK_MARKER | CHK_TAGS, 64,
	    "lifecycle marker tags" },
	{ CHK_TAGS | CHK_LIFECYCLE, 64, "lifecycle tags" },
	{ DESIGN_CHECKS, 64, "lifecycle marker tags health" },
	{ 1u << 31, 64, "none" },	/* unknown bits are ignored */
	{ CHK_MARKER | (1u << 31), 64, "marker" },
	/* cut, never overrun */
	{ CHK_LIFECYCLE | CHK_MARKER, 10, "lifecycle" },
	{ CHK_LIFECYCLE, 5, "life" },
	{ 0, 3, "no" },
	{ 0, 1, "" },
};

static void
test_check_list_table(void **state)
{
	char buf[64 + 16], what[64];
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(list_cases); i++) {
		const struct list_case *c = &list_cases[i];

		snprintf(what, sizeof(what), "checks 0x%x in %zu bytes",
		    c->checks, c->len);
		memset(buf, 'Z', sizeof(buf));
		check_list(c->checks, buf, c->len);
		CHECK_STR(what, buf, c->want);
		for (j = c->len; j < sizeof(buf); j++)
			CHECK_INT(what, buf[j], 'Z');
	}
}

static void
test_check_list_zero_length_writes_nothing(void **state)
{
	char buf[4] = "ZZZ";

	(void)state;
	check_list(CHK_LIFECYCLE, buf, 0);
	assert_string_equal(buf, "ZZZ");
}

/* all known checks, listed in bit order with the names check_name gives */
static void
test_check_list_all_known(void **state)
{
	char buf[256], want[256];
	size_t used = 0;
	unsigned i;

	(void)state;
	want[0] = '\0';
	for (i = 0; i < CHK_COUNT; i++) {
		int n = snprintf(want + used, sizeof(want) - used, "%s%s",
		    used > 0 ? " " : "", check_name(1u << i));

		assert_true(n > 0 && (size_t)n < sizeof(want) - used);
		used += (size_t)n;
	}
	check_list((1u << CHK_COUNT) - 1, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_event_is_in_the_table),
		cmocka_unit_test(test_event_names_and_programs),
		cmocka_unit_test(test_event_out_of_range_is_unknown),
		cmocka_unit_test(test_event_by_name_is_exact),
		cmocka_unit_test(test_event_default_checks),
		cmocka_unit_test(test_check_names),
		cmocka_unit_test(test_check_names_round_trip),
		cmocka_unit_test(test_check_name_of_bad_bits_is_null),
		cmocka_unit_test(test_check_by_name_is_exact),
		cmocka_unit_test(test_check_list_table),
		cmocka_unit_test(test_check_list_zero_length_writes_nothing),
		cmocka_unit_test(test_check_list_all_known),
	};

	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
