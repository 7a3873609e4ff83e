/*
 * out.h: the one output stream.
 *
 * Rules every program keeps through this module:
 * - everything a person must read goes to stdout, line by line, in order;
 *   stderr is joined to stdout at start-up (proc_start);
 * - every line starts "cdgate: LABEL: ", is valid UTF-8 with no control
 *   characters, and is at most CAP_LINE bytes (longer text is cut);
 * - the verdict is printed once, last;
 * - output never holds the run: a line is written with one write(2) that
 *   cannot block (out_open); with no room in the pipe it waits at most
 *   OUT_WAIT_MS (less when a signal comes), then is dropped, and later
 *   lines do not wait until one goes through again: a pipe nobody reads
 *   costs a run at most OUT_WAIT_MS in all.  Text printed with stdio
 *   (-h, -V, check mode, cdgate-status's report) may still block.
 */
#ifndef CDGATE_OUT_H
#define CDGATE_OUT_H

#include <stddef.h>

#define OUT_WAIT_MS        1000	/* for room in the pipe, per stall */
#define OUT_STEP_MS        20	/* steps of that wait (a signal ends it) */
#define OUT_SIGNAL_WAIT_MS 20	/* the signal handler's line */

/*
 * Called by proc_start: a stdout that is a pipe is reopened as a private
 * O_NONBLOCK description (out.c says why not the inherited one).
 */
void out_open(void);
/* The signal handler's line: async-signal-safe, never blocks for long. */
void out_signal_write(const char *buf, size_t n);
/* Sets the label printed after "cdgate: " (an event or a program name). */
void out_label(const char *label);
const char *out_get_label(void);
/* One informational line. */
void out_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The verdict: PASS (code 0), SKIP (skip != 0, code 0) or FAIL (code != 0). */
void out_verdict(int code, int skip, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Bytes relayed as they are (the output of cdgate-mark --run's command),
 * under the same rule as a line: never blocking past OUT_WAIT_MS, dropped
 * with no room.  0 written or dropped for want of room, -1 when the output
 * is gone (EPIPE): nothing more will go through.
 */
int out_relay(const char *buf, size_t n);
/* Makes later lines silent (for -q); the verdict is always printed. */
void out_quiet(int quiet);

#endif
