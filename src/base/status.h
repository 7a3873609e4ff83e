/*
 * status.h: how the library reports, and the exit codes every program uses.
 *
 * Library functions return one of the codes below and, on anything but
 * ST_OK, leave a message in a struct status: lowercase, no full stop, the
 * subject quoted.  Only the programs decide what to do with it.
 */
#ifndef CDGATE_STATUS_H
#define CDGATE_STATUS_H

#include "base/caps.h"

enum status_code {
	ST_OK = 0,        /* passed (or skipped by an explicit setting) */
	ST_FAIL = 1,      /* a check found the instance not ready */
	ST_TIMEOUT = 2,   /* the deadline passed while waiting */
	ST_TERM = 3,      /* SIGTERM (the agent's timeout) ended the program */
	ST_USAGE = 64,    /* bad arguments or environment (LIFECYCLE_EVENT) */
	ST_UNAVAIL = 69,  /* a service (IMDS, EC2) could not be used */
	ST_SOFTWARE = 70, /* an internal error: a bug */
	ST_OSERR = 71,    /* the system failed (memory, fork, disk) */
	ST_NOPERM = 77,   /* AWS refused our credentials or permissions */
	ST_CONFIG = 78    /* the configuration is missing or wrong */
};

struct status {
	int code;
	char msg[CAP_MSG];
};

/* Sets st (code and formatted, sanitized message) and returns code. */
int status_set(struct status *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes st->msg with a formatted context and ": "; returns st->code. */
int status_wrap(struct status *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void status_clear(struct status *st);
/* ST_OSERR when err says the system ran out (descriptors: EMFILE, ENFILE;
 * memory: ENOMEM, ENOBUFS), else code: system errors are 71 wherever a
 * call fails that way. */
int status_sys(int err, int code);
/* A short name for a code: "pass", "fail", "timeout", ... */
const char *status_name(int code);

#endif
