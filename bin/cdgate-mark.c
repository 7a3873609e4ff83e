/*
 * cdgate-mark: the last step of User Data.  Writes the provisioning marker
 * atomically: ok, or failed with a message; with --run, runs the
 * provisioning command first and records its outcome.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "digest.h"
#include "history.h"
#include "imds.h"
#include "marker.h"
#include "mono.h"
#include "out.h"
#include "proc.h"
#include "text.h"

#define MARK_MAX_DIGEST_PATHS 64

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
	int check_mode;
	struct config cfg;
	struct marker m;
	struct status st;
	struct history hist;
};

static int
mark_tag(struct mark *k, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct marker_tag *t;

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
	if (!marker_value_ok(eq + 1))
		return status_set(&k->st, ST_USAGE, "--tag '%s': the value "
		    "holds a control character, a leading or trailing blank, "
		    "or ' ;'", arg);
	memcpy(t->key, arg, (size_t)(eq - arg));
	t->key[eq - arg] = '\0';
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c, rc, run = 0;

	while (!run && (c = getopt_long(argc, argv, "+c:hnqV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'c': k->cfgpath = optarg; break;
		case 'p': k->path = optarg; break;
		case 'i': k->iid = optarg; break;
		case 'f': k->failed = optarg; break;
		case 'n': k->check_mode = 1; break;
		case 'q': out_quiet(1); break;
		case 'r': run = 1; break;
		case 'd':
			if ((rc = mark_digest(k, optarg)) != ST_OK)
				return rc;
			/* --digest PATH...: the arguments that follow, up to
			 * the next one starting with '-' (getopt stops at the
			 * first non-option, "+", so nothing was permuted) */
			while (optind < argc && argv[optind][0] != '-')
				if ((rc = mark_digest(k, argv[optind++])) !=
				    ST_OK)
					return rc;
			break;
		case 't':
			if (mark_tag(k, optarg) != ST_OK)
				return k->st.code;
			break;
		case 'h': fputs(usage, stdout); exit(0);
		case 'V': printf("cdgate-mark %s\n", PROC_VERSION); exit(0);
		default:
			return status_set(&k->st, ST_USAGE, "bad option; see "
			    "cdgate-mark -h");
		}
	}
	if (run) {
		if (optind < argc && strcmp(argv[optind], "--") == 0)
			optind++;
		if (optind >= argc)
			return status_set(&k->st, ST_USAGE, "--run needs a "
			    "command after --");
		if (k->failed != NULL)
			return status_set(&k->st, ST_USAGE, "--run and "
			    "--failed exclude each other");
		k->run = argv + optind;
	} else if (optind != argc)
		return status_set(&k->st, ST_USAGE, "unexpected argument "
		    "'%s'; see cdgate-mark -h", argv[optind]);
	return ST_OK;
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
	if (k->iid[0] == '\0' || strlen(k->iid) >= CAP_INSTANCE_ID ||
	    strpbrk(k->iid, " \t\n;#=") != NULL)
		return status_set(&k->st, ST_USAGE, "--instance-id '%s' is "
		    "not an instance id", k->iid);
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
	return marker_boot_id(k->m.boot_id, sizeof(k->m.boot_id), &k->st);
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
	char text[CAP_MARKER_FILE];
	struct imds m;
	int rc;

	out_info("cdgate-mark %s, config %s%s%s", PROC_VERSION,
	    k->cfg.path[0] ? "'" : "", k->cfg.path[0] ? k->cfg.path :
	    "built-in defaults (no cdgate.ini found)", k->cfg.path[0] ? "'" :
	    "");
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
	if ((rc = marker_boot_id(k->m.boot_id, sizeof(k->m.boot_id),
	    &k->st)) != ST_OK)
		return rc;
	if (k->run != NULL)
		out_info("would run '%s' (no time limit), then record ok or "
		    "failed from its exit status", k->run[0]);
	if (k->ndigests > 0 && k->run != NULL)
		out_info("digest: over %zu path%s, made after the command (not "
		    "made in check mode)", k->ndigests, k->ndigests == 1 ? "" :
		    "s");
	else if (k->ndigests > 0 && (rc = digest_paths(k->digests,
	    k->ndigests, k->m.digest, &k->st)) != ST_OK)
		return rc;
	mono_utc(k->m.finished_at);
	if ((rc = marker_format(&k->m, text, sizeof(text), &k->st)) != ST_OK)
		return rc;
	fputs(text, stdout);
	out_verdict(0, 0, "check mode: would write '%s'", k->path);
	return ST_OK;
}

