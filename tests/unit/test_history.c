/*
 * test_history.c: the deployment history's lines (built with json-c, parsed
 * back here with json-c), the file rules, rotation, concurrent writers,
 * the SIGTERM line and reading the history back.
 *
 * Each case works in a fresh temporary directory (mode 0755).
 */
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include "fmt/history.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/proc.h"
#include "base/status.h"
#include "testlib.h"

static char dir[64];
static char path[128];
static char rotated[140];

/* ------------------------------------------------------------------ */
/* helpers */

static int
setup(void **state)
{
	(void)state;
	tl_tmpdir(dir, sizeof(dir), "history", 0755);
	tl_join(path, sizeof(path), dir, "history.jsonl");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tl_rmtree(dir);
	return 0;
}

static const char *const agent_env[][2] = {
	{ "DEPLOYMENT_ID", "d-ABCDEF123" },
	{ "APPLICATION_NAME", "shop" },
	{ "DEPLOYMENT_GROUP_NAME", "shop-prod" },
	{ "DEPLOYMENT_GROUP_ID", "3c2b1a00-1111-2222-3333-444455556666" },
	{ "BUNDLE_BUCKET", "releases" },
	{ "BUNDLE_KEY", "shop/v42.zip" },
	{ "BUNDLE_VERSION", "v.42" },
	{ "BUNDLE_ETAG", "0123abcd" },
	{ "BUNDLE_COMMIT", "" },
};

static void
set_agent_env(void)
{
	size_t i;

	for (i = 0; i < NELEM(agent_env); i++) {
		if (agent_env[i][1][0] == '\0')
			unsetenv(agent_env[i][0]);
		else
			setenv(agent_env[i][0], agent_env[i][1], 1);
	}
}

static void
clear_agent_env(void)
{
	size_t i;

	for (i = 0; i < NELEM(agent_env); i++)
		unsetenv(agent_env[i][0]);
}

static struct json_object *
parse_line(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *j;

	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	j = json_tokener_parse_ex(tok, line, (int)len);
	assert_non_null(j);
	assert_int_equal(json_tokener_get_parse_end(tok), len);
	json_tokener_free(tok);
	assert_true(json_object_is_type(j, json_type_object));
	return j;
}

static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int64_t
get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

/* Reads a whole file into buf; returns its length. */
static size_t
slurp(const char *p, char *buf, size_t cap)
{
	int fd = open(p, O_RDONLY);
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return got;
}

/* Counts lines of p; each must parse as an object; *seq gets "seq" values. */
static size_t
check_lines(const char *p, int *seen, size_t nseen)
{
	static char buf[4 * 1024 * 1024];
	size_t len = slurp(p, buf, sizeof(buf)), count = 0;
	char *s = buf, *nl;
	struct json_object *j;
	const char *r;
	long k;

	while (s < buf + len) {
		nl = memchr(s, '\n', (size_t)(buf + len - s));
		assert_non_null(nl);	/* every line ends in \n: no tear */
		assert_true(nl - s <= HISTORY_CAP_LINE);
		j = parse_line(s, (size_t)(nl - s));
		r = get_str(j, "reason");
		if (seen != NULL && r != NULL && sscanf(r, "seq %ld", &k) == 1 &&
		    k >= 0 && (size_t)k < nseen)
			seen[k]++;
		json_object_put(j);
		count++;
		s = nl + 1;
	}
	return count;
}

/* ------------------------------------------------------------------ */
/* line format */

