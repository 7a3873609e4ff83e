/*
 * history.c: the deployment history; the rules it keeps are stated in
 * history.h.
 */
#include "fmt/history.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/ending.h"
#include "base/file.h"
#include "base/mono.h"
#include "base/proc.h"
#include "base/text.h"

#define HISTORY_TRIES   8	/* re-opens after a rotation by another */
#define HISTORY_STEP_MS 5	/* lock polling step */
#define HISTORY_DEPTH   8	/* JSON nesting accepted when reading */
#define HISTORY_IOV     4	/* pieces of one line (hist_term's) */

const char *const HISTORY_ENV[HISTORY_NENV][2] = {
	{ "DEPLOYMENT_ID", "deployment_id" },
	{ "APPLICATION_NAME", "application_name" },
	{ "DEPLOYMENT_GROUP_NAME", "deployment_group_name" },
	{ "DEPLOYMENT_GROUP_ID", "deployment_group_id" },
	{ "BUNDLE_BUCKET", "bundle_bucket" },
	{ "BUNDLE_KEY", "bundle_key" },
	{ "BUNDLE_VERSION", "bundle_version" },
	{ "BUNDLE_ETAG", "bundle_etag" },
	{ "BUNDLE_COMMIT", "bundle_commit" },
};

/* Why an append failed, kept async-signal-safe (no message building). */
enum hist_err { HE_OK, HE_OPEN, HE_STAT, HE_TYPE, HE_OWNER, HE_MODE,
    HE_WRITE, HE_BUSY };

/*
 * The lines for a run a signal ends (the text up to the closing brace) and
 * where, twice: history_arm fills the pair not in use and then switches,
 * so a signal that lands while it re-arms still finds whole lines.
 */
static struct hist_armed {
	char term_line[HISTORY_CAP_LINE];	/* SIGTERM */
	size_t term_len;
	char int_line[HISTORY_CAP_LINE];	/* SIGINT, SIGHUP */
	size_t int_len;
	char path[CAP_PATH];
} armed[2];
static volatile sig_atomic_t armed_cur;		/* the pair in use */
static volatile sig_atomic_t term_armed;

static void
hist_clean(char *dst, size_t len, const char *src)
{
	if (src != NULL && src[0] != '\0')
		text_clean(dst, len, src, strnlen(src, CAP_ENV_VALUE));
}

void
history_begin(struct history *h, const char *path, long max,
    const char *program, const char *event)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	h->max = max > 0 ? max : HISTORY_DEFAULT_MAX;
	if (path != NULL && path[0] != '\0' &&
	    text_copy(h->path, path, sizeof(h->path)) < sizeof(h->path) &&
	    snprintf(h->rotated, sizeof(h->rotated), "%s.1", path) <
	    (int)sizeof(h->rotated))
		h->on = 1;
	mono_utc(h->time);
	hist_clean(h->program, sizeof(h->program), program);
	hist_clean(h->event, sizeof(h->event), event);
	for (i = 0; i < HISTORY_NENV; i++)
		hist_clean(h->env[i], sizeof(h->env[i]),
		    getenv(HISTORY_ENV[i][0]));
}

void
history_facts(struct history *h, const char *instance_id,
    const char *lifecycle, const char *digest, const char *finished_at)
{
	hist_clean(h->instance_id, sizeof(h->instance_id), instance_id);
	hist_clean(h->lifecycle, sizeof(h->lifecycle), lifecycle);
	hist_clean(h->digest, sizeof(h->digest), digest);
	hist_clean(h->finished_at, sizeof(h->finished_at), finished_at);
}

/* Adds key: s cut to cap bytes (s already clean); nothing when empty. */
static int
hist_str(struct json_object *o, const char *key, const char *s, size_t cap)
{
	char buf[CAP_MSG];
	struct json_object *v;

	if (s == NULL || s[0] == '\0')
		return 0;
	if (cap > sizeof(buf))
		cap = sizeof(buf);
	text_clean(buf, cap, s, strlen(s));
	if ((v = json_object_new_string(buf)) == NULL)
		return -1;
	return json_object_object_add(o, key, v);
}

