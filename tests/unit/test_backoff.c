/*
 * test_backoff.c: the backoff ceiling and the cut backoff sleep that IMDS
 * and EC2 retries share, and the range of the jitter they use.
 */
#include "base/backoff.h"
#include "base/mono.h"
#include "testlib.h"

struct ceiling_case {
	int attempt;
	int64_t base, cap, want;
};

static const struct ceiling_case ceiling_cases[] = {
	{ 0, 1000, 20000, 1000 },
	{ 1, 1000, 20000, 2000 },
	{ 4, 1000, 20000, 16000 },
	{ 5, 1000, 20000, 20000 },	/* 32000 capped */
	{ 1000, 1000, 20000, 20000 },	/* no overflow */
	{ 100000, 1, 20000, 20000 },
	{ 3, 0, 100, 8 },		/* base 0 counts as 1 */
	{ 2, 200, 5000, 800 },		/* the IMDS values */
	{ 9, 200, 5000, 5000 },
};

static void
test_backoff_ceiling_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ceiling_cases) / sizeof(ceiling_cases[0]); i++) {
		const struct ceiling_case *c = &ceiling_cases[i];

		if (backoff_ceiling(c->attempt, c->base, c->cap) != c->want)
			fail_msg("case %zu: backoff_ceiling(%d, %lld, %lld) = %lld, "
			    "want %lld", i, c->attempt, (long long)c->base,
			    (long long)c->cap, (long long)backoff_ceiling(
			    c->attempt, c->base, c->cap), (long long)c->want);
	}
}

static void
test_backoff_sleep_gives_up_without_sleeping(void **state)
{
	int64_t t0;

	(void)state;
	/* 150 ms left, attempts need 100: no room for a sleep and one more */
	t0 = mono_ms();
	assert_int_equal(backoff_sleep(5000, t0 + 150, 100), -1);
	/* past the deadline */
	assert_int_equal(backoff_sleep(10, t0 - 1, 1), -1);
}

static void
test_backoff_sleep_is_cut_to_leave_one_attempt(void **state)
{
	int64_t t0, took;

	(void)state;
	/* 1400 ms left, attempts need 100: a 60 s sleep is cut to end
	 * ~100 ms before the deadline (room for a stall before the call,
	 * and for a loaded machine in the upper bound) */
	t0 = mono_ms();
	assert_int_equal(backoff_sleep(60000, t0 + 1400, 100), 0);
	took = mono_ms() - t0;
	assert_true(took >= 1290 && took < 6000);
	/* a short sleep is not lengthened */
	t0 = mono_ms();
	assert_int_equal(backoff_sleep(20, t0 + 10000, 100), 0);
	took = mono_ms() - t0;
	assert_true(took >= 20 && took < 5000);
}

static void
test_jitter_stays_in_range(void **state)
{
	int64_t v, seen_low = 0, seen_high = 0;
	int i;

	(void)state;
	assert_int_equal(mono_jitter(0), 0);
	assert_int_equal(mono_jitter(-5), 0);
	for (i = 0; i < 2000; i++) {
		v = mono_jitter(10);
		assert_true(v >= 0 && v <= 10);
		seen_low |= v == 0;
		seen_high |= v == 10;
	}
	/* both ends reachable: [0, n], not [0, n) (odds of a miss ~1e-83) */
	assert_true(seen_low && seen_high);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_ceiling_table),
		cmocka_unit_test(test_backoff_sleep_gives_up_without_sleeping),
		cmocka_unit_test(test_backoff_sleep_is_cut_to_leave_one_attempt),
		cmocka_unit_test(test_jitter_stays_in_range),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