static void
test_format_fields_parse_back(void **state)
{
	struct history h;
	struct status st;
	struct json_object *j;
	char line[HISTORY_CAP_LINE + 1];
	size_t len, i;

	(void)state;
	set_agent_env();
	history_begin(&h, path, 0, "before-install", "BeforeInstall");
	history_facts(&h, "i-0123456789abcdef0", "InService",
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000",
	    "2026-11-26T02:00:00Z");
	assert_int_equal(history_format(&h, 0, 0, "marker ok (x)", 1234, line,
	    sizeof(line), &len, &st), ST_OK);
	clear_agent_env();
	assert_int_equal(line[len - 1], '\n');
	assert_int_equal(strlen(line), len);
	j = parse_line(line, len - 1);
	assert_string_equal(get_str(j, "program"), "before-install");
	assert_string_equal(get_str(j, "event"), "BeforeInstall");
	assert_string_equal(get_str(j, "verdict"), "pass");
	assert_int_equal(get_int(j, "exit"), 0);
	assert_string_equal(get_str(j, "reason"), "marker ok (x)");
	assert_int_equal(get_int(j, "duration_ms"), 1234);
	assert_int_equal(get_int(j, "pid"), getpid());
	assert_string_equal(get_str(j, "instance_id"), "i-0123456789abcdef0");
	assert_string_equal(get_str(j, "lifecycle"), "InService");
	assert_string_equal(get_str(j, "marker_finished_at"),
	    "2026-11-26T02:00:00Z");
	assert_non_null(strstr(get_str(j, "marker_digest"), "sha256:"));
	assert_string_equal(get_str(j, "version"), PROC_VERSION);
	assert_int_equal(strlen(get_str(j, "time")), 20);
	assert_int_equal(get_str(j, "time")[19], 'Z');
	for (i = 0; i < NELEM(agent_env); i++) {
		const char *v = get_str(j, HISTORY_ENV[i][1]);
		if (agent_env[i][1][0] == '\0')
			assert_null(v);		/* absent when unset */
		else
			assert_string_equal(v, agent_env[i][1]);
	}
	/* '/' is not escaped: grep-able paths */
	assert_non_null(strstr(line, "shop/v42.zip"));
	json_object_put(j);
}

static void
test_format_verdicts_and_absent_fields(void **state)
{
	static const struct {
		int code, skip;
		const char *verdict;
	} cases[] = {
		{ 0, 0, "pass" }, { 0, 1, "skip" }, { 1, 0, "fail" },
		{ 2, 0, "fail" }, { 78, 1, "fail" },
	};
	struct history h;
	struct status st;
	struct json_object *j;
	char line[HISTORY_CAP_LINE + 1];
	size_t len, i;

	(void)state;
	clear_agent_env();
	history_begin(&h, path, 0, "cdgate-wait", NULL);
	for (i = 0; i < NELEM(cases); i++) {
		assert_int_equal(history_format(&h, cases[i].code,
		    cases[i].skip, "r", -1, line, sizeof(line), &len, &st),
		    ST_OK);
		j = parse_line(line, len - 1);
		assert_string_equal(get_str(j, "verdict"), cases[i].verdict);
		assert_int_equal(get_int(j, "exit"), cases[i].code);
		assert_null(get_str(j, "event"));
		assert_null(get_str(j, "deployment_id"));
		assert_null(get_str(j, "instance_id"));
		assert_false(json_object_object_get_ex(j, "duration_ms",
		    NULL));
		json_object_put(j);
	}
}

static void
test_format_cleans_outside_text(void **state)
{
	struct history h;
	struct status st;
	struct json_object *j;
	char line[HISTORY_CAP_LINE + 1], big[8192];
	const char *v;
	size_t len;

	(void)state;
	clear_agent_env();
	setenv("DEPLOYMENT_ID", "d-\x01\x1b[31mred\n\"q\"\\\xff\xfe", 1);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("BUNDLE_KEY", big, 1);
	history_begin(&h, path, 0, "before-install", "BeforeInstall");
	clear_agent_env();
	assert_int_equal(history_format(&h, 1, 0, "tab\there", 5, line,
	    sizeof(line), &len, &st), ST_OK);
	j = parse_line(line, len - 1);
	v = get_str(j, "deployment_id");
	assert_non_null(v);
	assert_null(strpbrk(v, "\x01\x1b\n\xff"));
	assert_non_null(strstr(v, "\"q\"\\"));	/* quotes survive, escaped */
	v = get_str(j, "bundle_key");
	assert_true(strlen(v) < HISTORY_CAP_FIELD);
	assert_string_equal(v + strlen(v) - 3, "...");
	assert_string_equal(get_str(j, "reason"), "tab here");
	json_object_put(j);
}