static int
hist_int(struct json_object *o, const char *key, int64_t n)
{
	struct json_object *v = json_object_new_int64(n);

	if (v == NULL)
		return -1;
	return json_object_object_add(o, key, v);
}

static struct json_object *
hist_object(const struct history *h, int code, int skip, const char *reason,
    long duration_ms, size_t rcap, size_t fcap)
{
	struct json_object *o = json_object_new_object();
	const char *verdict = code != 0 ? "fail" : skip ? "skip" : "pass";
	char why[CAP_MSG] = "";
	size_t i;
	int bad = 0;

	if (o == NULL)
		return NULL;
	hist_clean(why, sizeof(why), reason);
	bad |= hist_str(o, "time", h->time, fcap);
	bad |= hist_str(o, "program", h->program, fcap);
	bad |= hist_str(o, "event", h->event, fcap);
	bad |= hist_str(o, "verdict", verdict, fcap);
	bad |= hist_int(o, "exit", code);
	bad |= hist_str(o, "reason", why, rcap);
	if (duration_ms >= 0)
		bad |= hist_int(o, "duration_ms", duration_ms);
	bad |= hist_int(o, "pid", (int64_t)getpid());
	bad |= hist_str(o, "instance_id", h->instance_id, fcap);
	bad |= hist_str(o, "lifecycle", h->lifecycle, fcap);
	for (i = 0; i < HISTORY_NENV; i++)
		bad |= hist_str(o, HISTORY_ENV[i][1], h->env[i], fcap);
	bad |= hist_str(o, "marker_digest", h->digest, fcap);
	bad |= hist_str(o, "marker_finished_at", h->finished_at, fcap);
	bad |= hist_str(o, "version", PROC_VERSION, fcap);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
history_format(const struct history *h, int code, int skip,
    const char *reason, long duration_ms, char *buf, size_t cap, size_t *len,
    struct status *st)
{
	/* Cut the reason first, then every text field, until it fits. */
	static const size_t rcaps[] = { CAP_MSG, 160, 64, 32 };
	static const size_t fcaps[] = { HISTORY_CAP_FIELD, HISTORY_CAP_FIELD,
	    96, 48 };
	struct json_object *o;
	const char *s;
	size_t i, n;

	if (cap > HISTORY_CAP_LINE + 1)
		cap = HISTORY_CAP_LINE + 1;
	for (i = 0; i < sizeof(rcaps) / sizeof(rcaps[0]); i++) {
		if ((o = hist_object(h, code, skip, reason, duration_ms,
		    rcaps[i], fcaps[i])) == NULL)
			return status_set(st, ST_OSERR, "history: out of "
			    "memory");
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
		n = s == NULL ? 0 : strlen(s);
		if (n > 0 && n + 2 <= cap) {
			memcpy(buf, s, n);
			buf[n++] = '\n';
			buf[n] = '\0';
			*len = n;
			json_object_put(o);
			return ST_OK;
		}
		json_object_put(o);
	}
	return status_set(st, ST_SOFTWARE, "history: line longer than %zu "
	    "bytes", cap - 1);
}

/*
 * flock(LOCK_EX) polled until the monotonic time until (on the clock: a
 * busy machine oversleeps); 1 when locked.  A run ending (not the signal
 * handler itself: handler) stops waiting when a signal comes.
 * Async-signal-safe.
 */
static int
hist_lock(int fd, int64_t until, int handler)
{
	struct timespec step = { 0, HISTORY_STEP_MS * 1000000L };

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 1;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return 0;
		if (mono_ms() >= until || (!handler && ending_signalled()))
			return 0;
		nanosleep(&step, NULL);
	}
}

/*
 * Appends the line, len bytes in n pieces (at most HISTORY_IOV), with one
 * writev: one system call, as atomic as one write for an O_APPEND file
 * (no copy into one buffer: a line long, it made the frame over 4 KiB,
 * and this runs in the SIGTERM handler too).  A write that fails part-way
 * (ENOSPC, EFBIG, EIO) is undone: the file is cut back to where the line
 * began when nothing was appended after it (always so under the lock), so
 * no torn line is left for the next one to be glued to.  A file that ends
 * in a torn line already (a crash, an older writer) gets a newline first.
 * Async-signal-safe (glibc's writev is the bare system call, like write);
 * -1 with errno, or a short count, when not written.
 */
