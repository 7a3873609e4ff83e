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
/* The current UTC time as "YYYY-MM-DDTHH:MM:SSZ". */
void mono_utc(char out[21]);

#endif