static void
test_format_cuts_reason_to_fit(void **state)
{
	struct history h;
	struct status st;
	struct json_object *j;
	char line[HISTORY_CAP_LINE + 1], quotes[HISTORY_CAP_FIELD * 2];
	char reason[CAP_MSG * 2];
	size_t len, i;

	(void)state;
	/* every field at its cap, all quotes: each doubles when escaped */
	memset(quotes, '"', sizeof(quotes) - 1);
	quotes[sizeof(quotes) - 1] = '\0';
	for (i = 0; i < HISTORY_NENV; i++)
		setenv(HISTORY_ENV[i][0], quotes, 1);
	memset(reason, '\\', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	history_begin(&h, path, 0, "before-allow-traffic",
	    "BeforeAllowTraffic");
	clear_agent_env();
	history_facts(&h, quotes, quotes, quotes, quotes);
	assert_int_equal(history_format(&h, 1, 0, reason, 99, line,
	    sizeof(line), &len, &st), ST_OK);
	assert_true(len <= HISTORY_CAP_LINE);
	j = parse_line(line, len - 1);
	/* the reason was cut first, and still says it was cut */
	assert_true(strlen(get_str(j, "reason")) < 200);
	assert_string_equal(get_str(j, "reason") +
	    strlen(get_str(j, "reason")) - 3, "...");
	assert_int_equal(get_int(j, "duration_ms"), 99);
	assert_string_equal(get_str(j, "verdict"), "fail");
	json_object_put(j);
}

/* ------------------------------------------------------------------ */
/* the file */

static void
test_record_appends_lines_mode_0644(void **state)
{
	struct history h;
	struct status st;
	struct stat sb;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		history_begin(&h, path, 0, "cdgate-wait", NULL);
		assert_int_equal(history_record(&h, i, 0, "x", i, &st), ST_OK);
	}
	assert_int_equal(check_lines(path, NULL, 0), 3);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
}