static ssize_t
hist_write(int fd, const struct stat *sb, const struct iovec *line, int n,
    size_t len)
{
	static char nl[1] = { '\n' };	/* never written to */
	struct iovec v[HISTORY_IOV + 1];
	char last = '\n';
	struct stat now;
	ssize_t w;
	off_t end;
	int err, i, cnt = 0;

	if (sb->st_size > 0 && pread(fd, &last, 1, sb->st_size - 1) != 1)
		last = '\n';
	if (last != '\n' && len < HISTORY_CAP_LINE + 2) {
		v[cnt].iov_base = nl;
		v[cnt++].iov_len = 1;
		len++;
	}
	for (i = 0; i < n && i < HISTORY_IOV; i++)
		v[cnt++] = line[i];
	do
		w = writev(fd, v, cnt);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)len)
		return w;
	err = w < 0 ? errno : 0;
	if (w > 0 && (end = lseek(fd, 0, SEEK_CUR)) >= (off_t)w &&
	    fstat(fd, &now) == 0 && now.st_size == end &&
	    ftruncate(fd, end - (off_t)w) != 0)
		err = errno;	/* the torn line stays: said in the message */
	errno = err;
	return w < 0 ? -1 : 0;
}

/* The fd's file may be appended to (history.h); HE_OK or why not. */
static enum hist_err
hist_fd_ok(int fd, struct stat *sb)
{
	if (fstat(fd, sb) != 0)
		return HE_STAT;
	if (!S_ISREG(sb->st_mode))
		return HE_TYPE;
	if (sb->st_uid != 0 && sb->st_uid != geteuid())
		return HE_OWNER;
	if (sb->st_mode & (S_IWGRP | S_IWOTH))
		return HE_MODE;
	return HE_OK;
}

/*
 * One locked append, rotating first when rotate is set and the line would
 * pass max; the lock is waited for until the monotonic time until, and
 * *locked says whether it was had.  Async-signal-safe (handler: called
 * from the signal handler); *err_no gets errno on HE_OPEN/HE_WRITE.
 */
static enum hist_err
hist_append_raw(const char *path, const char *rotated, long max, int rotate,
    int64_t until, int handler, const struct iovec *line, int n, size_t len,
    int *err_no, int *locked)
{
	struct stat sb, cur;
	enum hist_err e;
	ssize_t w;
	int fd, tries;

	*err_no = 0;
	*locked = 0;
	for (tries = 0; tries < HISTORY_TRIES; tries++) {
		/* read too: only its last byte (hist_write) */
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC, 0644);
		if (fd < 0) {
			*err_no = errno;
			return HE_OPEN;
		}
		if ((e = hist_fd_ok(fd, &sb)) != HE_OK) {
			close(fd);
			return e;
		}
		/* without the lock (a stuck holder): append, do not rotate */
		if ((*locked = hist_lock(fd, until, handler))) {
			/* the file at path may have been rotated meanwhile */
			if (lstat(path, &cur) != 0 || fstat(fd, &sb) != 0 ||
			    cur.st_ino != sb.st_ino || cur.st_dev != sb.st_dev) {
				close(fd);
				continue;
			}
			if (rotate && sb.st_size > 0 &&
			    sb.st_size + (off_t)len > (off_t)max &&
			    rename(path, rotated) == 0) {
				rotate = 0;
				close(fd);
				continue;
			}
		}
		if (fstat(fd, &sb) != 0) {
			*err_no = errno;
			close(fd);
			return HE_WRITE;
		}
		w = hist_write(fd, &sb, line, n, len);
		if (w < 0)
			*err_no = errno;
		close(fd);
		return w > 0 ? HE_OK : HE_WRITE;
	}
	return HE_BUSY;
}

