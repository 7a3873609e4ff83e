/*
 * test_proc.c: start-up hygiene and signals (issue 15, items 2, 3, 12 and
 * 15): what proc_start does to an inherited signal mask, SIG_IGN, core
 * dumps and a low descriptor limit, how a signal after the outcome is
 * decided keeps it, and what a --run command inherits.
 *
 * Each case forks a child that becomes a program (proc_start, stdout on
 * /dev/null) and reports through its exit status.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "base/ending.h"
#include "base/out.h"
#include "base/proc.h"
#include "base/status.h"
#include "testlib.h"

/* The child's exit status (-signal when a signal killed it). */
static int
child_status(pid_t pid)
{
	int ws;

	assert_int_equal(waitpid(pid, &ws, 0), pid);
	if (WIFSIGNALED(ws))
		return -WTERMSIG(ws);
	assert_true(WIFEXITED(ws));
	return WEXITSTATUS(ws);
}

static void
quiet_stdout(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		_exit(97);
	close(fd);
}

/* Item 12: non-dumpable, no core size, and SIGQUIT ends it with ST_TERM
 * like SIGTERM (it used to dump core). */
static void
test_no_core_and_sigquit_is_handled(void **state)
{
	struct rlimit rl;
	pid_t pid;

	(void)state;
	if ((pid = fork()) == 0) {
		quiet_stdout();
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		(void)setrlimit(RLIMIT_CORE, &rl);
		proc_start("test");
		if (prctl(PR_GET_DUMPABLE) != 0)
			_exit(10);
		if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0)
			_exit(11);
		kill(getpid(), SIGQUIT);
		_exit(12);
	}
	CHECK_INT("sigquit", child_status(pid), ST_TERM);
}

/* Item 2: SIGTERM blocked (or ignored) in the inherited mask still ends
 * the program with ST_TERM; a SIGTERM already pending is handled at once. */
static void
test_inherited_blocked_sigterm_is_unblocked(void **state)
{
	static const struct {
		const char *name;
		int ignore, pending;
	} rows[] = {
		{ "blocked", 0, 0 },
		{ "blocked, pending before start", 0, 1 },
		{ "ignored", 1, 0 },
	};
	sigset_t set;
	size_t i;
	pid_t pid;

	(void)state;
	for (i = 0; i < NELEM(rows); i++) {
		if ((pid = fork()) == 0) {
			quiet_stdout();
			sigemptyset(&set);
			sigaddset(&set, SIGTERM);
			sigaddset(&set, SIGQUIT);
			sigprocmask(SIG_BLOCK, &set, NULL);
			if (rows[i].ignore)
				signal(SIGTERM, SIG_IGN);
			if (rows[i].pending)
				kill(getpid(), SIGTERM);
			proc_start("test");
			kill(getpid(), SIGTERM);
			usleep(200 * 1000);
			_exit(20);	/* the signal stayed blocked */
		}
		CHECK_INT(rows[i].name, child_status(pid), ST_TERM);
	}
}

/* Item 3: once the outcome is decided (ending_begin), a signal exits
 * with its code, before or after the verdict. */
static void
test_signal_after_the_outcome_keeps_it(void **state)
{
	static const int codes[] = { 0, 1, 2, 69 };
	size_t i, when;
	pid_t pid;

	(void)state;
	for (i = 0; i < NELEM(codes); i++)
		for (when = 0; when < 3; when++) {
			if ((pid = fork()) == 0) {
				quiet_stdout();
				proc_start("test");
				ending_begin(codes[i]);
				if (when == 0)
					kill(getpid(), SIGTERM);
				out_verdict(codes[i], 0, "done");
				if (when == 1)
					kill(getpid(), SIGTERM);
				if (when == 2)
					kill(getpid(), SIGINT);
				usleep(200 * 1000);
				_exit(30);
			}
			CHECK_INT("outcome", child_status(pid), codes[i]);
		}
}

/* Items 2 and 12: a --run command starts with no signal blocked, every
 * disposition the default, and the inherited core limit. */
static void
test_forked_command_gets_a_clean_start(void **state)
{
	struct sigaction sa;
	struct rlimit rl;
	sigset_t set, cur;
	pid_t pid, cmd;
	int sig;

	(void)state;
	if ((pid = fork()) == 0) {
		quiet_stdout();
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		(void)setrlimit(RLIMIT_CORE, &rl);
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		signal(SIGUSR2, SIG_IGN);
		proc_start("test");
		if ((cmd = proc_fork_group()) == 0) {
			sigprocmask(SIG_SETMASK, NULL, &cur);
			for (sig = 1; sig < NSIG; sig++)
				if (sigismember(&cur, sig) == 1)
					_exit(40);
			for (sig = 1; sig < 32; sig++)
				if (sigaction(sig, NULL, &sa) == 0 &&
				    sa.sa_handler != SIG_DFL)
					_exit(41);
			if (getpgrp() != getpid())
				_exit(42);
			if (getrlimit(RLIMIT_CORE, &rl) != 0 ||
			    rl.rlim_cur != RLIM_INFINITY)
				_exit(43);
			_exit(0);
		}
		_exit(cmd > 0 ? child_status(cmd) : 44);
	}
	CHECK_INT("command", child_status(pid), 0);
}

/* Item 15: a hard descriptor limit below PROC_MIN_FDS ends the program at
 * start as a system error; a soft one is raised. */
static void
test_too_few_descriptors(void **state)
{
	struct rlimit rl;
	pid_t pid;

	(void)state;
	if ((pid = fork()) == 0) {
		quiet_stdout();
		rl.rlim_cur = rl.rlim_max = 8;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(50);
		proc_start("test");
		_exit(51);
	}
	CHECK_INT("hard 8", child_status(pid), ST_OSERR);
	if ((pid = fork()) == 0) {
		quiet_stdout();
		assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
		if (rl.rlim_max < PROC_MIN_FDS)
			_exit(0);
		rl.rlim_cur = 8;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(52);
		proc_start("test");
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
		    rl.rlim_cur < PROC_MIN_FDS)
			_exit(53);
		_exit(0);
	}
	CHECK_INT("soft 8", child_status(pid), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_core_and_sigquit_is_handled),
		cmocka_unit_test(test_inherited_blocked_sigterm_is_unblocked),
		cmocka_unit_test(test_signal_after_the_outcome_keeps_it),
		cmocka_unit_test(test_forked_command_gets_a_clean_start),
		cmocka_unit_test(test_too_few_descriptors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
