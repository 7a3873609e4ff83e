/*
 * test_registry.c: the table of checks (run/registry.h): names, bits,
 * sections, lists, and what every row must give (checks/check.h); and
 * that the configuration's store holds every check's conf.
 *
 * Written so that adding a check does not break it: the tables name the
 * first checks, and the rules are walked over every row.
 */
#include <stdio.h>
#include <string.h>

#include "base/event.h"
#include "run/config.h"
#include "run/registry.h"
#include "testlib.h"

/* ------------------------------------------------------------------ */
/* every row */

static void
test_every_row_is_complete(void **state)
{
	const struct check_def *d;
	size_t i, j;

	(void)state;
	assert_true(registry_count() >= 5);
	assert_true(registry_count() <= REGISTRY_MAX);
	assert_null(registry_at(registry_count()));
	for (i = 0; i < registry_count(); i++) {
		d = registry_at(i);
		assert_non_null(d);
		assert_non_null(d->name);
		assert_true(d->name[0] != '\0');
		CHECK_INT(d->name, d->run != NULL, 1);
		/* runs by default somewhere, and only for events there are */
		CHECK_INT(d->name, d->default_events != 0, 1);
		CHECK_INT(d->name, (d->default_events & ~CHECK_EVERY_EVENT) == 0,
		    1);
		/* only a check with a section can wait for it */
		if (d->default_if_configured)
			CHECK_INT(d->name, d->section != NULL, 1);
		/* a section or keys need a handler, and keys to name */
		if (d->section != NULL || d->gate_keys != NULL)
			CHECK_INT(d->name, d->key != NULL, 1);
		if (d->section != NULL)
			CHECK_INT(d->name, d->keys != NULL, 1);
		if (d->event_keys != NULL)
			CHECK_INT(d->name, d->gate_keys != NULL, 1);
		CHECK_INT(d->name, d->section != NULL &&
		    strcmp(d->section, "gate") == 0, 0);
		CHECK_INT(d->name, d->section != NULL &&
		    event_by_name(d->section) >= 0, 0);
		for (j = 0; j < i; j++) {
			CHECK_INT(d->name, strcmp(d->name,
			    registry_at(j)->name) == 0, 0);
			if (d->section != NULL && registry_at(j)->section)
				CHECK_INT(d->name, strcmp(d->section,
				    registry_at(j)->section) == 0, 0);
		}
	}
}

/* every conf has its place in the store, none overlapping */
static void
test_store_holds_every_conf(void **state)
{
	long end = 0, off;
	size_t i;

	(void)state;
	for (i = 0; i < registry_count(); i++) {
		off = config_offset(i);
		CHECK_INT(registry_at(i)->name, off >= end, 1);
		CHECK_INT(registry_at(i)->name, off % 16, 0);
		end = off + (long)registry_at(i)->conf_size;
		CHECK_INT(registry_at(i)->name, end <= CONFIG_STORE, 1);
	}
	assert_int_equal(config_offset(registry_count()), -1);
}

/* ------------------------------------------------------------------ */
/* names and bits */

static const char *const first_checks[] = {
	"lifecycle", "marker", "tags", "health", "drain",
};

static void
test_first_checks_in_order(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(first_checks); i++) {
		CHECK_INT(first_checks[i], registry_bit(first_checks[i]) != 0,
		    1);
		/* run order: lifecycle first, then marker before tags, ... */
		if (i > 0)
			CHECK_INT(first_checks[i],
			    registry_bit(first_checks[i]) >
			    registry_bit(first_checks[i - 1]), 1);
	}
}

static void
test_names_round_trip(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < registry_count(); i++)
		CHECK_INT(registry_at(i)->name,
		    registry_bit(registry_at(i)->name), 1u << i);
}

static const char *const bad_check_names[] = {
	"", "Marker", "MARKER", "marker ", " marker", "mark", "markers",
	"lifecycle,marker", "none", "all", "*", "gate",
};

static void
test_by_name_is_exact(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad_check_names); i++)
		CHECK_INT(bad_check_names[i], registry_bit(bad_check_names[i]),
		    0);
}

static void
test_by_section(void **state)
{
	(void)state;
	assert_int_equal(registry_by_section("marker"),
	    __builtin_ctz(registry_bit("marker")));
	assert_int_equal(registry_by_section("drain"),
	    __builtin_ctz(registry_bit("drain")));
	assert_int_equal(registry_by_section("gate"), -1);
	assert_int_equal(registry_by_section("lifecycle"), -1);
	assert_int_equal(registry_by_section("Marker"), -1);
	assert_int_equal(registry_by_section(""), -1);
}

/* ------------------------------------------------------------------ */
/* registry_list */

struct list_case {
	const char *names;	/* set as bits, blank-separated */
	unsigned extra;		/* more bits, unknown ones */
	size_t len;
	const char *want;
};

static const struct list_case list_cases[] = {
	{ "", 0, 64, "none" },
	{ "lifecycle", 0, 64, "lifecycle" },
	{ "health", 0, 64, "health" },
	{ "lifecycle marker tags", 0, 64, "lifecycle marker tags" },
	{ "tags lifecycle", 0, 64, "lifecycle tags" },
	{ "lifecycle marker tags health", 0, 64,
	    "lifecycle marker tags health" },
	{ "", 1u << 31, 64, "none" },	/* unknown bits are ignored */
	{ "marker", 1u << 31, 64, "marker" },
	/* cut, never overrun */
	{ "lifecycle marker", 0, 10, "lifecycle" },
	{ "lifecycle", 0, 5, "life" },
	{ "", 0, 3, "no" },
	{ "", 0, 1, "" },
};

static unsigned
names_bits(const char *names)
{
	char buf[128], *tok, *save = NULL;
	unsigned bits = 0;

	snprintf(buf, sizeof(buf), "%s", names);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		bits |= registry_bit(tok);
	return bits;
}

static void
test_list_table(void **state)
{
	char buf[64 + 16], what[96];
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(list_cases); i++) {
		const struct list_case *c = &list_cases[i];

		snprintf(what, sizeof(what), "'%s' in %zu bytes", c->names,
		    c->len);
		memset(buf, 'Z', sizeof(buf));
		registry_list(names_bits(c->names) | c->extra, buf, c->len);
		CHECK_STR(what, buf, c->want);
		for (j = c->len; j < sizeof(buf); j++)
			CHECK_INT(what, buf[j], 'Z');
	}
}

static void
test_list_zero_length_writes_nothing(void **state)
{
	char buf[4] = "ZZZ";

	(void)state;
	registry_list(registry_bit("lifecycle"), buf, 0);
	assert_string_equal(buf, "ZZZ");
}

/* all checks, listed in table order with their names */
static void
test_list_all(void **state)
{
	char buf[256], want[256];
	size_t used = 0, i;

	(void)state;
	want[0] = '\0';
	for (i = 0; i < registry_count(); i++) {
		int n = snprintf(want + used, sizeof(want) - used, "%s%s",
		    used > 0 ? " " : "", registry_at(i)->name);

		assert_true(n > 0 && (size_t)n < sizeof(want) - used);
		used += (size_t)n;
	}
	registry_list(registry_all(), buf, sizeof(buf));
	assert_string_equal(buf, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row_is_complete),
		cmocka_unit_test(test_store_holds_every_conf),
		cmocka_unit_test(test_first_checks_in_order),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_by_name_is_exact),
		cmocka_unit_test(test_by_section),
		cmocka_unit_test(test_list_table),
		cmocka_unit_test(test_list_zero_length_writes_nothing),
		cmocka_unit_test(test_list_all),
	};

	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
