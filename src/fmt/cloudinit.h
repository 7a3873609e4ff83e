/*
 * cloudinit.h: did cloud-init finish without errors?
 *
 * Rules:
 * - result.json and status.json MUST be read as JSON with json-c, never
 *   searched as text; anything not of the documented shape is an error,
 *   never a pass;
 * - each file MUST be opened O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK and
 *   checked on the fd before it is read: a regular file, owned by root or
 *   the running user, not writable by group or others, at most
 *   CAP_JSON_FILE bytes, no NUL byte, strict JSON in valid UTF-8;
 * - text taken from the files MUST pass through text_clean and be cut to
 *   CLOUDINIT_CAP_TEXT before it reaches a message or the report.
 *
 * result.json is written (atomically) by cloud-init when its final stage
 * ends: {"v1": {"datasource": "...", "errors": ["...", ...]}}.  A
 * non-empty "errors" means provisioning failed.
 *
 * status.json (optional) holds, per stage, "errors" and since cloud-init
 * 23.4 "recoverable_errors": {"v1": {"init": {"errors": [],
 * "recoverable_errors": {"WARNING": ["..."], "DEPRECATED": ["..."]}}, ...}}.
 * The documented choice: recoverable errors (cloud-init's "degraded done")
 * are reported for the caller to print as a warning but do NOT fail the
 * gate, and a status.json that is missing or unusable is only reported in
 * rep->status_problem: result.json alone decides.
 */
#ifndef CDGATE_CLOUDINIT_H
#define CDGATE_CLOUDINIT_H

#include <stddef.h>

#include "base/caps.h"
#include "base/status.h"

#define CLOUDINIT_RESULT_PATH "/run/cloud-init/result.json"
#define CLOUDINIT_STATUS_PATH "/run/cloud-init/status.json"
#define CLOUDINIT_CAP_TEXT    CAP_LINE  /* one error text kept, bytes */
#define CLOUDINIT_CAP_DEPTH   32        /* JSON nesting accepted */

struct cloudinit_report {
	int pending;		/* result.json does not exist (yet) */
	char datasource[CLOUDINIT_CAP_TEXT];	/* "" if absent */
	size_t nerrors;		/* entries in v1.errors */
	char first_error[CLOUDINIT_CAP_TEXT];
	int status_read;	/* status.json was given, read and understood */
	size_t nrecoverable;	/* recoverable errors across all stages */
	char first_recoverable[CLOUDINIT_CAP_TEXT];  /* "STAGE: LEVEL: text" */
	char status_problem[CAP_MSG];	/* why status.json was not used */
};

/*
 * Checks result_path (normally CLOUDINIT_RESULT_PATH) and, when
 * status_path is not NULL, reads the recoverable errors from status_path.
 * rep is always filled.  Returns:
 * - ST_OK: cloud-init finished and v1.errors is empty;
 * - ST_TIMEOUT with rep->pending = 1: result.json does not exist yet (the
 *   caller may wait for it, and report this message when its deadline
 *   passes);
 * - ST_FAIL: v1.errors is not empty ("cloud-init finished with 2 errors:
 *   FIRST"), or the file is unsafe, too large, not JSON, truncated, or not
 *   of the documented shape (the message says which);
 * - ST_OSERR: the system failed (memory, I/O).
 */
int cloudinit_check(const char *result_path, const char *status_path,
    struct cloudinit_report *rep, struct status *st);

#endif