/*
 * Runs the command with our stdout/stderr; *status gets its exit status
 * (128 + signal when killed, as the shell reports it).
 */
static int
mark_run(struct mark *k, int *status)
{
	pid_t pid;
	int ws;

	out_info("running: %s", k->run[0]);
	/* proc.h: a clean signal mask and default dispositions in the
	 * child, and no signal between the fork and proc_term_child */
	if ((pid = proc_fork_group()) == -1)
		return status_set(&k->st, ST_OSERR, "fork: %s",
		    strerror(errno));
	if (pid == 0) {
		/* its own group: a SIGTERM reaches everything it starts */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		execvp(k->run[0], k->run);
		fprintf(stderr, "cdgate: cdgate-mark: cannot run '%s': %s\n",
		    k->run[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* also here: no race with the child's */
	proc_term_child(pid);
	while (waitpid(pid, &ws, 0) == -1)
		if (errno != EINTR) {
			proc_term_child(0);
			return status_set(&k->st, ST_OSERR, "waitpid: %s",
			    strerror(errno));
		}
	proc_term_child(0);
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
	struct status hst;

	history_facts(&k->hist, k->m.instance_id, NULL, k->m.digest,
	    k->m.finished_at);
	if (history_record(&k->hist, rc, 0, msg, proc_elapsed_ms(), &hst) !=
	    ST_OK)
		out_info("history not recorded: %s", hst.msg);
	out_verdict(rc, 0, "%s", msg);
	return rc;
}

static int
mark_exit(struct mark *k, int rc)
{
	return mark_verdict(k, rc, k->st.msg);
}

int
main(int argc, char **argv)
{
	static struct mark k;
	char msg[CAP_MSG];
	int rc, ws = 0, cmd_rc = 0;

	proc_start("cdgate-mark");
	proc_on_term("terminated by SIGTERM: the marker was not written (a "
	    "--run command got SIGTERM too)");
	if ((rc = mark_options(&k, argc, argv)) != ST_OK)
		return mark_exit(&k, rc);
	rc = config_load_for(&k.cfg, k.cfgpath, &k.st);
	if (rc != ST_OK)
		return mark_exit(&k, rc);
	if (!k.check_mode) {
		history_begin(&k.hist, k.cfg.history, k.cfg.history_max,
		    "cdgate-mark", NULL);
		history_arm(&k.hist, "terminated by SIGTERM before the marker "
		    "was written");
	}
	if (k.path == NULL)
		k.path = k.cfg.marker_path;
	else if (k.path[0] != '/')
		return mark_exit(&k, status_set(&k.st, ST_USAGE, "--path '%s' "
		    "is not absolute", k.path));
	k.m.ok = k.failed == NULL;
	if (k.failed != NULL)	/* marker_format cleans it */
		text_copy(k.m.message, k.failed, sizeof(k.m.message));
	if (k.check_mode) {
		if ((rc = mark_plan(&k)) != ST_OK)
			return mark_exit(&k, rc);
		return 0;
	}
	if ((rc = mark_facts(&k)) != ST_OK)
		return mark_exit(&k, rc);
	if (k.run != NULL) {
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
	mono_utc(k.m.finished_at);
	if ((rc = marker_write(k.path, &k.m, &k.st)) != ST_OK)
		return mark_exit(&k, rc);
	if (!k.m.ok) {
		if (snprintf(msg, sizeof(msg), "marker '%s': provisioning "
		    "failed: %s", k.path, k.m.message) < 0)
			text_copy(msg, "provisioning failed", sizeof(msg));
		return mark_verdict(&k, ws ? cmd_rc : ST_OK, msg);
	}
	if (snprintf(msg, sizeof(msg), "marker '%s' written: ok for %s",
	    k.path, k.m.instance_id) < 0)
		text_copy(msg, "marker written", sizeof(msg));
	return mark_verdict(&k, 0, msg);
}