static int
hist_err_status(enum hist_err e, int err_no, const char *path,
    struct status *st)
{
	switch (e) {
	case HE_OK:
		return ST_OK;
	case HE_OPEN:
		if (err_no == ELOOP)
			return status_set(st, ST_FAIL, "history '%s' is a "
			    "symbolic link; links are refused", path);
		return status_set(st, ST_FAIL, "cannot open history '%s': %s",
		    path, strerror(err_no));
	case HE_STAT:
		return status_set(st, ST_FAIL, "cannot stat history '%s'",
		    path);
	case HE_TYPE:
		return status_set(st, ST_FAIL, "history '%s' is not a regular "
		    "file", path);
	case HE_OWNER:
		return status_set(st, ST_FAIL, "history '%s' is not owned by "
		    "root or the running user; chown root '%s'", path, path);
	case HE_MODE:
		return status_set(st, ST_FAIL, "history '%s' is group- or "
		    "world-writable; chmod go-w '%s'", path, path);
	case HE_WRITE:
		return status_set(st, ST_FAIL, "cannot write history '%s': %s "
		    "(the file is left as it was)", path, err_no ?
		    strerror(err_no) : "short write");
	case HE_BUSY:
		break;
	}
	return status_set(st, ST_FAIL, "history '%s' kept being rotated "
	    "under us; not recorded", path);
}

/* The history's directory exists (created 0755 if not) and is trusted. */
static int
hist_dir(const char *path, struct status *st)
{
	char *dir;
	int rc;

	/* on the heap: with the callers' messages, over 4 KiB */
	if ((dir = malloc(CAP_PATH)) == NULL)
		return status_set(st, ST_OSERR, "history: out of memory");
	file_dirname(path, dir, CAP_PATH);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		rc = status_set(st, ST_FAIL, "cannot create history "
		    "directory '%s': %s", dir, strerror(errno));
	else
		rc = file_dir_trusted(dir, "history", st);
	free(dir);
	return rc;
}

/* The end of the wait for the lock: HISTORY_LOCK_MS, cut at deadline but
 * never below HISTORY_LOCK_MIN_MS (a moment's contention is normal). */
static int64_t
hist_lock_until(int64_t deadline)
{
	int64_t now = mono_ms(), until = now + HISTORY_LOCK_MS;

	if (deadline > 0 && deadline < until)
		until = deadline;
	if (until < now + HISTORY_LOCK_MIN_MS)
		until = now + HISTORY_LOCK_MIN_MS;
	return until;
}

static int
hist_append_by(const char *path, const char *rotated, long max,
    const char *line, size_t len, int64_t deadline, struct status *st)
{
	int64_t t0 = mono_ms();
	struct iovec v;
	enum hist_err e;
	int err_no, rc, locked;

	status_clear(st);
	if (len > HISTORY_CAP_LINE)
		return status_set(st, ST_SOFTWARE, "history: line longer "
		    "than %d bytes", HISTORY_CAP_LINE);
	if ((rc = hist_dir(path, st)) != ST_OK)
		return rc;
	v.iov_base = (void *)(uintptr_t)line;	/* writev only reads it */
	v.iov_len = len;
	e = hist_append_raw(path, rotated, max, 1, hist_lock_until(deadline),
	    0, &v, 1, len, &err_no, &locked);
	if (e == HE_OK && !locked)	/* a note, not a failure */
		(void)status_set(st, ST_OK, "history '%s': its lock was held "
		    "by another process for %.1fs%s; the line was appended "
		    "without it (and the file not rotated)", path,
		    (double)(mono_ms() - t0) / 1000.0, deadline > 0 &&
		    mono_ms() >= deadline ? ", up to the deadline" : "");
	return hist_err_status(e, err_no, path, st);
}

int
history_append(const char *path, const char *rotated, long max,
    const char *line, size_t len, struct status *st)
{
	return hist_append_by(path, rotated, max, line, len, 0, st);
}

/*
 * The signal hook (proc.h): only async-signal-safe calls.  The line goes
 * out in pieces (the armed text, the duration, the end), not joined in a
 * line-long buffer on the stack of a handler.
 */
