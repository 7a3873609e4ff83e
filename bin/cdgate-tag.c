/*
 * cdgate-tag: tags this instance (EC2 CreateTags), then reads the tags back
 * (DescribeTags) until EC2 shows them, since EC2 reads are eventually
 * consistent.  For User Data, before provisioning reads its role from tags.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "run/config.h"
#include "aws/ec2.h"
#include "fmt/history.h"
#include "aws/imds.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"
#include "run/tool.h"

#define TAG_MIN_ROUND_MS 500	/* less time left: stop confirming */

static const char usage[] =
    "usage: cdgate-tag [-hnqV] [-c config] [-t seconds] [--instance-id ID]\n"
    "           KEY=VALUE...\n"
    "  Tags this instance with EC2 CreateTags, then waits until DescribeTags\n"
    "  shows the tags (EC2 reads lag writes).  Needs ec2:CreateTags and\n"
    "  ec2:DescribeTags (docs/iam.md).\n"
    "  --instance-id ID  the instance (default: from instance metadata)\n"
    "  -t  seconds for the whole run (default: [gate] timeout of cdgate.ini)\n"
    "  -c  configuration file;  -n  check mode: print the plan, no network\n"
    "  -q  only the verdict;  -h  this help;  -V  the version\n"
    "Exit: 0 tagged, 2 timeout, 3 SIGTERM, 64 usage, 69 unavailable,\n"
    "  70 internal, 71 system, 77 AWS permission, 78 configuration.\n";

struct tagger {
	const char *cfgpath, *iid;
	long timeout;
	int check_mode;
	const char *keys[CAP_TAGS], *values[CAP_TAGS];
	size_t n;
	struct config cfg;
	struct imds imds;
	int imds_ready;
	char instance_id[CAP_INSTANCE_ID];
	struct ec2 ec2;
	int ec2_ready;
	int64_t start, deadline;
	struct history hist;	/* off until the configuration is loaded */
	struct status st;
};

/* KEY=VALUE, split in place: EC2's rules on length, UTF-8 and "aws:". */
static int
tag_pair(struct tagger *t, char *arg)
{
	char *eq = strchr(arg, '=');
	size_t i;

	if (eq == NULL || eq == arg)
		return status_set(&t->st, ST_USAGE, "'%.40s': expected "
		    "KEY=VALUE", arg);
	if (t->n >= CAP_TAGS)
		return status_set(&t->st, ST_USAGE, "more than %d tags",
		    CAP_TAGS);
	*eq = '\0';
	if (!text_utf8_valid(arg, strlen(arg)) ||
	    !text_utf8_valid(eq + 1, strlen(eq + 1)))
		return status_set(&t->st, ST_USAGE, "tag '%.40s': not UTF-8",
		    arg);
	if (text_utf8_chars(arg) > CAP_TAG_KEY || text_utf8_chars(eq + 1) > CAP_TAG_VALUE)
		return status_set(&t->st, ST_USAGE, "tag '%.40s': key or value "
		    "too long (EC2 allows %d and %d characters)", arg,
		    CAP_TAG_KEY, CAP_TAG_VALUE);
	if (strncasecmp(arg, "aws:", 4) == 0)
		return status_set(&t->st, ST_USAGE, "tag '%.40s': keys "
		    "starting with 'aws:' are reserved by AWS", arg);
	for (i = 0; i < t->n; i++)
		if (strcmp(t->keys[i], arg) == 0)
			return status_set(&t->st, ST_USAGE, "tag '%.40s' given "
			    "twice", arg);
	t->keys[t->n] = arg;
	t->values[t->n] = eq + 1;
	t->n++;
	return ST_OK;
}

/* -i/--instance-id, -t seconds */
static int
tag_option(void *self, int c, const char *arg, int argc, char **argv,
    struct status *st)
{
	struct tagger *t = self;

	(void)argc;
	(void)argv;
	if (c == 'i') {
		t->iid = arg;
		return ST_OK;
	}
	if (c == 't' && text_long(arg, 1, CONFIG_MAX_TIMEOUT, &t->timeout) !=
	    0)
		return status_set(st, ST_USAGE, "-t '%s': expected seconds "
		    "from 1 to %d", arg, CONFIG_MAX_TIMEOUT);
	if (c == 't')
		return ST_OK;
	return status_set(st, ST_USAGE, "bad option; see cdgate-tag -h");
}

