/*
 * cdgate-mark: the last step of User Data.  Writes the provisioning marker
 * atomically: ok, or failed with a message; with --run, runs the
 * provisioning command first and records its outcome.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks/marker.h"
#include "run/config.h"
#include "fmt/digest.h"
#include "base/file.h"
#include "fmt/history.h"
#include "aws/imds.h"
#include "fmt/markerfile.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"
#include "run/tool.h"

#define MARK_MAX_DIGEST_PATHS 64
#define MARK_RELAY_BUF 16384	/* the command's output, read at a time */

static const char usage[] =
    "usage: cdgate-mark [-hnqV] [-c config] [--path FILE] [--instance-id ID]\n"
    "           [--failed MESSAGE] [--digest PATH...] [--tag KEY=VALUE]...\n"
    "           [--run -- COMMAND [ARG...]]\n"
    "  Writes the provisioning marker (default [marker] path of cdgate.ini).\n"
    "  --failed MESSAGE  record that provisioning failed, and why\n"
    "  --digest PATH...  SHA-256 over files or trees (repeatable; the\n"
    "                    arguments up to the next option are paths too)\n"
    "  --tag KEY=VALUE   record a tag provisioning acted on (repeatable)\n"
    "  --run -- CMD...   run the provisioning command, record ok or failed\n"
    "                    from its exit status, and exit with that status\n"
    "  -n  check mode: print the plan and the marker, read no instance\n"
    "      metadata, run nothing, write nothing;  -q  quiet;  -V  version\n";

struct mark {
	const char *cfgpath, *path, *iid, *failed;
	const char *digests[MARK_MAX_DIGEST_PATHS];
	size_t ndigests;
	char **run;
	int run_seen;		/* --run: the command follows */
	int check_mode;
	int renamed;		/* the new marker is in place */
	struct config cfg;
	struct markerfile m;
	struct status st;
	struct history hist;
};

static int
mark_tag(struct mark *k, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct markerfile_tag *t;
	size_t i;

	if (eq == NULL || eq == arg)
		return status_set(&k->st, ST_USAGE, "--tag '%s': expected "
		    "KEY=VALUE", arg);
	if (k->m.ntags >= CAP_TAGS)
		return status_set(&k->st, ST_USAGE, "more than %d tags",
		    CAP_TAGS);
	t = &k->m.tags[k->m.ntags];
	if ((size_t)(eq - arg) >= sizeof(t->key) ||
	    strlen(eq + 1) >= sizeof(t->value) ||
	    !text_utf8_valid(arg, strlen(arg)))
		return status_set(&k->st, ST_USAGE, "--tag '%s': too long or "
		    "not UTF-8", arg);
	if (!markerfile_value_ok(eq + 1))
		return status_set(&k->st, ST_USAGE, "--tag '%s': the value "
		    "holds a control character, a leading or trailing blank, "
		    "or ' ;'", arg);
	memcpy(t->key, arg, (size_t)(eq - arg));
	t->key[eq - arg] = '\0';
	/* the marker holds each key once: a second one would be a marker
	 * every hook refuses as malformed */
	for (i = 0; i < k->m.ntags; i++)
		if (strcmp(k->m.tags[i].key, t->key) == 0)
			return status_set(&k->st, ST_USAGE, "--tag '%s': the "
			    "key '%s' is given twice; give each tag once",
			    arg, t->key);
	text_copy(t->value, eq + 1, sizeof(t->value));
	k->m.ntags++;
	return ST_OK;
}

static int
mark_digest(struct mark *k, const char *path)
{
	if (k->ndigests >= MARK_MAX_DIGEST_PATHS)
		return status_set(&k->st, ST_USAGE, "more than %d --digest "
		    "paths", MARK_MAX_DIGEST_PATHS);
	k->digests[k->ndigests++] = path;
	return ST_OK;
}

/* cdgate-mark's own options; --run ends them (TOOL_STOP) */
static int
mark_option(void *self, int c, const char *arg, int argc, char **argv,
    struct status *st)
{
	struct mark *k = self;
	int rc;

