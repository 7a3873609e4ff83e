#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "mono.h"
#include "out.h"
#include "status.h"
#include "text.h"

static char term_line[CAP_LINE * 2];
static size_t term_len;
/* SIGINT and SIGHUP (a hand-run interrupted): the SIGTERM line would blame
 * the agent's timeout */
static char int_line[CAP_LINE];
static size_t int_len;
static const char *volatile term_unlink;
static volatile pid_t term_child;
static void (*volatile term_hook)(int, int);
static int64_t started;

size_t
proc_fmt_ulong(char *buf, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(tmp));
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* Async-signal-safe: reaps what has ended of the group; 1 when it is gone. */
static int
group_gone(pid_t pid)
{
	int ws;

	/* the program is a subreaper (proc_term_child): orphans of the
	 * group are its children too, and reaped here; a zombie still
	 * counts as a member for kill() until it is reaped */
	while (waitpid(-pid, &ws, WNOHANG) > 0)
		;
	/* errno is not restored: the handler ends in _exit */
	return kill(-pid, 0) == -1 && errno == ESRCH;
}

/*
 * Async-signal-safe: polls every PROC_CHILD_POLL_MS until the group is
 * gone or the monotonic deadline passes (nanosleep may oversleep on a busy
 * machine: the clock, not a count of naps, bounds the wait).
 */
static int
group_wait(pid_t pid, int64_t deadline)
{
	struct timespec ts = { 0, PROC_CHILD_POLL_MS * 1000000L };

	while (!group_gone(pid)) {
		if (mono_ms() >= deadline)
			return 0;
		nanosleep(&ts, NULL);
	}
	return 1;
}

/*
 * Async-signal-safe: the child leads its own process group (proc.h) and
 * got SIGTERM; waits at most PROC_CHILD_GRACE_MS for it and everything it
 * started in that group to end, then SIGKILLs the group and waits at most
 * PROC_CHILD_KILL_MS for the kernel to end them, so that no descendant
 * outlives the program holding its stdout or stderr (the agent would wait
 * on them), and the program still exits well within 100 ms of SIGTERM.
 */
static void
reap_child(pid_t pid)
{
	if (group_wait(pid, mono_ms() + PROC_CHILD_GRACE_MS))
		return;
	kill(-pid, SIGKILL);
	(void)group_wait(pid, mono_ms() + PROC_CHILD_KILL_MS);
}

/*
 * Async-signal-safe: only write, kill, waitpid, nanosleep, unlink,
 * clock_gettime, _exit.
 */
static void
on_signal(int sig)
{
	char buf[sizeof(term_line) + 64];
	size_t n = 0;
	long ms = (long)(mono_ms() - started);
	pid_t child = term_child;
	ssize_t w;

	if (term_unlink != NULL)
		unlink(term_unlink);
	if (child > 0) {
		kill(-child, SIGTERM);
		reap_child(child);
	}
	if (sig == SIGTERM || int_len == 0) {
		memcpy(buf, term_line, term_len);
		n = term_len;
	} else {
		memcpy(buf, int_line, int_len);
		n = int_len;
	}
	memcpy(buf + n, " (signal ", 9);
	n += 9;
	n += proc_fmt_ulong(buf + n, (unsigned long)sig);
	memcpy(buf + n, " after ", 7);
	n += 7;
	n += proc_fmt_ulong(buf + n, (unsigned long)(ms / 1000));
	buf[n++] = '.';
	buf[n++] = (char)('0' + (ms % 1000) / 100);
	memcpy(buf + n, "s)\n", 3);
	n += 3;
	w = write(STDOUT_FILENO, buf, n);
	(void)w;
	if (term_hook != NULL)
		term_hook(sig, (int)ms);
	_exit(ST_TERM);
}

void
proc_on_term(const char *reason)
{
	sigset_t block, old;
	int n;

	/* the handler must never see half a line */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	n = snprintf(term_line, sizeof(term_line), "cdgate: %s: FAIL: %s",
	    out_get_label(), reason);
	if (n < 0 || (size_t)n >= sizeof(term_line))
		n = (int)text_copy(term_line, "cdgate: FAIL: terminated",
		    sizeof(term_line));
	term_len = strlen(term_line);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void
proc_term_unlink(const char *path)
{
	term_unlink = path;
}

void
proc_term_child(pid_t pid)
{
	/* orphans of the child's group become ours, so they can be reaped */
	if (pid > 0)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	term_child = pid;
}

void
proc_term_hook(void (*fn)(int, int))
{
	term_hook = fn;
}

long
proc_elapsed_ms(void)
{
	return (long)(mono_ms() - started);
}

void
proc_start(const char *label)
{
	struct sigaction sa;
	int fd;

	started = mono_ms();
	/* fds 0-2 must be open, so no file we open later lands on them */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		(void)fcntl(fd, F_SETFD, 0);
	if (fd > 2)
		close(fd);
	dup2(STDOUT_FILENO, STDERR_FILENO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	out_label(label);
	if (snprintf(int_line, sizeof(int_line), "cdgate: %s: FAIL: "
	    "interrupted", label) >= (int)sizeof(int_line))
		text_copy(int_line, "cdgate: FAIL: interrupted",
		    sizeof(int_line));
	int_len = strlen(int_line);
	proc_on_term("terminated by SIGTERM: the agent's timeout for this "
	    "script ran out first; keep [gate] timeout below the appspec "
	    "timeout");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}
