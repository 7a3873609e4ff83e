#include "base/mono.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <openssl/rand.h>

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_left(int64_t deadline)
{
	int64_t left = deadline - mono_ms();

	return left > 0 ? left : 0;
}

void
mono_sleep(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int64_t
mono_jitter(int64_t n)
{
	uint64_t r = 0;

	if (n <= 0)
		return 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint64_t)ts.tv_nsec * 2654435761u;
	}
	return (int64_t)(r % (uint64_t)(n + 1));
}

void
mono_utc(char out[21])
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 21, "1970-01-01T00:00:00Z");
}