	switch (c) {
	case 'p': k->path = arg; return ST_OK;
	case 'i': k->iid = arg; return ST_OK;
	case 'f': k->failed = arg; return ST_OK;
	case 'r': k->run_seen = 1; return TOOL_STOP;
	case 'd':
		if ((rc = mark_digest(k, arg)) != ST_OK)
			return rc;
		/* --digest PATH...: the arguments that follow, up to the
		 * next one starting with '-' (options end at the first
		 * operand, TOOL_IN_ORDER, so nothing was permuted) */
		while (optind < argc && argv[optind][0] != '-')
			if ((rc = mark_digest(k, argv[optind++])) != ST_OK)
				return rc;
		return ST_OK;
	case 't':
		return mark_tag(k, arg) != ST_OK ? k->st.code : ST_OK;
	default:
		return status_set(st, ST_USAGE, "bad option; see cdgate-mark "
		    "-h");
	}
}

static int
mark_options(struct mark *k, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "instance-id", required_argument, NULL, 'i' },
		{ "failed", required_argument, NULL, 'f' },
		{ "digest", required_argument, NULL, 'd' },
		{ "tag", required_argument, NULL, 't' },
		{ "run", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct tool tool = {
		.name = "cdgate-mark", .version = "cdgate-mark", .usage = usage,
		.longopts = longopts, .option = mark_option,
		.flags = TOOL_QUIET | TOOL_OPERANDS | TOOL_IN_ORDER,
	};
	int rc;

	tool.self = k;
	if ((rc = tool_options(&tool, argc, argv, &k->st)) == TOOL_EXIT)
		exit(0);
	if (rc != ST_OK)
		return rc;
	k->cfgpath = tool.cfgpath;
	k->check_mode = tool.check_mode;
	if (k->run_seen) {
		if (tool.next < argc && strcmp(argv[tool.next], "--") == 0)
			tool.next++;
		if (tool.next >= argc)
			return status_set(&k->st, ST_USAGE, "--run needs a "
			    "command after --");
		if (k->failed != NULL)
			return status_set(&k->st, ST_USAGE, "--run and "
			    "--failed exclude each other");
		k->run = argv + tool.next;
	} else if (tool.next != argc)
		return status_set(&k->st, ST_USAGE, "unexpected argument "
		    "'%s'; see cdgate-mark -h", argv[tool.next]);
	return ST_OK;
}

/*
 * When this instance's id is known without a request, --instance-id must
 * be it: on Nitro instances the DMI asset tag holds it.  Elsewhere (Xen
 * instances, off EC2) nothing is known and any well-formed id is taken;
 * with imds = yes the hooks compare it with instance metadata's.
 */
static int
mark_id_known(const char *iid, struct status *st)
{
	static const char tag[] = "/sys/devices/virtual/dmi/id/board_asset_tag";
	struct status rst;
	char *buf = NULL;
	size_t len;
	int absent, rc = ST_OK;

	/* sysfs files claim 4096 bytes whatever they hold */
	if (file_read(tag, "asset tag", 4096, FILE_TEXT, &buf, &len, NULL,
	    &absent, &rst) != ST_OK)
		return ST_OK;
	text_trim(buf);
	if (imds_instance_id_ok(buf) && strcmp(buf, iid) != 0)
		rc = status_set(st, ST_USAGE, "--instance-id '%s' is not this "
		    "instance: its DMI asset tag ('%s') says %s", iid, tag,
		    buf);
	free(buf);
	return rc;
}

/*
 * Checks --instance-id and copies it into the marker; without it, instance
 * metadata must be allowed.  No request is made.
 */
