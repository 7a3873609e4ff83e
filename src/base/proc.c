#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/caps.h"
#include "base/ending.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/status.h"
#include "base/text.h"

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
static struct rlimit core_limit;	/* RLIMIT_CORE as inherited */
static int core_saved;
static struct rlimit nofile_limit;	/* RLIMIT_NOFILE as inherited */
static int nofile_raised;

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
	int code;

	/* the outcome is decided (or being recorded by another thread): it
	 * stands, so the exit code always agrees with the history line */
	if (!ending_claim(&code))
		_exit(code);
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
	out_signal_write(buf, n);
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
	ending_signals(&block);
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

/*
 * glibc refuses sigaction on the two signals it keeps for itself (32 and
 * 33), yet a parent can leave them ignored (GNU make's posix_spawn does)
 * and an ignored signal survives exec: the kernel call sets them back to
 * the default.  All fields zero is SIG_DFL, no flags, an empty mask, in
 * every architecture's layout of the kernel's struct.
 */
static void
proc_sig_default(int sig)
{
	unsigned long ksa[4] = { 0, 0, 0, 0 };

	/* 8: the size of the kernel's sigset_t (64 signals) */
	(void)syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)8);
}

void
proc_child_reset(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP &&
		    sigaction(sig, &sa, NULL) != 0)
			proc_sig_default(sig);	/* glibc's own: 32, 33 */
	if (core_saved)
		(void)setrlimit(RLIMIT_CORE, &core_limit);
	if (nofile_raised)
		(void)setrlimit(RLIMIT_NOFILE, &nofile_limit);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

pid_t
proc_fork_group(void)
{
	sigset_t block, old;
	pid_t pid;
	int err;

	/* no handler of ours may run in the child, nor a signal slip
	 * between the fork and proc_term_child in the parent */
	ending_signals(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		proc_child_reset();
		return 0;
	}
	err = errno;
	if (pid > 0) {
		setpgid(pid, pid);	/* also here: no race with the child's */
		proc_term_child(pid);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return pid;
}

long
proc_elapsed_ms(void)
{
	return (long)(mono_ms() - started);
}

/*
 * Too few file descriptors (ulimit -n) would fail a run half-way with a
 * misleading reason (a marker that cannot be opened, instance metadata
 * unreachable): the soft limit is raised to PROC_MIN_FDS when the hard one
 * allows it (the --run command gets the inherited one back), or the
 * program ends at once as a system error.
 */
static void
proc_fds(void)
{
	struct rlimit want;

	if (getrlimit(RLIMIT_NOFILE, &nofile_limit) != 0 ||
	    nofile_limit.rlim_cur >= PROC_MIN_FDS)
		return;
	want = nofile_limit;
	want.rlim_cur = PROC_MIN_FDS;
	if (nofile_limit.rlim_max >= PROC_MIN_FDS &&
	    setrlimit(RLIMIT_NOFILE, &want) == 0) {
		nofile_raised = 1;
		return;
	}
	out_verdict(ST_OSERR, 0, "too few file descriptors: the limit is %lu "
	    "(ulimit -n) and cannot be raised; cdgate needs at least %d",
	    (unsigned long)nofile_limit.rlim_cur, PROC_MIN_FDS);
	exit(ST_OSERR);
}

void
proc_start(const char *label)
{
	struct sigaction sa;
	int fd;

	started = mono_ms();
	ending_reset();	/* a forked test program starts anew */
	/* no core file: it would hold the IMDS token and role credentials
	 * (non-dumpable also keeps other users' ptrace and /proc/PID/mem
	 * out); RLIMIT_CORE 0 for the kernels' suid_dumpable = 2 */
	(void)prctl(PR_SET_DUMPABLE, 0);
	if (getrlimit(RLIMIT_CORE, &core_limit) == 0) {
		struct rlimit none = { 0, core_limit.rlim_max };

		core_saved = 1;
		(void)setrlimit(RLIMIT_CORE, &none);
	}
	/* fds 0-2 must be open, so no file we open later lands on them */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		(void)fcntl(fd, F_SETFD, 0);
	if (fd > 2)
		close(fd);
	dup2(STDOUT_FILENO, STDERR_FILENO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	out_open();
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
	sigaction(SIGQUIT, &sa, NULL);
	/* a mask inherited with these blocked would leave the handler unrun
	 * (no verdict, no history line, no exit): unblocked once it is in
	 * place; a signal already pending is handled now */
	ending_signals(&sa.sa_mask);
	sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
	proc_fds();
}
