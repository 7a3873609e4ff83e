#include "base/out.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/caps.h"
#include "base/mono.h"
#include "base/ending.h"
#include "base/text.h"

static char label[64] = "cdgate";
static int quiet;

/*
 * How lines reach stdout without ever blocking (out.h).  OUT_PRIVATE: a
 * pipe, reopened through /proc/self/fd/1 as an O_NONBLOCK description of
 * our own: the flag is per open file description, and setting it on the
 * inherited one would also make the writes of a cdgate-mark --run command
 * (and of the agent's other users of that description) fail with EAGAIN;
 * the new description is ours alone (close-on-exec).  OUT_SOCKET: send()
 * with MSG_DONTWAIT, per call.  OUT_POLL: anything else (a terminal, a
 * file, a pipe that could not be reopened): poll for room, then write.
 */
enum { OUT_POLL, OUT_PRIVATE, OUT_SOCKET };
static int out_fd = STDOUT_FILENO;
static int out_kind = OUT_POLL;
static int out_stalled;		/* a line was dropped; none since went out */

void
out_open(void)
{
	struct stat sb;
	int fd;

	if (fstat(STDOUT_FILENO, &sb) != 0)
		return;
	if (S_ISSOCK(sb.st_mode)) {
		out_kind = OUT_SOCKET;
		return;
	}
	if (!S_ISFIFO(sb.st_mode))
		return;
	/* a magic link to the pipe itself, not a path anyone can plant */
	fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;		/* no reader (ENXIO), no /proc: poll */
	if (fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
		out_fd = fd;
		out_kind = OUT_PRIVATE;
	} else
		close(fd);
}

/* One try without blocking: bytes written, or -1 with errno (EAGAIN: no
 * room).  Async-signal-safe. */
static ssize_t
out_try(const char *buf, size_t n)
{
	struct pollfd p = { out_fd, POLLOUT, 0 };
	int r;

	switch (out_kind) {
	case OUT_SOCKET:
		return send(out_fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	case OUT_PRIVATE:
		return write(out_fd, buf, n);
	default:
		if ((r = poll(&p, 1, 0)) < 0)
			return -1;
		if (r == 0) {
			errno = EAGAIN;
			return -1;
		}
		return write(out_fd, buf, n);
	}
}

/* Waits at most ms for room; 1 when there may be some. */
static int
out_room(int ms)
{
	struct pollfd p = { out_fd, POLLOUT, 0 };

	return poll(&p, 1, ms) > 0;
}

/*
 * Writes a whole line (n <= PIPE_BUF: one atomic write on a pipe).  With
 * no room, waits at most OUT_WAIT_MS, in steps that end early when a
 * signal comes; then drops the line, and later lines do not wait until one
 * goes through again.  0 written, 1 dropped, -1 the output is gone.
 */
static int
out_write(const char *buf, size_t n)
{
	int64_t until = mono_ms() + (out_stalled ? 0 : OUT_WAIT_MS), left;
	ssize_t w;

	while (n > 0) {
		w = out_try(buf, n);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			out_stalled = 0;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || errno != EAGAIN)
			return -1;	/* EPIPE (nobody reads any more), EIO */
		left = until - mono_ms();
		if (left <= 0 || ending_signalled()) {
			out_stalled = 1;
			return 1;
		}
		(void)out_room(left < OUT_STEP_MS ? (int)left : OUT_STEP_MS);
	}
	return 0;
}

int
out_relay(const char *buf, size_t n)
{
	return out_write(buf, n) < 0 ? -1 : 0;
}

void
out_signal_write(const char *buf, size_t n)
{
	ssize_t w;
	int tries;

	for (tries = 0; tries < 2 && n > 0; tries++) {
		w = out_try(buf, n);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			tries = -1;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;
		else if (n > 0 && tries == 0)
			(void)out_room(OUT_SIGNAL_WAIT_MS);
	}
}

void
out_label(const char *l)
{
	text_clean(label, sizeof(label), l, strlen(l));
}

const char *
out_get_label(void)
{
	return label;
}

void
out_quiet(int q)
{
	quiet = q;
}

static void out_emit(const char *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
out_emit(const char *kind, const char *fmt, va_list ap)
{
	char raw[CAP_LINE * 4], line[CAP_LINE], out[CAP_LINE + 128];
	int n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		text_copy(raw, "(message could not be formatted)", sizeof(raw));
	text_clean(line, sizeof(line), raw, strlen(raw));
	if (kind != NULL)
		n = snprintf(out, sizeof(out), "cdgate: %s: %s: %s\n", label,
		    kind, line);
	else
		n = snprintf(out, sizeof(out), "cdgate: %s: %s\n", label, line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(out)) {		/* cannot happen: caps */
		n = (int)sizeof(out) - 1;
		out[n - 1] = '\n';
	}
	/* stdout's lock orders the threads' lines (gate.c holds it from
	 * the watch's verdict to _exit); what stdio holds goes first */
	flockfile(stdout);
	fflush(stdout);
	out_write(out, (size_t)n);
	funlockfile(stdout);
}

void
out_info(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	out_emit(NULL, fmt, ap);
	va_end(ap);
}

void
out_verdict(int code, int skip, const char *fmt, ...)
{
	va_list ap;

	/* from here a signal keeps this outcome (proc.h): history_record
	 * may have begun it with the same code */
	ending_begin(code);
	va_start(ap, fmt);
	out_emit(code != 0 ? "FAIL" : skip ? "SKIP" : "PASS", fmt, ap);
	va_end(ap);
	ending_done();
}
