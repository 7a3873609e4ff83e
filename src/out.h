/*
 * out.h: the one output stream.
 *
 * Rules every program keeps through this module:
 * - everything a person must read goes to stdout, line by line, in order;
 *   stderr is joined to stdout at start-up (proc_start);
 * - every line starts "cdgate: LABEL: ", is valid UTF-8 with no control
 *   characters, and is at most CAP_LINE bytes (longer text is cut);
 * - the verdict is printed once, last.
 */
#ifndef CDGATE_OUT_H
#define CDGATE_OUT_H

/* Sets the label printed after "cdgate: " (an event or a program name). */
void out_label(const char *label);
const char *out_get_label(void);
/* One informational line. */
void out_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The verdict: PASS (code 0), SKIP (skip != 0, code 0) or FAIL (code != 0). */
void out_verdict(int code, int skip, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Makes later lines silent (for -q); the verdict is always printed. */
void out_quiet(int quiet);

#endif