static int
tag_options(struct tagger *t, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "instance-id", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	struct tool tool = {
		.name = "cdgate-tag", .version = "cdgate-tag", .usage = usage,
		.opts = "t:", .longopts = longopts,
		.flags = TOOL_QUIET | TOOL_OPERANDS, .option = tag_option,
	};
	int i, rc;

	tool.self = t;
	if ((rc = tool_options(&tool, argc, argv, &t->st)) == TOOL_EXIT)
		exit(0);
	if (rc != ST_OK)
		return rc;
	t->cfgpath = tool.cfgpath;
	t->check_mode = tool.check_mode;
	if (tool.next >= argc)
		return status_set(&t->st, ST_USAGE, "no tags given; usage: "
		    "cdgate-tag [options] KEY=VALUE...");
	for (i = tool.next; i < argc; i++)
		if ((rc = tag_pair(t, argv[i])) != ST_OK)
			return rc;
	if (t->iid != NULL && !imds_instance_id_ok(t->iid))
		return status_set(&t->st, ST_USAGE, "--instance-id '%.40s' is not "
		    "an instance id (i-0123456789abcdef0)", t->iid);
	return ST_OK;
}

/* "Role=api Env=prod", for messages. */
static void
tag_list(const struct tagger *t, char *buf, size_t len)
{
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < t->n && used < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s=%s", i ? " " : "",
		    t->keys[i], t->values[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static int
tag_instance(struct tagger *t)
{
	int rc;

	if (t->iid != NULL) {
		text_copy(t->instance_id, t->iid, sizeof(t->instance_id));
		return ST_OK;
	}
	/* main refused imds = no without --instance-id already */
	if ((rc = imds_instance_id(&t->imds, t->deadline, t->instance_id,
	    sizeof(t->instance_id), &t->st)) != ST_OK)
		return rc;
	out_info("instance %s", t->instance_id);
	return ST_OK;
}

/* Number of the given tags DescribeTags does not show yet (or -1). */
static long
tag_unseen(struct tagger *t, struct ec2xml_tag *found, char *first,
    size_t flen)
{
	size_t n, i, j;
	long unseen = 0;

	if (ec2_describe_tags(&t->ec2, t->instance_id, t->keys, t->n,
	    t->deadline, found, CAP_TAGS, &n, &t->st) != ST_OK)
		return -1;
	first[0] = '\0';
	for (i = 0; i < t->n; i++) {
		for (j = 0; j < n && strcmp(found[j].key, t->keys[i]) != 0;
		    j++)
			;
		if (j < n && strcmp(found[j].value, t->values[i]) == 0)
			continue;
		if (unseen++ == 0)
			snprintf(first, flen, "%.64s is %s%.64s%s", t->keys[i],
			    j < n ? "'" : "not visible yet", j < n ?
			    found[j].value : "", j < n ? "'" : "");
	}
	return unseen;
}

/* Reads the tags back until EC2 shows all of them. */
static int
tag_confirm(struct tagger *t)
{
	struct ec2xml_tag *found;
	char first[CAP_MSG], shown[CAP_MSG] = "";
	long unseen;
	int64_t delay;
	int attempt, rc;

	if ((found = calloc(CAP_TAGS, sizeof(*found))) == NULL)
		return status_set(&t->st, ST_OSERR, "out of memory");
	for (attempt = 0;; attempt++) {
		if ((unseen = tag_unseen(t, found, first, sizeof(first))) < 0) {
			rc = t->st.code;
			break;
		}
		if (unseen == 0) {
			out_info("DescribeTags shows the tags (%d read%s)",
			    attempt + 1, attempt ? "s" : "");
			rc = ST_OK;
			break;
		}
		if (strcmp(shown, first) != 0) {
			text_copy(shown, first, sizeof(shown));
			out_info("waiting for DescribeTags: %s", shown);
		}
		if (mono_left(t->deadline) < TAG_MIN_ROUND_MS +
		    ec2_poll_delay(attempt) / 2) {
			rc = status_set(&t->st, ST_TIMEOUT, "CreateTags "
			    "succeeded but after %.0fs DescribeTags still "
			    "shows %s (EC2 reads lag writes); allow more time "
			    "with -t", (double)(mono_ms() - t->start) / 1000.0,
			    shown);
			break;
		}
		/* never past the deadline: the last read is at the deadline */
		delay = ec2_poll_delay(attempt);
		if (delay > mono_left(t->deadline) - TAG_MIN_ROUND_MS)
			delay = mono_left(t->deadline) - TAG_MIN_ROUND_MS;
		mono_sleep(delay);
	}
	free(found);
	return rc;
}

static int
tag_run(struct tagger *t)
{
	char desc[CAP_LINE], list[CAP_LINE];
	int rc;

	if (t->cfg.imds) {
		if ((rc = imds_init(&t->imds, &t->st)) != ST_OK)
			return rc;
		t->imds_ready = 1;
	}
	if ((rc = tag_instance(t)) != ST_OK)
		return rc;
	if ((rc = ec2_open(&t->ec2, t->imds_ready ? &t->imds : NULL,
	    t->deadline, &t->st)) != ST_OK)
		return rc;
	t->ec2_ready = 1;
	ec2_describe(&t->ec2, desc, sizeof(desc));
	out_info("EC2: %s", desc);
	tag_list(t, list, sizeof(list));
	if ((rc = ec2_create_tags(&t->ec2, t->instance_id, t->keys,
	    t->values, t->n, t->deadline, &t->st)) != ST_OK)
		return rc;
	out_info("CreateTags %s: %s", t->instance_id, list);
	return tag_confirm(t);
}

static int
tag_exit(struct tagger *t, int rc)
{
	char list[CAP_LINE], msg[CAP_MSG];

	if (t->ec2_ready)
		ec2_close(&t->ec2);
	if (t->imds_ready)
		imds_free(&t->imds);
	if (rc == ST_OK) {
		tag_list(t, list, sizeof(list));
		snprintf(msg, sizeof(msg), "tagged %s: %s (%.1fs)",
		    t->instance_id, list, (double)(mono_ms() - t->start) /
		    1000.0);
	} else
		text_copy(msg, t->st.msg, sizeof(msg));
	history_facts(&t->hist, t->instance_id, NULL, NULL, NULL);
	return tool_verdict(&t->hist, rc, 0, msg);
}

int
main(int argc, char **argv)
{
	static struct tagger t;
	char list[CAP_LINE];
	int rc;

	proc_start("cdgate-tag");
	t.start = mono_ms();
	if ((rc = tag_options(&t, argc, argv)) != ST_OK)
		return tag_exit(&t, rc);
	rc = config_load_for(&t.cfg, t.cfgpath, &t.st);
	if (rc != ST_OK)
		return tag_exit(&t, rc);
	if (t.timeout == 0)
		t.timeout = t.cfg.timeout;
	t.deadline = t.start + t.timeout * 1000;
	tag_list(&t, list, sizeof(list));
	out_info("config %s; tagging %s with %s; deadline %lds",
	    t.cfg.path[0] ? t.cfg.path : "built-in defaults",
	    t.iid ? t.iid : "this instance", list, t.timeout);
	if (t.iid == NULL && !t.cfg.imds)
		return tag_exit(&t, status_set(&t.st, ST_USAGE, "[gate] imds "
		    "= no: give --instance-id"));
	if (t.check_mode) {
		out_verdict(0, 0, "check mode: would tag %s with %s",
		    t.iid ? t.iid : "this instance", list);
		return 0;
	}
	proc_on_term("terminated by SIGTERM while tagging; the tags may or "
	    "may not be set");
	history_begin(&t.hist, t.cfg.history, t.cfg.history_max, "cdgate-tag",
	    NULL);
	history_arm(&t.hist, "terminated by SIGTERM while tagging; the tags "
	    "may or may not be set");
	return tag_exit(&t, tag_run(&t));
}