static void
test_record_off_writes_nothing(void **state)
{
	struct history h;
	struct status st;

	(void)state;
	history_begin(&h, "", 0, "cdgate-wait", NULL);
	assert_false(h.on);
	assert_int_equal(history_record(&h, 0, 0, "x", 1, &st), ST_OK);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_record_creates_missing_directory(void **state)
{
	struct history h;
	struct status st;
	char sub[160], p[200];
	struct stat sb;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(p, sizeof(p), "%s/history.jsonl", sub);
	history_begin(&h, p, 0, "cdgate-wait", NULL);
	assert_int_equal(history_record(&h, 0, 0, "x", 1, &st), ST_OK);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	assert_int_equal(check_lines(p, NULL, 0), 1);
}

static void
test_unsafe_files_are_refused(void **state)
{
	static const struct {
		const char *name;
		int kind;		/* 0 link, 1 group-writable, 2 dir o+w,
					   3 FIFO, 4 directory */
		const char *msg;
	} cases[] = {
		{ "symlink", 0, "symbolic link" },
		{ "group-writable", 1, "chmod go-w" },
		{ "world-writable dir", 2, "writable by everyone" },
		/* O_RDWR|O_NONBLOCK opens it at once; refused on the fd */
		{ "fifo", 3, "is not a regular file" },
		{ "directory", 4, "cannot open history" },
	};
	struct history h;
	struct status st;
	char target[160];
	size_t i;
	int fd;

	(void)state;
	snprintf(target, sizeof(target), "%s/target", dir);
	for (i = 0; i < NELEM(cases); i++) {
		unlink(path);
		rmdir(path);
		chmod(dir, 0755);
		switch (cases[i].kind) {
		case 0:
			fd = open(target, O_CREAT | O_WRONLY, 0644);
			close(fd);
			assert_int_equal(symlink(target, path), 0);
			break;
		case 1:
			fd = open(path, O_CREAT | O_WRONLY, 0644);
			assert_int_equal(fchmod(fd, 0664), 0);
			close(fd);
			break;
		case 2:
			assert_int_equal(chmod(dir, 0757), 0);
			break;
		case 3:
			assert_int_equal(mkfifo(path, 0644), 0);
			break;
		case 4:
			assert_int_equal(mkdir(path, 0755), 0);
			break;
		}
		history_begin(&h, path, 0, "cdgate-wait", NULL);
		assert_int_not_equal(history_record(&h, 0, 0, "x", 1, &st),
		    ST_OK);
		if (strstr(st.msg, cases[i].msg) == NULL)
			fail_msg("%s: message '%s' lacks '%s'", cases[i].name,
			    st.msg, cases[i].msg);
		/* nothing was written through the link */
		assert_int_equal(check_lines(target, NULL, 0), 0);
	}
	unlink(path);
	rmdir(path);
	chmod(dir, 0755);
}

static void
test_rotation_keeps_newest_lines(void **state)
{
	char line[HISTORY_CAP_LINE + 1];
	struct history h;
	struct status st;
	const long max = 4000;
	size_t len, main_n, rot_n;
	struct stat sb;
	int seen[60] = { 0 }, i;
	char why[32];

	(void)state;
	history_begin(&h, path, max, "cdgate-wait", NULL);
	for (i = 0; i < 60; i++) {
		snprintf(why, sizeof(why), "seq %d", i);
		assert_int_equal(history_format(&h, 0, 0, why, i, line,
		    sizeof(line), &len, &st), ST_OK);
		assert_int_equal(history_append(h.path, h.rotated, max, line,
		    len, &st), ST_OK);
		/* the current file never passes max */
		assert_int_equal(stat(path, &sb), 0);
		assert_true(sb.st_size <= max);
	}
	main_n = check_lines(path, seen, NELEM(seen));
	rot_n = check_lines(rotated, seen, NELEM(seen));
	assert_true(rot_n > 0);
	/* the newest main_n + rot_n lines are there, each once */
	for (i = 0; i < 60; i++) {
		if ((size_t)i >= 60 - main_n - rot_n)
			assert_int_equal(seen[i], 1);
		else
			assert_int_equal(seen[i], 0);
	}
}

static void
test_concurrent_writers_lose_no_line(void **state)
{
	enum { WRITERS = 20, EACH = 25 };
	static int seen[WRITERS * EACH];
	char line[HISTORY_CAP_LINE + 1], why[32];
	struct history h;
	struct status st;
	pid_t pids[WRITERS];
	size_t len, total;
	int i, k, ws;
	long max;

	(void)state;
	memset(seen, 0, sizeof(seen));
	/* one rotation at most: every line is in the file or in .1 */
	history_begin(&h, path, 0, "cdgate-wait", NULL);
	assert_int_equal(history_format(&h, 0, 0, "seq 000", 1, line,
	    sizeof(line), &len, &st), ST_OK);
	max = (long)(len * WRITERS * EACH * 2 / 3);
	for (i = 0; i < WRITERS; i++) {
		if ((pids[i] = fork()) == 0) {
			for (k = 0; k < EACH; k++) {
				snprintf(why, sizeof(why), "seq %03d",
				    i * EACH + k);
				if (history_format(&h, 0, 0, why, 1, line,
				    sizeof(line), &len, &st) != ST_OK ||
				    history_append(h.path, h.rotated, max,
				    line, len, &st) != ST_OK)
					_exit(1);
			}
			_exit(0);
		}
		assert_true(pids[i] > 0);
	}
	for (i = 0; i < WRITERS; i++) {
		assert_int_equal(waitpid(pids[i], &ws, 0), pids[i]);
		assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	}
	total = check_lines(path, seen, NELEM(seen)) +
	    check_lines(rotated, seen, NELEM(seen));
	assert_int_equal(total, WRITERS * EACH);
	assert_int_equal(access(rotated, F_OK), 0);	/* it did rotate */
	for (i = 0; i < WRITERS * EACH; i++)
		assert_int_equal(seen[i], 1);
}

/* Forks a child that sends its stdout to /dev/null and starts as the
 * program before-install (proc_start: SIGTERM ends it with ST_TERM);
 * returns 0 in the child, the child's pid in the parent. */
static pid_t
fork_program(void)
{
	pid_t pid = fork();
	int devnull;

	assert_true(pid >= 0);
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, STDOUT_FILENO);
		proc_start("before-install");
	}
	return pid;
}

/* Waits for the child pid, which must exit with code; returns the one
 * line the history must then hold, parsed. */
static struct json_object *
exit_and_one_line(pid_t pid, int code)
{
	static char buf[8192];
	char *nl;
	int ws;

	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), code);
	assert_true(slurp(path, buf, sizeof(buf)) > 0);
	nl = strchr(buf, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');		/* exactly one line */
	return parse_line(buf, (size_t)(nl - buf));
}

/* The same for a child that must exit ST_TERM. */
static struct json_object *
term_and_one_line(pid_t pid)
{
	return exit_and_one_line(pid, ST_TERM);
}