static int
mark_id_given(struct mark *k)
{
	if (k->iid == NULL)
		return k->cfg.imds ? ST_OK : status_set(&k->st, ST_USAGE,
		    "[gate] imds = no: give --instance-id");
	/* the form instance metadata gives (imds_instance_id_ok): any other
	 * id makes a marker every hook takes for another instance's */
	if (strlen(k->iid) >= CAP_INSTANCE_ID || !imds_instance_id_ok(k->iid))
		return status_set(&k->st, ST_USAGE, "--instance-id '%.40s' is "
		    "not an instance id (i- and 8 or 17 lowercase hex digits, "
		    "as i-0123456789abcdef0)", k->iid);
	if (mark_id_known(k->iid, &k->st) != ST_OK)
		return k->st.code;
	text_copy(k->m.instance_id, k->iid, sizeof(k->m.instance_id));
	return ST_OK;
}

/*
 * Fills the instance id and the boot id: before --run, so that the
 * command's outcome can always be recorded.
 */
static int
mark_facts(struct mark *k)
{
	struct imds imds;
	int rc;

	if ((rc = mark_id_given(k)) != ST_OK)
		return rc;
	if (k->iid == NULL) {
		if ((rc = imds_init(&imds, &k->st)) != ST_OK)
			return rc;
		rc = imds_instance_id(&imds, mono_ms() + k->cfg.timeout * 1000,
		    k->m.instance_id, sizeof(k->m.instance_id), &k->st);
		imds_free(&imds);
		if (rc != ST_OK)
			return rc;
	}
	return markerfile_boot_id(k->m.boot_id, sizeof(k->m.boot_id), &k->st);
}

/*
 * Check mode: the configuration used, the marker, where the instance id
 * would come from, the deadline, and the marker that would be written.  No
 * request is made and nothing is run or written; the digest is made (it
 * only reads local files) unless --run would change what it hashes.
 */
static int
mark_plan(struct mark *k)
{
	char *text;
	struct imds m;
	int rc;

	tool_plan("cdgate-mark", &k->cfg);
	out_info("marker: '%s'", k->path);
	if ((rc = mark_id_given(k)) != ST_OK)
		return rc;
	if (k->iid != NULL)
		out_info("instance id: '%s' (--instance-id); deadline: none, "
		    "no instance metadata is read", k->iid);
	else {
		if ((rc = imds_init(&m, &k->st)) != ST_OK)
			return rc;
		out_info("instance id: would be read from instance metadata "
		    "at '%s'%s; deadline %lds ([gate] timeout)", m.base,
		    m.disabled ? " (but AWS_EC2_METADATA_DISABLED=true: it "
		    "would fail)" : "", k->cfg.timeout);
		imds_free(&m);
		text_copy(k->m.instance_id, "<from instance metadata>",
		    sizeof(k->m.instance_id));
	}
	if ((rc = markerfile_boot_id(k->m.boot_id, sizeof(k->m.boot_id),
	    &k->st)) != ST_OK)
		return rc;
	if (k->run != NULL)
		out_info("would withdraw the previous marker, run '%s' (no "
		    "time limit), then record ok or failed from its exit "
		    "status", k->run[0]);
	if (k->ndigests > 0 && k->run != NULL)
		out_info("digest: over %zu path%s, made after the command (not "
		    "made in check mode)", k->ndigests, k->ndigests == 1 ? "" :
		    "s");
	else if (k->ndigests > 0 && (rc = digest_paths(k->digests,
	    k->ndigests, k->m.digest, &k->st)) != ST_OK)
		return rc;
	mono_utc(k->m.finished_at);
	/* on the heap: a marker long, it made the frame over 4 KiB */
	if ((text = malloc(CAP_MARKER_FILE)) == NULL)
		return status_set(&k->st, ST_OSERR, "out of memory");
	if ((rc = markerfile_format(&k->m, text, CAP_MARKER_FILE, &k->st)) !=
	    ST_OK) {
		free(text);
		return rc;
	}
	fputs(text, stdout);
	free(text);
	out_verdict(0, 0, "check mode: would write '%s'", k->path);
	return ST_OK;
}

/*
 * In the child, before exec: closes every descriptor from 3 up, as doas
 * does, so that nothing the agent or cdgate-mark holds (the agent may leak
 * descriptors above 2) passes on to the command.  close_range(2) where the
 * kernel has it (5.9), else the descriptors /proc/self/fd lists, else every
 * number up to the limit.
 */
