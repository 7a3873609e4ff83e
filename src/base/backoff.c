#include "base/backoff.h"

#include "base/mono.h"

int64_t
backoff_ceiling(int attempt, int64_t base, int64_t cap)
{
	int64_t c = base > 0 ? base : 1;

	while (attempt-- > 0 && c < cap)
		c *= 2;
	return c < cap ? c : cap;
}

int
backoff_sleep(int64_t ms, int64_t deadline, int64_t min_attempt)
{
	int64_t left = mono_left(deadline);

	if (left < 2 * min_attempt)
		return -1;
	if (ms > left - min_attempt)
		ms = left - min_attempt;
	mono_sleep(ms);
	return 0;
}