/* SIGTERM blames the agent's timeout; SIGINT and SIGHUP say "by hand". */
static void
test_signal_writes_the_prepared_line(void **state)
{
	static const struct {
		int sig;
		const char *reason;
	} cases[] = {
		{ SIGTERM, "terminated by SIGTERM" },
		{ SIGINT, HISTORY_INT_REASON },
		{ SIGHUP, HISTORY_INT_REASON },
	};
	struct json_object *j;
	struct history h;
	size_t i;
	pid_t pid;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(path);
		if ((pid = fork_program()) == 0) {
			setenv("DEPLOYMENT_ID", "d-TERM00001", 1);
			history_begin(&h, path, 0, "before-install",
			    "BeforeInstall");
			history_facts(&h, "i-0123456789abcdef0", "InService",
			    NULL, NULL);
			history_arm(&h, "terminated by SIGTERM");
			usleep(120 * 1000);
			kill(getpid(), cases[i].sig);
			pause();
			_exit(99);
		}
		j = term_and_one_line(pid);
		assert_string_equal(get_str(j, "verdict"), "fail");
		assert_int_equal(get_int(j, "exit"), ST_TERM);
		assert_string_equal(get_str(j, "reason"), cases[i].reason);
		assert_string_equal(get_str(j, "deployment_id"), "d-TERM00001");
		assert_string_equal(get_str(j, "instance_id"),
		    "i-0123456789abcdef0");
		assert_true(get_int(j, "duration_ms") >= 100);
		assert_true(get_int(j, "duration_ms") < 10000);
		json_object_put(j);
	}
}

/* A signal while history_arm re-arms (a wait starting) still finds a
 * whole line: the child re-arms without a pause until the signal. */
static void
test_signal_while_re_arming_writes_the_line(void **state)
{
	struct json_object *j;
	struct history h;
	int round, ready[2];
	char c;
	pid_t pid;

	(void)state;
	for (round = 0; round < 5; round++) {
		unlink(path);
		assert_int_equal(pipe(ready), 0);
		if ((pid = fork_program()) == 0) {
			history_begin(&h, path, 0, "before-install",
			    "BeforeInstall");
			history_facts(&h, "i-0123456789abcdef0", "InService",
			    NULL, NULL);
			history_arm(&h, "terminated by SIGTERM");
			if (write(ready[1], "r", 1) != 1)	/* armed once */
				_exit(98);
			for (;;)
				history_arm(&h, "terminated by SIGTERM");
		}
		close(ready[1]);
		assert_int_equal(read(ready[0], &c, 1), 1);
		close(ready[0]);
		usleep((useconds_t)(2000 + round * 3000));
		kill(pid, round % 2 ? SIGINT : SIGTERM);
		j = term_and_one_line(pid);
		assert_string_equal(get_str(j, "reason"), round % 2 ?
		    HISTORY_INT_REASON : "terminated by SIGTERM");
		assert_string_equal(get_str(j, "instance_id"),
		    "i-0123456789abcdef0");
		json_object_put(j);
	}
}

/*
 * Issue 15, item 3: a signal once the line is written (between it and the
 * verdict, or after the verdict) exits with the recorded code, adding no
 * line: exit code and history agree.  It used to exit 3 after a pass line.
 */
static void
test_sigterm_after_record_keeps_the_recorded_outcome(void **state)
{
	static const int codes[] = { 0, 1, 2 };
	struct json_object *j;
	struct history h;
	struct status st;
	size_t i, when;
	pid_t pid;

	(void)state;
	for (i = 0; i < NELEM(codes); i++)
		for (when = 0; when < 2; when++) {
			unlink(path);
			if ((pid = fork_program()) == 0) {
				history_begin(&h, path, 0, "before-install",
				    "BeforeInstall");
				history_arm(&h, "terminated");
				if (history_record(&h, codes[i], 0, "done", 5,
				    &st) != ST_OK)
					_exit(98);
				if (when == 0)	/* before the verdict */
					kill(getpid(), SIGTERM);
				out_verdict(codes[i], 0, "done");
				if (when == 1)
					kill(getpid(), SIGTERM);
				pause();
				_exit(99);
			}
			j = exit_and_one_line(pid, codes[i]);
			assert_int_equal(get_int(j, "exit"), codes[i]);
			assert_string_equal(get_str(j, "verdict"),
			    codes[i] ? "fail" : "pass");
			json_object_put(j);
		}
}