static void
mark_closefrom(int low)
{
	struct dirent *e;
	DIR *d;
	long fd, max;
	int again = 1;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)low, ~0U, 0U) == 0)
		return;
#endif
	/* closing while the listing is read may skip entries: list again
	 * until a pass finds nothing to close */
	while (again && (d = opendir("/proc/self/fd")) != NULL) {
		again = 0;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			fd = strtol(e->d_name, NULL, 10);
			if (fd >= low && fd != dirfd(d) && close((int)fd) == 0)
				again = 1;
		}
		closedir(d);
		if (!again)
			return;
	}
	if ((max = sysconf(_SC_OPEN_MAX)) < 0 || max > 1048576)
		max = 1048576;
	for (fd = low; fd < max; fd++)
		(void)close((int)fd);
}


/*
 * Relays what the command writes to its pipe (non-blocking) to our stdout;
 * at most `max` bytes, 0 for as much as there is, through buf
 * (MARK_RELAY_BUF bytes).  Returns 1 at end of file
 * (every writer gone), 0 when nothing more is there now.  Output that
 * cannot be written (stdout closed) is read and dropped, so the command
 * never blocks on a full pipe.
 */
static int
mark_relay(int fd, size_t max, char *buf, int *out_ok)
{
	size_t done = 0;
	ssize_t r;

	for (;;) {
		r = read(fd, buf, MARK_RELAY_BUF);
		if (r == 0)
			return 1;
		if (r < 0)
			return errno == EINTR ? 0 : errno == EAGAIN ||
			    errno == EWOULDBLOCK ? 0 : 1;
		/* like a line of ours: never blocking past OUT_WAIT_MS */
		if (*out_ok && out_relay(buf, (size_t)r) != 0)
			*out_ok = 0;
		done += (size_t)r;
		if (max > 0 && done >= max)
			return 0;
	}
}

/*
 * Runs the command and waits for it; *status gets its exit status (128 +
 * signal when killed, as the shell reports it).
 *
 * Its stdout and stderr are one pipe that cdgate-mark relays to its own
 * stdout, never cdgate-mark's stdout itself: a descendant that leaves the
 * command's process group (setsid, a daemon) is out of SIGTERM's reach
 * (proc.c ends the group), and when it outlives cdgate-mark it holds only
 * that pipe, whose reader is gone, not the output the agent or cloud-init
 * waits on.  The command is waited for, not the pipe: what a leftover
 * process writes after the command ended is relayed only while cdgate-mark
 * still runs.
 */