static void
hist_term(int sig, int elapsed_ms)
{
	static char key[] = ",\"duration_ms\":", end[] = "}\n";
	struct hist_armed *a = &armed[armed_cur];
	char num[24];
	struct iovec v[HISTORY_IOV];
	size_t n;
	int err_no, locked;

	if (!term_armed)
		return;
	term_armed = 0;
	v[0].iov_base = sig == SIGTERM ? a->term_line : a->int_line;
	v[0].iov_len = sig == SIGTERM ? a->term_len : a->int_len;
	v[1].iov_base = key;
	v[1].iov_len = sizeof(key) - 1;
	v[2].iov_base = num;
	v[2].iov_len = proc_fmt_ulong(num, (unsigned long)(elapsed_ms < 0 ?
	    0 : elapsed_ms));
	v[3].iov_base = end;
	v[3].iov_len = sizeof(end) - 1;
	n = v[0].iov_len + v[1].iov_len + v[2].iov_len + v[3].iov_len;
	(void)hist_append_raw(a->path, "", 0, 0, mono_ms() +
	    HISTORY_TERM_LOCK_MS, 1, v, HISTORY_IOV, n, &err_no, &locked);
}

/*
 * The line for ST_TERM with reason, without its closing "}\n", into line
 * (HISTORY_CAP_LINE bytes, of the pair not in use): left as it was when
 * it cannot be made.
 */
static int
hist_prepare(struct history *h, const char *reason, char *line, size_t *len)
{
	struct status st;

	/* room for ,"duration_ms":N}\n after the prepared text */
	if (history_format(h, ST_TERM, 0, reason, -1, line,
	    HISTORY_CAP_LINE - 40, len, &st) != ST_OK)
		return -1;
	*len -= 2;
	return 0;
}

void
history_arm(struct history *h, const char *reason)
{
	struct hist_armed *a = &armed[!armed_cur];
	struct status st;

	if (!h->on) {
		term_armed = 0;
		return;
	}
	/* a failure keeps what is armed (earlier facts), if anything */
	if (hist_dir(h->path, &st) != ST_OK ||
	    hist_prepare(h, reason, a->term_line, &a->term_len) != 0 ||
	    hist_prepare(h, HISTORY_INT_REASON, a->int_line, &a->int_len) != 0)
		return;
	text_copy(a->path, h->path, sizeof(a->path));
	proc_term_hook(hist_term);
	armed_cur = !armed_cur;
	term_armed = 1;
}

int
history_record(struct history *h, int code, int skip, const char *reason,
    long duration_ms, struct status *st)
{
	char *line = NULL;
	size_t len;
	int rc;

	/* one line per run: the SIGTERM line is off once this one is made,
	 * and from here a signal exits with code (proc.h), the signals
	 * blocked until out_verdict has printed the verdict */
	ending_begin(code);
	term_armed = 0;
	status_clear(st);
	rc = ST_OK;
	if (!h->on)
		return rc;
	/* on the heap: a line long, it made the frame over 4 KiB */
	if ((line = malloc(HISTORY_CAP_LINE + 1)) == NULL)
		return status_set(st, ST_OSERR, "history: out of memory");
	if ((rc = history_format(h, code, skip, reason, duration_ms, line,
	    HISTORY_CAP_LINE + 1, &len, st)) == ST_OK)
		rc = hist_append_by(h->path, h->rotated, h->max, line, len,
		    h->deadline, st);
	free(line);
	return rc;
}

/* Reading, for cdgate-status. */

/* Reads at most HISTORY_CAP_READ bytes from the end of path. */
static int
hist_read_tail(const char *path, char **buf, size_t *len, int *cut,
    struct status *st)
{
	struct stat sb;
	off_t off;
	size_t want, got = 0;
	ssize_t r;
	int fd, rc = ST_OK;
	char *b = NULL;