/*
 * Issue 15, item 14: an append the file system cuts short (here
 * RLIMIT_FSIZE, as ENOSPC would) leaves the file exactly as it was, and
 * the next append is a whole line of its own; a file that already ends in
 * a torn line gets a newline before the next one.
 */
static void
test_failed_append_leaves_the_file_as_it_was(void **state)
{
	static char before[8192], after[8192];
	static const char torn[] = "{\"verdict\":\"pa";
	struct history h;
	struct status st;
	struct rlimit lim;
	struct sigaction sa;
	struct json_object *j;
	ssize_t n0, n1;
	pid_t pid;
	int i, ws;

	(void)state;
	history_begin(&h, path, 0, "before-install", "BeforeInstall");
	assert_int_equal(history_record(&h, 0, 0, "first", 5, &st), ST_OK);
	n0 = slurp(path, before, sizeof(before));
	assert_true(n0 > 0);
	/* in a child: the limit must not outlive a failed assertion */
	if ((pid = fork()) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		if (sigaction(SIGXFSZ, &sa, NULL) != 0 ||
		    getrlimit(RLIMIT_FSIZE, &lim) != 0)
			_exit(90);
		lim.rlim_cur = (rlim_t)n0 + 20;	/* 20 bytes of the line */
		for (i = 0; i < 2; i++) {	/* a short write, then EFBIG */
			if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
				_exit(91);
			if (history_record(&h, 1, 0, "second", 5, &st) == ST_OK)
				_exit(92 + i);
			if (strstr(st.msg, "left as it was") == NULL)
				_exit(94 + i);
			if ((ssize_t)slurp(path, after, sizeof(after)) != n0 ||
			    memcmp(before, after, (size_t)n0) != 0)
				_exit(96 + i);
			lim.rlim_cur = (rlim_t)n0;
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	CHECK_INT("failed appends", WEXITSTATUS(ws), 0);
	n1 = (ssize_t)slurp(path, after, sizeof(after));
	CHECK_INT("size", n1, n0);
	assert_int_equal(history_record(&h, 2, 0, "third", 5, &st), ST_OK);
	n1 = slurp(path, after, sizeof(after));
	assert_true(n1 > n0 && after[n1 - 1] == '\n');
	assert_non_null(j = parse_line(after + n0, (size_t)(n1 - n0 - 1)));
	assert_string_equal(get_str(j, "reason"), "third");
	json_object_put(j);

	/* a torn line left by something else: the next line is not glued */
	tl_put_text(path, torn);
	assert_int_equal(history_record(&h, 0, 0, "fourth", 5, &st), ST_OK);
	n1 = slurp(path, after, sizeof(after));
	n0 = (ssize_t)strlen(torn);
	assert_true(n1 > n0 + 1 && after[n0] == '\n' && after[n1 - 1] == '\n');
	assert_non_null(j = parse_line(after + n0 + 1,
	    (size_t)(n1 - n0 - 2)));
	assert_string_equal(get_str(j, "reason"), "fourth");
	json_object_put(j);
}

/* Issue 15, item 5: the lock held elsewhere is waited for until the
 * run's deadline (not HISTORY_LOCK_MS past it), then the line is appended
 * without it and the note says so. */
static void
test_lock_wait_ends_at_the_deadline(void **state)
{
	struct history h;
	struct status st;
	int64_t t0, took;
	int fd;

	(void)state;
	tl_put_text(path, "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);	/* another holder */
	history_begin(&h, path, 0, "before-install", "BeforeInstall");
	t0 = mono_ms();
	h.deadline = t0 + 200;
	assert_int_equal(history_record(&h, 2, 0, "late", 5, &st), ST_OK);
	took = mono_ms() - t0;
	CHECK_HAS("note", st.msg, "lock was held by another process");
	CHECK_HAS("note", st.msg, "appended without it");
	assert_true(took >= 150);
	assert_true(took < HISTORY_LOCK_MS - 200);
	/* past the deadline: HISTORY_LOCK_MIN_MS, not HISTORY_LOCK_MS */
	t0 = mono_ms();
	h.deadline = t0 - 1000;
	assert_int_equal(history_record(&h, 2, 0, "later", 5, &st), ST_OK);
	took = mono_ms() - t0;
	CHECK_HAS("note", st.msg, "up to the deadline");
	assert_true(took < HISTORY_LOCK_MS - 200);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* reading */

static void
test_load_skips_garbage_and_torn_lines(void **state)
{
	struct json_object *arr;
	struct status st;
	size_t bad;

	(void)state;
	tl_put_text(path,
	    "{\"reason\":\"seq 0\"}\n"
	    "not json\n"
	    "{\"reason\":\"seq 1\"}\n"
	    "[1,2]\n"
	    "{\"reason\":\"seq 2\"} trailing\n"
	    "\xff\xfe\n"
	    "\n"
	    "{\"reason\":\"seq 3\"}\n"
	    "{\"reason\":\"se");
	assert_int_equal(history_load(path, 10, &arr, &bad, &st), ST_OK);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_int_equal(bad, 5);
	assert_string_equal(get_str(json_object_array_get_idx(arr, 2),
	    "reason"), "seq 3");
	json_object_put(arr);
}

static void
test_load_last_n_across_rotation(void **state)
{
	struct json_object *arr;
	struct status st;
	size_t bad, i;
	char want[16];

	(void)state;
	tl_put_text(rotated, "{\"reason\":\"seq 0\"}\n{\"reason\":\"seq 1\"}\n"
	    "{\"reason\":\"seq 2\"}\n");
	tl_put_text(path, "{\"reason\":\"seq 3\"}\n{\"reason\":\"seq 4\"}\n");
	assert_int_equal(history_load(path, 4, &arr, &bad, &st), ST_OK);
	assert_int_equal(json_object_array_length(arr), 4);
	for (i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "seq %zu", i + 1);
		assert_string_equal(get_str(json_object_array_get_idx(arr, i),
		    "reason"), want);
	}
	json_object_put(arr);
	assert_int_equal(history_load(path, 1, &arr, &bad, &st), ST_OK);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_string_equal(get_str(json_object_array_get_idx(arr, 0),
	    "reason"), "seq 4");
	json_object_put(arr);
}

static void
test_load_missing_is_empty_and_link_refused(void **state)
{
	struct json_object *arr;
	struct status st;
	char target[160];
	size_t bad;

	(void)state;
	assert_int_equal(history_load(path, 5, &arr, &bad, &st), ST_OK);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	snprintf(target, sizeof(target), "%s/t", dir);
	tl_put_text(target, "{\"reason\":\"x\"}\n");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(history_load(path, 5, &arr, &bad, &st), ST_FAIL);
	assert_null(arr);
	assert_non_null(strstr(st.msg, "symbolic link"));
	unlink(path);
	tl_put_text(path, "{\"reason\":\"x\"}\n");
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(history_load(path, 5, &arr, &bad, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "go-w"));
}

static void
test_load_reads_only_the_tail_of_a_big_file(void **state)
{
	struct json_object *arr;
	struct status st;
	size_t bad, i;
	int fd;
	static char junk[1024 * 1024];

	(void)state;
	/* 5 MiB of one garbage "line", then two good lines */
	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(write(fd, junk, sizeof(junk)),
		    (ssize_t)sizeof(junk));
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\n{\"a\":1}\n{\"a\":2}\n", 17), 17);
	close(fd);
	assert_int_equal(history_load(path, 10, &arr, &bad, &st), ST_OK);
	assert_int_equal(json_object_array_length(arr), 2);
	assert_int_equal(bad, 0);	/* the cut first line is not counted */
	json_object_put(arr);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_format_fields_parse_back),
		T(test_format_verdicts_and_absent_fields),
		T(test_format_cleans_outside_text),
		T(test_format_cuts_reason_to_fit),
		T(test_record_appends_lines_mode_0644),
		T(test_record_off_writes_nothing),
		T(test_record_creates_missing_directory),
		T(test_unsafe_files_are_refused),
		T(test_rotation_keeps_newest_lines),
		T(test_concurrent_writers_lose_no_line),
		T(test_signal_writes_the_prepared_line),
		T(test_signal_while_re_arming_writes_the_line),
		T(test_sigterm_after_record_keeps_the_recorded_outcome),
		T(test_failed_append_leaves_the_file_as_it_was),
		T(test_lock_wait_ends_at_the_deadline),
		T(test_load_skips_garbage_and_torn_lines),
		T(test_load_last_n_across_rotation),
		T(test_load_missing_is_empty_and_link_refused),
		T(test_load_reads_only_the_tail_of_a_big_file),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
