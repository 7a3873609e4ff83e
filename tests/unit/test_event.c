/*
 * test_event.c: event names and programs (cdgate-hooks(8):
 * man/cdgate-hooks.8).  The default checks of each event are the checks'
 * own: test_config.c (config_checks) and test_registry.c.
 */
#include "base/event.h"
#include "testlib.h"

/* ------------------------------------------------------------------ */
/* names and programs */

struct ev_case {
	enum event ev;
	const char *name, *program;
};

static const struct ev_case ev_cases[] = {
	{ EV_APPLICATION_STOP, "ApplicationStop", "application-stop" },
	{ EV_BEFORE_INSTALL, "BeforeInstall", "before-install" },
	{ EV_AFTER_INSTALL, "AfterInstall", "after-install" },
	{ EV_APPLICATION_START, "ApplicationStart", "application-start" },
	{ EV_VALIDATE_SERVICE, "ValidateService", "validate-service" },
	{ EV_BEFORE_BLOCK_TRAFFIC, "BeforeBlockTraffic",
	    "before-block-traffic" },
	{ EV_AFTER_BLOCK_TRAFFIC, "AfterBlockTraffic", "after-block-traffic" },
	{ EV_BEFORE_ALLOW_TRAFFIC, "BeforeAllowTraffic",
	    "before-allow-traffic" },
	{ EV_AFTER_ALLOW_TRAFFIC, "AfterAllowTraffic", "after-allow-traffic" },
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_event_is_in_the_table),
		cmocka_unit_test(test_event_names_and_programs),
		cmocka_unit_test(test_event_out_of_range_is_unknown),
		cmocka_unit_test(test_event_by_name_is_exact),
	};

	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
