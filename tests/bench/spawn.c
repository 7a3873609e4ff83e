/*
 * spawn: runs one command and reports what it cost, for the benchmarks
 * (tests/bench/bench.py).
 *
 *   spawn [-i IN] [-o OUT] -- PROGRAM [ARG...]
 *   spawn -n N -d DIR -- PROGRAM [ARG...]
 *
 * Prints one line: "wall_us MAXRSS_KB UTIME_US STIME_US STATUS", where
 * wall_us runs from just before vfork to the return of wait4, and the rest
 * comes from wait4's rusage (the child and its waited-for descendants:
 * ru_maxrss is the largest single process of the tree, the times add up).
 *
 * With -n (a herd, for the fleet simulation): forks N children, each with
 * stdout and stderr in DIR/I.out, each blocked on a pipe until all N
 * exist; then releases them at once (closing the pipe) and prints one such
 * line per child, "I wall_us ...", wall_us counted from the release.
 *
 * Why a launcher at all: Linux keeps the larger of the old and the new
 * address space's peak RSS across execve, so a child forked (or vforked)
 * from a large process (Python) would report the parent's RSS.  This
 * program is small and does nothing else, so ru_maxrss is the child's own.
 * stdin is IN (default /dev/null), stdout and stderr go to OUT (default
 * /dev/null).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long
tv_us(struct timeval tv)
{
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* -n: N children released together; one line per child. */
static int
herd(long n, const char *dir, char **argv)
{
	char path[4096];
	struct rusage ru;
	long long t0, t;
	long i, left;
	pid_t pid, *pids;
	int gate[2], fd, status;
	char c;

	if ((pids = calloc((size_t)n, sizeof(*pids))) == NULL ||
	    pipe(gate) != 0) {
		perror("spawn: herd");
		return 71;
	}
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%ld.out", dir, i) >=
		    (int)sizeof(path) || (fd = open(path, O_WRONLY | O_CREAT |
		    O_TRUNC | O_CLOEXEC, 0644)) < 0) {
			perror("spawn: herd output");
			return 71;
		}
		if ((pid = fork()) < 0) {
			perror("spawn: fork");
			return 71;
		}
		if (pid == 0) {
			close(gate[1]);
			if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
				_exit(126);
			while (read(gate[0], &c, 1) < 0)
				;
			close(gate[0]);
			execv(argv[0], argv);
			_exit(127);
		}
		close(fd);
		pids[i] = pid;
	}
	t0 = now_us();
	close(gate[1]);
	close(gate[0]);
	for (left = n; left > 0; left--) {
		if ((pid = wait4(-1, &status, 0, &ru)) < 0) {
			perror("spawn: wait4");
			return 71;
		}
		t = now_us();
		for (i = 0; i < n && pids[i] != pid; i++)
			;
		printf("%ld %lld %ld %lld %lld %d\n", i, t - t0, ru.ru_maxrss,
		    tv_us(ru.ru_utime), tv_us(ru.ru_stime), status);
	}
	free(pids);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *in = "/dev/null", *out = "/dev/null", *dir = NULL;
	long n = 0;
	struct rusage ru;
	long long t0, t1;
	int c, fdin, fdout, status;
	pid_t pid;

	while ((c = getopt(argc, argv, "d:i:n:o:")) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'i')
			in = optarg;
		else if (c == 'n')
			n = strtol(optarg, NULL, 10);
		else if (c == 'o')
			out = optarg;
		else
			return 64;
	}
	if (optind >= argc || (n > 0) != (dir != NULL) || n < 0 ||
	    n > 100000) {
		fprintf(stderr, "usage: spawn [-i IN] [-o OUT] -- PROGRAM "
		    "[ARG...]\n       spawn -n N -d DIR -- PROGRAM [ARG...]\n");
		return 64;
	}
	if (n > 0)
		return herd(n, dir, argv + optind);
	if ((fdin = open(in, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (fdout = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0) {
		perror("spawn: open");
		return 71;
	}
	t0 = now_us();
	pid = vfork();
	if (pid < 0) {
		perror("spawn: vfork");
		return 71;
	}
	if (pid == 0) {
		if (dup2(fdin, 0) < 0 || dup2(fdout, 1) < 0 ||
		    dup2(fdout, 2) < 0)
			_exit(126);
		execv(argv[optind], argv + optind);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid) {
		perror("spawn: wait4");
		return 71;
	}
	t1 = now_us();
	printf("%lld %ld %lld %lld %d\n", t1 - t0, ru.ru_maxrss,
	    tv_us(ru.ru_utime), tv_us(ru.ru_stime), status);
	return 0;
}
