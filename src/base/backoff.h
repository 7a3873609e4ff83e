/*
 * backoff.h: the retry backoff that IMDS and EC2 share.  Retries MUST sleep
 * a full-jitter share of backoff_ceiling() through backoff_sleep(), which
 * never sleeps past the point where one more attempt still fits before the
 * deadline.  (Its own module: the fuzz targets replace mono.o with a
 * virtual clock and keep this code.)
 */
#ifndef CDGATE_BACKOFF_H
#define CDGATE_BACKOFF_H

#include <stdint.h>

/* The backoff ceiling min(cap, base * 2^attempt), without overflow. */
int64_t backoff_ceiling(int attempt, int64_t base, int64_t cap);
/*
 * Sleeps ms, cut so that one more attempt of min_attempt ms still fits
 * before deadline; -1 (without sleeping) when none fits any more.  Cutting,
 * not giving up, when a random sleep is longer than the time left keeps
 * retries going until the deadline instead of ending seconds early.
 */
int backoff_sleep(int64_t ms, int64_t deadline, int64_t min_attempt);

#endif
