/*
 * mono.h: time for deadlines.  Deadlines MUST use the monotonic clock, so a
 * wall-clock jump neither extends nor cuts a wait; wall time is only printed.
 */
#ifndef CDGATE_MONO_H
#define CDGATE_MONO_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t mono_ms(void);
/* Milliseconds left until deadline (never negative). */
int64_t mono_left(int64_t deadline);
/* Sleeps ms milliseconds (interrupted sleeps resume). */
void mono_sleep(int64_t ms);
/* Uniform random integer in [0, n] for jitter (n >= 0). */
int64_t mono_jitter(int64_t n);
/* The backoff ceiling min(cap, base * 2^attempt), without overflow. */
int64_t mono_backoff(int attempt, int64_t base, int64_t cap);
/*
 * Sleeps ms, cut so that one more attempt of min_attempt ms still fits
 * before deadline; -1 (without sleeping) when none fits any more.  Cutting,
 * not giving up, when a random sleep is longer than the time left keeps
 * retries going until the deadline instead of ending seconds early.
 */
int mono_backoff_sleep(int64_t ms, int64_t deadline, int64_t min_attempt);
/* The current UTC time as "YYYY-MM-DDTHH:MM:SSZ". */
void mono_utc(char out[21]);

#endif