static int
mark_run(struct mark *k, int *status)
{
	struct pollfd pfd;
	pid_t pid;
	char *buf;
	int p[2], ws, open_ = 1, out_ok = 1, r;

	out_info("running: %s", k->run[0]);
	/* the relay's buffer, once: on the heap, too large for a frame */
	if ((buf = malloc(MARK_RELAY_BUF)) == NULL)
		return status_set(&k->st, ST_OSERR, "out of memory");
	if (pipe2(p, O_CLOEXEC) == -1) {
		free(buf);
		return status_set(&k->st, ST_OSERR, "pipe: %s",
		    strerror(errno));
	}
	/* proc.h: a clean signal mask and default dispositions in the
	 * child, and no signal between the fork and proc_term_child */
	if ((pid = proc_fork_group()) == -1) {
		close(p[0]);
		close(p[1]);
		free(buf);
		return status_set(&k->st, ST_OSERR, "fork: %s",
		    strerror(errno));
	}
	if (pid == 0) {
		/* its own group: a SIGTERM reaches everything it starts */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(p[1], STDOUT_FILENO) == -1 ||
		    dup2(p[1], STDERR_FILENO) == -1)
			_exit(127);
		mark_closefrom(3);
		execvp(k->run[0], k->run);
		fprintf(stderr, "cdgate: cdgate-mark: cannot run '%s': %s\n",
		    k->run[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* also here: no race with the child's */
	proc_term_child(pid);
	close(p[1]);
	(void)fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	/* relay until the command ends: woken by its output, or every 100 ms
	 * to see whether it ended while something it left holds the pipe */
	for (;;) {
		if ((r = waitpid(pid, &ws, open_ ? WNOHANG : 0)) == pid)
			break;
		if (r == -1 && errno != EINTR) {
			proc_term_child(0);
			close(p[0]);
			free(buf);
			return status_set(&k->st, ST_OSERR, "waitpid: %s",
			    strerror(errno));
		}
		if (!open_)
			continue;
		pfd.fd = p[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) > 0 && mark_relay(p[0], 1 << 20, buf,
		    &out_ok))
			open_ = 0;
	}
	proc_term_child(0);
	/* what it wrote before it ended is in the pipe: relay it, but not
	 * the endless output of something it left running */
	if (open_)
		(void)mark_relay(p[0], 1 << 20, buf, &out_ok);
	close(p[0]);
	free(buf);
	k->m.ok = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
		snprintf(k->m.message, sizeof(k->m.message), "'%s' exited "
		    "with status %d", k->run[0], WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(k->m.message, sizeof(k->m.message), "'%s' was killed "
		    "by signal %d", k->run[0], WTERMSIG(ws));
	return ST_OK;
}

/* Records the history line (never changing the outcome), then the verdict. */
static int
mark_verdict(struct mark *k, int rc, const char *msg)
{
	history_facts(&k->hist, k->m.instance_id, NULL, k->m.digest,
	    k->m.finished_at);
	return tool_verdict(&k->hist, rc, 0, msg);
}

static int
mark_exit(struct mark *k, int rc)
{
	return mark_verdict(k, rc, k->st.msg);
}

static struct mark *mark_self;	/* for mark_renamed */

/* The verdict when the marker is in place but its directory's sync failed:
 * says what is true, in k->st.msg. */
static const char *
mark_written_but(struct mark *k, const char *why)
{
	if (snprintf(k->st.msg, sizeof(k->st.msg), "marker '%s' written (%s "
	    "for %s) and in place, but it may not survive a crash: %s",
	    k->path, k->m.ok ? "ok" : "failed", k->m.instance_id, why) < 0)
		text_copy(k->st.msg, "marker written, but not synced",
		    sizeof(k->st.msg));
	return k->st.msg;
}

/*
 * markerfile_write_cb's hook: the new marker is in place (its directory is
 * being synced), so SIGTERM now says so, not that nothing was written.
 */
static void
mark_renamed(void)
{
	struct mark *k = mark_self;
	char why[CAP_MSG];

	k->renamed = 1;
	if (snprintf(why, sizeof(why), "terminated by SIGTERM after the "
	    "marker was written (%s for %s): it is in place and hooks read "
	    "it, but it may not be on disk yet (its directory was being "
	    "synced)", k->m.ok ? "ok" : "failed", k->m.instance_id) < 0)
		text_copy(why, "terminated by SIGTERM after the marker was "
		    "written", sizeof(why));
	proc_on_term(why);
	history_arm(&k->hist, "terminated by SIGTERM after the marker was "
	    "written, while its directory was synced");
}

/*
 * --run: the previous marker goes before the command runs, so that hooks
 * wait while provisioning runs again, and a run that is killed or cannot
 * write its marker leaves none of an earlier run behind.
 */
static int
mark_withdraw(struct mark *k)
{
	int rc, withdrawn;

	rc = markerfile_withdraw(k->path, &withdrawn, &k->st);
	if (withdrawn) {
		out_info("withdrew the previous marker '%s': hooks wait until "
		    "this run records its outcome", k->path);
		proc_on_term("terminated by SIGTERM: the marker was not "
		    "written, and the previous one was withdrawn (a --run "
		    "command got SIGTERM too)");
		history_arm(&k->hist, "terminated by SIGTERM before the "
		    "marker was written (the previous one withdrawn)");
	}
	return rc;
}

/*
 * Options, the configuration, the history line and the marker's path: ST_OK,
 * or a failure in k->st.
 */
static int
mark_prepare(struct mark *k, int argc, char **argv)
{
	int rc;

	if ((rc = mark_options(k, argc, argv)) != ST_OK)
		return rc;
	if ((rc = config_load_for(&k->cfg, k->cfgpath, &k->st)) != ST_OK)
		return rc;
	if (!k->check_mode) {
		history_begin(&k->hist, k->cfg.history, k->cfg.history_max,
		    "cdgate-mark", NULL);
		history_arm(&k->hist, "terminated by SIGTERM before the marker "
		    "was written");
	}
	if (k->path == NULL)
		k->path = ((const struct marker_conf *)config_conf(&k->cfg,
		    &check_marker))->path;
	else if (k->path[0] != '/')
		return status_set(&k->st, ST_USAGE, "--path '%s' is not "
		    "absolute", k->path);
	k->m.ok = k->failed == NULL;
	if (k->failed != NULL)	/* markerfile_format cleans it */
		text_copy(k->m.message, k->failed, sizeof(k->m.message));
	return ST_OK;
}

/*
 * Writes the marker and ends with the verdict: ws set when a --run command
 * (or a digest that could not be made) decides the exit code, cmd_rc.
 */
static int
mark_write(struct mark *k, int ws, int cmd_rc)
{
	char msg[CAP_MSG];
	int rc;

	mono_utc(k->m.finished_at);
	mark_self = k;
	if ((rc = markerfile_write_cb(k->path, &k->m, mark_renamed, &k->st)) !=
	    ST_OK && k->renamed) {
		/* in place, and hooks read it: only its durability failed */
		text_copy(msg, k->st.msg, sizeof(msg));
		return mark_verdict(k, rc, mark_written_but(k, msg));
	}
	if (rc != ST_OK)
		return mark_exit(k, rc);
	if (!k->m.ok) {
		if (snprintf(msg, sizeof(msg), "marker '%s': provisioning "
		    "failed: %s", k->path, k->m.message) < 0)
			text_copy(msg, "provisioning failed", sizeof(msg));
		return mark_verdict(k, ws ? cmd_rc : ST_OK, msg);
	}
	if (snprintf(msg, sizeof(msg), "marker '%s' written: ok for %s",
	    k->path, k->m.instance_id) < 0)
		text_copy(msg, "marker written", sizeof(msg));
	return mark_verdict(k, 0, msg);
}

int
main(int argc, char **argv)
{
	static struct mark k;
	int rc, ws = 0, cmd_rc = 0;

	proc_start("cdgate-mark");
	proc_on_term("terminated by SIGTERM: the marker was not written (a "
	    "--run command got SIGTERM too)");
	if ((rc = mark_prepare(&k, argc, argv)) != ST_OK)
		return mark_exit(&k, rc);
	if (k.check_mode)
		return (rc = mark_plan(&k)) != ST_OK ? mark_exit(&k, rc) : 0;
	if ((rc = mark_facts(&k)) != ST_OK)
		return mark_exit(&k, rc);
	if (k.run != NULL) {
		if ((rc = mark_withdraw(&k)) != ST_OK)
			return mark_exit(&k, rc);
		if ((rc = mark_run(&k, &cmd_rc)) != ST_OK)
			return mark_exit(&k, rc);
		ws = 1;
	}
	/* the digest after --run, which may fetch what it hashes; a digest
	 * that cannot be made is recorded as a failed provisioning */
	if (k.ndigests > 0 && (rc = digest_paths(k.digests, k.ndigests,
	    k.m.digest, &k.st)) != ST_OK) {
		k.m.ok = 0;
		k.m.digest[0] = '\0';
		text_copy(k.m.message, k.st.msg, sizeof(k.m.message));
		ws = 1;
		cmd_rc = rc;
	}
	return mark_write(&k, ws, cmd_rc);
}
