/*
 * history.h: the deployment history, one JSON line per program run.
 *
 * Rules:
 * - a line MUST be built with json-c (never by hand-escaping), one object,
 *   plain, ending in "\n", at most HISTORY_CAP_LINE bytes; when it would be
 *   longer the reason is cut first, then every other text field;
 * - every value taken from outside (environment, marker, IMDS) MUST pass
 *   through text_clean and be cut to HISTORY_CAP_FIELD bytes; of the
 *   agent's variables only the documented ones (HISTORY_ENV) are recorded;
 * - the file MUST be opened O_RDWR|O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK|
 *   O_CLOEXEC (read: only its last byte) with mode 0644 and checked on the
 *   fd (a regular file owned by root or the running user, not group- or
 *   world-writable) in a directory owned by root or the running user and
 *   not writable by group or others;
 * - a line MUST be written with one write(2), under an exclusive flock of
 *   the file that is at the path at that moment (checked after locking), so
 *   concurrent writers neither tear nor lose lines; a write that fails
 *   part-way (ENOSPC, EFBIG) is undone with ftruncate to the size before
 *   it, under that lock, so a failed append leaves the file as it was; a
 *   file ending in a torn line gets a newline before the next line;
 * - the wait for the lock ends at the run's deadline (h->deadline; at
 *   least HISTORY_LOCK_MIN_MS, at most HISTORY_LOCK_MS) or when a signal
 *   comes; then the line is appended without the lock (never rotated),
 *   and history_record says so in st (ST_OK: a note);
 * - rotation (path -> path.1, one generation) MUST happen only under that
 *   lock, when the file would pass history_max bytes;
 * - the SIGTERM line is prepared before the checks start (without the
 *   duration) and written by the proc_term_hook with async-signal-safe
 *   calls only: open, flock, fstat, lstat, write, close, nanosleep;
 * - a history that cannot be written MUST NOT change a verdict or an exit
 *   code: the caller prints one info line and goes on (a gate must not
 *   fail a deployment because its log is full).
 *
 * Fields (absent when unknown): time (UTC, when the run started), program,
 * event, verdict (pass, skip, fail), exit, reason, duration_ms, pid,
 * instance_id, lifecycle, deployment_id, application_name,
 * deployment_group_name, deployment_group_id, bundle_bucket, bundle_key,
 * bundle_version, bundle_etag, bundle_commit, marker_digest,
 * marker_finished_at, version.
 */
#ifndef CDGATE_HISTORY_H
#define CDGATE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "fmt/markerfile.h"
#include "base/status.h"

#define HISTORY_DEFAULT      "/var/lib/cdgate/history.jsonl"
#define HISTORY_DEFAULT_MAX  (1024L * 1024)	/* bytes before rotation */
#define HISTORY_MIN_MAX      16384L
#define HISTORY_MAX_MAX      (1024L * 1024 * 1024)
#define HISTORY_CAP_LINE     4096	/* one line, bytes: PIPE_BUF */
#define HISTORY_CAP_FIELD    256	/* one text field, bytes */
#define HISTORY_CAP_READ     (4L * 1024 * 1024)	/* tail read by status */
#define HISTORY_CAP_ENTRIES  1000	/* entries history_load returns */
#define HISTORY_LOCK_MS      1000	/* wait for the lock, then write */
#define HISTORY_LOCK_MIN_MS  50	/* ...even when the deadline has come */
#define HISTORY_TERM_LOCK_MS 100	/* ...from the SIGTERM handler */
#define HISTORY_NENV         9

/* The agent's variables recorded, and their field names. */
extern const char *const HISTORY_ENV[HISTORY_NENV][2];

struct history {
	int on;				/* a path is configured */
	char path[CAP_PATH];
	char rotated[CAP_PATH + 4];	/* path + ".1" */
	long max;
	int64_t deadline;		/* the run's (mono_ms), 0: none */
	char time[MARKER_TIME_LEN];
	char program[64];
	char event[64];			/* "" for helper programs */
	char instance_id[CAP_INSTANCE_ID];
	char lifecycle[64];
	char digest[CAP_DIGEST];
	char finished_at[MARKER_TIME_LEN];
	char env[HISTORY_NENV][HISTORY_CAP_FIELD];	/* "" when unset */
};

/*
 * Starts the record of this run: path "" disables the history.  Reads the
 * agent's variables and the start time.  Never fails.
 */
void history_begin(struct history *h, const char *path, long max,
    const char *program, const char *event);
/* Facts learnt on the way (NULL or "" leaves a field as it is). */
void history_facts(struct history *h, const char *instance_id,
    const char *lifecycle, const char *digest, const char *finished_at);
/*
 * Prepares the line written if SIGTERM ends the run (verdict fail, exit
 * ST_TERM, duration_ms from the signal handler), and the one for SIGINT,
 * SIGHUP or SIGQUIT (reason HISTORY_INT_REASON: a run stopped by hand, not the
 * agent's timeout), and registers them with proc_term_hook.  Call again
 * after history_facts to refresh them.
 */
#define HISTORY_INT_REASON "interrupted by SIGINT, SIGHUP or SIGQUIT " \
    "(stopped by hand, not by the agent's timeout)"
void history_arm(struct history *h, const char *reason);
/*
 * Writes the line of this run (code 0 with skip: verdict skip) and disarms
 * the SIGTERM line.  ST_OK, or a failure in st for one info line; ST_OK
 * when the history is off.  On ST_OK, st->msg is "" or a note to print
 * (the lock could not be had).  It begins the end of the run
 * (ending_begin(code): the signals stay blocked until out_verdict).
 */
int history_record(struct history *h, int code, int skip, const char *reason,
    long duration_ms, struct status *st);
/*
 * Formats a line into buf (NUL-terminated, ending in "\n"); *len gets its
 * length.  ST_OK or ST_SOFTWARE.  For tests and history_record.
 */
int history_format(const struct history *h, int code, int skip,
    const char *reason, long duration_ms, char *buf, size_t cap, size_t *len,
    struct status *st);
/*
 * Appends one line (len <= HISTORY_CAP_LINE) to path with the locking and
 * rotation rules above.  ST_OK or a failure.
 */
int history_append(const char *path, const char *rotated, long max,
    const char *line, size_t len, struct status *st);

/*
 * Reads the last entries (at most n, n <= HISTORY_CAP_ENTRIES) of the
 * history at path, and of path.1 when path holds fewer: *out gets a json-c
 * array, oldest first (caller puts it).  Lines that are not a JSON object
 * are skipped and counted in *bad.  A missing file is an empty history.
 * The files are opened O_NOFOLLOW and checked on the fd (regular, owner,
 * mode); at most HISTORY_CAP_READ bytes of each are read, from the end.
 * ST_OK or ST_FAIL with the reason.
 */
struct json_object;
int history_load(const char *path, size_t n, struct json_object **out,
    size_t *bad, struct status *st);

#endif