	*buf = NULL;
	*len = 0;
	*cut = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return ST_OK;
		return hist_err_status(HE_OPEN, errno, path, st);
	}
	if ((rc = hist_err_status(hist_fd_ok(fd, &sb), 0, path, st)) != ST_OK)
		goto out;
	off = sb.st_size > HISTORY_CAP_READ ? sb.st_size - HISTORY_CAP_READ :
	    0;
	want = (size_t)(sb.st_size - off);
	*cut = off > 0;
	if ((b = malloc(want + 1)) == NULL) {
		rc = status_set(st, ST_OSERR, "history: out of memory");
		goto out;
	}
	while (got < want) {
		r = pread(fd, b + got, want - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = status_set(st, ST_FAIL, "cannot read history "
			    "'%s': %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

/* One line as a JSON object, or NULL. */
static struct json_object *
hist_parse(const char *s, size_t n)
{
	struct json_tokener *tok;
	struct json_object *j;

	if (n == 0 || n > HISTORY_CAP_LINE || memchr(s, '\0', n) != NULL ||
	    !text_utf8_valid(s, n))
		return NULL;
	if ((tok = json_tokener_new_ex(HISTORY_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	j = json_tokener_parse_ex(tok, s, (int)n);
	if (j != NULL && (json_tokener_get_parse_end(tok) != n ||
	    !json_object_is_type(j, json_type_object))) {
		json_object_put(j);
		j = NULL;
	}
	json_tokener_free(tok);
	return j;
}

/* Appends the entries of one file to arr; *count gets how many. */
static int
hist_load_file(const char *path, struct json_object *arr, size_t *count,
    size_t *bad, struct status *st)
{
	char *buf, *p, *nl, *end;
	struct json_object *j;
	size_t len;
	int cut, rc;

	*count = 0;
	if ((rc = hist_read_tail(path, &buf, &len, &cut, st)) != ST_OK ||
	    buf == NULL)
		return rc;
	p = buf;
	end = buf + len;
	if (cut && (p = memchr(buf, '\n', len)) != NULL)
		p++;		/* the first line was cut by the tail read */
	while (p != NULL && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		j = hist_parse(p, (size_t)((nl ? nl : end) - p));
		if (j == NULL && (nl ? nl : end) > p)
			(*bad)++;
		else if (j != NULL && json_object_array_add(arr, j) == 0)
			(*count)++;
		else if (j != NULL)
			json_object_put(j);
		p = nl ? nl + 1 : NULL;
	}
	free(buf);
	return ST_OK;
}

int
history_load(const char *path, size_t n, struct json_object **out,
    size_t *bad, struct status *st)
{
	char *rotated;
	struct json_object *all = NULL, *cur = NULL, *res = NULL;
	size_t i, count, total, from;
	int rc;

	*out = NULL;
	*bad = 0;
	if (n > HISTORY_CAP_ENTRIES)
		n = HISTORY_CAP_ENTRIES;
	/* on the heap: a path long, it made the frame over 4 KiB */
	if ((rotated = malloc(CAP_PATH + 4)) == NULL)
		return status_set(st, ST_OSERR, "history: out of memory");
	if (snprintf(rotated, CAP_PATH + 4, "%s.1", path) >= CAP_PATH + 4) {
		free(rotated);
		return status_set(st, ST_FAIL, "history path too long");
	}
	if ((all = json_object_new_array()) == NULL ||
	    (cur = json_object_new_array()) == NULL ||
	    (res = json_object_new_array()) == NULL) {
		rc = status_set(st, ST_OSERR, "history: out of memory");
		goto out;
	}
	if ((rc = hist_load_file(path, cur, &count, bad, st)) != ST_OK)
		goto out;
	if (count < n &&
	    (rc = hist_load_file(rotated, all, &count, bad, st)) != ST_OK)
		goto out;
	for (i = 0; i < json_object_array_length(cur); i++)
		json_object_array_add(all,
		    json_object_get(json_object_array_get_idx(cur, i)));
	total = json_object_array_length(all);
	from = total > n ? total - n : 0;
	for (i = from; i < total; i++)
		json_object_array_add(res,
		    json_object_get(json_object_array_get_idx(all, i)));
	*out = res;
	res = NULL;
out:
	json_object_put(all);
	json_object_put(cur);
	json_object_put(res);
	free(rotated);
	return rc;
}
