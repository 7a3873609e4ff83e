#include "checks/tags.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ec2.h"
#include "base/event.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/text.h"

#define TAGS_MIN_ROUND_MS 500	/* less time left: stop waiting */

enum tags_from { FROM_IMDS, FROM_EC2 };

/* One run of the check; heap-allocated (the arrays are large). */
struct tags_run {
	struct check_ctx *g;
	const struct tags_conf *c;
	const char *want[TAGS_CAP_WANT];	/* keys to read */
	size_t nwant;
	struct markerfile_tag live[TAGS_CAP_WANT];
	size_t nlive;
	struct ec2xml_tag found[TAGS_CAP_WANT];
	int from;				/* enum tags_from */
	int ec2_open;
	struct ec2 ec2;
	struct tags_eval ev;
	unsigned rounds;
};

/* --- pure parts --- */

int
tags_imds_key_ok(const char *key)
{
	if (key[0] == '\0')
		return 0;
	for (; *key != '\0'; key++)
		if (!((*key >= 'a' && *key <= 'z') ||
		    (*key >= 'A' && *key <= 'Z') ||
		    (*key >= '0' && *key <= '9') ||
		    strchr("-_+=,.@:", *key) != NULL))
			return 0;
	return 1;
}

int
tags_listed(const char *listing, const char *key)
{
	size_t klen = strlen(key), n;
	const char *p = listing;

	while (*p != '\0') {
		n = strcspn(p, "\r\n");
		if (n == klen && memcmp(p, key, klen) == 0)
			return 1;
		p += n;
		p += strspn(p, "\r\n");
	}
	return 0;
}

static const struct markerfile_tag *
tags_find(const struct markerfile_tag *live, size_t nlive, const char *key)
{
	size_t i;

	for (i = 0; i < nlive; i++)
		if (strcmp(live[i].key, key) == 0)
			return &live[i];
	return NULL;
}

/* A key or value cut and cleaned for a message. */
struct tags_clip {
	char s[TAGS_SHOW_VALUE + 4];
};

static const char *
tags_clip(struct tags_clip *c, const char *v)
{
	text_clean(c->s, sizeof(c->s), v, strlen(v));
	return c->s;
}

/* Appends one problem ("; " between them) to ev->why. */
static void __attribute__((format(printf, 2, 3)))
tags_why(struct tags_eval *ev, const char *fmt, ...)
{
	char part[CAP_MSG];
	size_t used = strlen(ev->why), n;
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(part, sizeof(part), fmt, ap) < 0)
		part[0] = '\0';
	va_end(ap);
	n = strlen(part);
	if (ev->print)
		out_info("tags: %s", part);
	/* whole problems only, with room kept for "; and N more" */
	if (ev->omitted > 0 || used + 2 + n >= sizeof(ev->why) - TAGS_MORE_ROOM) {
		ev->omitted++;
		return;
	}
	if (used > 0) {
		memcpy(ev->why + used, "; ", 3);
		used += 2;
	}
	memcpy(ev->why + used, part, n + 1);
}

size_t
tags_evaluate(const struct tags_rule *req, size_t nreq,
    const struct markerfile_tag *mk, size_t nmk, const struct markerfile_tag *live,
    size_t nlive, struct tags_eval *ev)
{
	const struct markerfile_tag *t;
	struct tags_clip k, a, b;
	size_t i;
	int print = ev->print;

	memset(ev, 0, sizeof(*ev));
	ev->print = print;
	for (i = 0; i < nreq; i++) {
		tags_clip(&k, req[i].key);
		t = tags_find(live, nlive, req[i].key);
		if (t == NULL) {
			ev->missing++;
			tags_why(ev, "%s is missing", k.s);
		} else if (!text_glob(req[i].glob, t->value)) {
			ev->mismatched++;
			tags_why(ev, "%s is '%s' (want '%s')", k.s,
			    tags_clip(&a, t->value), tags_clip(&b,
			    req[i].glob));
		}
	}
	for (i = 0; i < nmk; i++) {
		tags_clip(&k, mk[i].key);
		tags_clip(&a, mk[i].value);
		t = tags_find(live, nlive, mk[i].key);
		if (t == NULL) {
			ev->missing++;
			tags_why(ev, "marker has %s='%s' but the instance has "
			    "no %s", k.s, a.s, k.s);
		} else if (strcmp(t->value, mk[i].value) != 0) {
			ev->mismatched++;
			tags_why(ev, "marker has %s='%s' but the instance has "
			    "'%s'", k.s, a.s, tags_clip(&b, t->value));
		}
	}
	if (ev->omitted > 0) {
		size_t used = strlen(ev->why);

		snprintf(ev->why + used, sizeof(ev->why) - used, "%sand %zu "
		    "more", used > 0 ? "; " : "", ev->omitted);
	}
	return ev->missing + ev->mismatched;
}

/* --- reading --- */

static int
tags_add_want(struct tags_run *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->nwant; i++)
		if (strcmp(r->want[i], key) == 0)
			return 0;
	if (r->nwant >= TAGS_CAP_WANT)
		return -1;
	r->want[r->nwant++] = key;
	return 0;
}

static int
tags_add_live(struct tags_run *r, const char *key, const char *value,
    struct status *st)
{
	struct markerfile_tag *t;

	if (r->nlive >= TAGS_CAP_WANT)
		return status_set(st, ST_SOFTWARE, "too many tags");
	t = &r->live[r->nlive];
	if (text_copy(t->key, key, sizeof(t->key)) >= sizeof(t->key) ||
	    text_copy(t->value, value, sizeof(t->value)) >= sizeof(t->value))
		return status_set(st, ST_UNAVAIL, "tag '%.64s' is too long",
		    key);
	r->nlive++;
	return ST_OK;
}

/* The id for how-to messages, without asking for it. */
static const char *
tags_iid(const struct check_ctx *g)
{
	return g->instance_id[0] ? g->instance_id : "ID";
}

static void
tags_howto(const struct check_ctx *g)
{
	out_info("tags: to read tags from instance metadata (no IAM "
	    "permission, no EC2 throttling), set InstanceMetadataTags="
	    "enabled in the launch template's MetadataOptions, or run");
	out_info("tags:   aws ec2 modify-instance-metadata-options "
	    "--instance-id %s --instance-metadata-tags enabled (docs/iam.md)",
	    tags_iid(g));
}

/*
 * Reads the needed keys from instance metadata.  ST_OK, with *why NULL, or
 * set to how we know when metadata tags are not enabled; or a failure.
 */
static int
tags_read_imds(struct tags_run *r, const char **why, struct status *st)
{
	struct check_ctx *g = r->g;
	char *list = NULL, *val = NULL, item[sizeof(TAGS_ITEM) + CAP_TAG_KEY_B];
	long code;
	size_t i;
	int rc;

	r->nlive = 0;
	*why = NULL;
	if ((list = malloc(CAP_IMDS_BODY)) == NULL ||
	    (val = malloc(CAP_IMDS_BODY)) == NULL) {
		rc = status_set(st, ST_OSERR, "out of memory");
		goto out;
	}
	if ((rc = imds_get(&g->imds, TAGS_ITEM, g->deadline, list,
	    CAP_IMDS_BODY, &code, st)) != ST_OK)
		goto out;
	if (code == 404 || list[strspn(list, " \t\r\n")] == '\0') {
		*why = code == 404 ? "HTTP 404 on " TAGS_ITEM :
		    "an empty " TAGS_ITEM;
		rc = ST_OK;
		goto out;
	}
	for (i = 0; i < r->nwant; i++) {
		if (!tags_imds_key_ok(r->want[i]) ||
		    !tags_listed(list, r->want[i]))
			continue;
		if (snprintf(item, sizeof(item), "%s/%s", TAGS_ITEM,
		    r->want[i]) >= (int)sizeof(item)) {
			rc = status_set(st, ST_SOFTWARE, "tag key too long");
			goto out;
		}
		if ((rc = imds_get(&g->imds, item, g->deadline, val,
		    CAP_IMDS_BODY, &code, st)) != ST_OK)
			goto out;
		if (code == 404)
			continue;	/* removed since the listing */
		if ((rc = tags_add_live(r, r->want[i], val, st)) != ST_OK)
			goto out;
	}
	rc = ST_OK;
out:
	free(list);
	free(val);
	return rc;
}

static int
tags_open_ec2(struct tags_run *r, struct status *st)
{
	char desc[CAP_LINE];
	int rc;

	if (r->ec2_open)
		return ST_OK;
	if ((rc = check_instance_id(r->g)) != ST_OK)
		return rc;
	if ((rc = ec2_open(&r->ec2, &r->g->imds, r->g->deadline, st)) !=
	    ST_OK)
		return rc;
	r->ec2_open = 1;
	ec2_describe(&r->ec2, desc, sizeof(desc));
	out_info("tags: EC2 DescribeTags: %s", desc);
	return ST_OK;
}

static int
tags_read_ec2(struct tags_run *r, struct status *st)
{
	unsigned long retries;
	size_t n, i;
	int rc;

	r->nlive = 0;
	if ((rc = tags_open_ec2(r, st)) != ST_OK)
		return rc;
	retries = r->ec2.retries;
	if ((rc = ec2_describe_tags(&r->ec2, r->g->instance_id, r->want,
	    r->nwant, r->g->deadline, r->found, TAGS_CAP_WANT, &n, st)) !=
	    ST_OK)
		return rc;
	if (r->ec2.retries > retries)
		out_info("tags: EC2 answered after %lu retries (last: %s)",
		    r->ec2.retries - retries, r->ec2.last_retry);
	for (i = 0; i < n; i++)
		if ((rc = tags_add_live(r, r->found[i].key, r->found[i].value,
		    st)) != ST_OK)
			return rc;
	return ST_OK;
}

/* One round of reading, switching auto to EC2 when needed. */
static int
tags_read(struct tags_run *r)
{
	struct check_ctx *g = r->g;
	const char *why;
	int rc;

	if (r->from == FROM_EC2)
		return tags_read_ec2(r, &g->st);
	if ((rc = tags_read_imds(r, &why, &g->st)) != ST_OK || why == NULL)
		return rc;
	if (r->c->source == TAGS_IMDS) {
		tags_howto(g);
		return status_set(&g->st, ST_UNAVAIL, "[tags] source = imds "
		    "but instance metadata tags are not enabled (%s): enable "
		    "InstanceMetadataTags (docs/iam.md) or set source = auto",
		    why);
	}
	if ((rc = check_instance_id(g)) != ST_OK)
		return rc;
	out_info("tags: instance metadata tags are not enabled (%s): "
	    "reading tags with EC2 DescribeTags instead", why);
	tags_howto(g);
	r->from = FROM_EC2;
	return tags_read_ec2(r, &g->st);
}

static const char *
tags_from_name(int from)
{
	return from == FROM_EC2 ? "EC2 DescribeTags" : "instance metadata";
}

/* "Role=api Env=production" for progress lines. */
static void
tags_show(const struct tags_run *r, char *buf, size_t len)
{
	char v[TAGS_SHOW_VALUE + 4];
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < r->nlive && used < len; i++) {
		text_clean(v, sizeof(v), r->live[i].value,
		    strlen(r->live[i].value));
		n = snprintf(buf + used, len - used, "%s%s=%s", used ? " " :
		    "", r->live[i].key, v);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The failure after waiting: one line per problem, then the verdict. */
static int
tags_give_up(struct tags_run *r, const char *last_error)
{
	struct check_ctx *g = r->g;
	struct tags_eval all;
	size_t nmk = g->have_marker && g->marker.has_tags ? g->marker.ntags :
	    0;

	/* every problem on a line of its own, however many: the verdict
	 * below can only hold what fits */
	memset(&all, 0, sizeof(all));
	all.print = 1;
	(void)tags_evaluate(r->c->tags, r->c->ntags, g->marker.tags, nmk,
	    r->live, r->nlive, &all);
	/* the counts first: a long list is cut at the end of the line */
	return status_set(&g->st, r->ev.missing ? ST_TIMEOUT : ST_FAIL,
	    "tags not as required after %.0fs (%s, %zu missing, %zu "
	    "mismatched): %s%s%s", check_elapsed(g), tags_from_name(r->from),
	    r->ev.missing, r->ev.mismatched, r->ev.why, last_error ?
	    "; last read: " : "", last_error ? last_error : "");
}

static int
tags_loop(struct tags_run *r)
{
	struct check_ctx *g = r->g;
	const struct tags_conf *c = r->c;
	char waiting[CAP_MSG] = "", shown[CAP_LINE], err[160];
	int64_t beat = mono_ms() + CHECK_HEARTBEAT_MS;
	size_t nmk = g->have_marker && g->marker.has_tags ? g->marker.ntags :
	    0;
	int rc, attempt;

	for (attempt = 0;; attempt++) {
		r->rounds++;
		if ((rc = tags_read(r)) != ST_OK) {
			if (rc != ST_UNAVAIL || r->rounds == 1)
				return status_wrap(&g->st, "tags");
			snprintf(err, sizeof(err), "%.150s", g->st.msg);
			return tags_give_up(r, err);
		}
		tags_show(r, shown, sizeof(shown));
		if (tags_evaluate(c->tags, c->ntags, g->marker.tags, nmk,
		    r->live, r->nlive, &r->ev) == 0) {
			out_info("tags: %s (from %s)", shown[0] ? shown :
			    "(none)", tags_from_name(r->from));
			check_note(g, "tags ok (%s)", tags_from_name(r->from));
			return ST_OK;
		}
		if (strcmp(waiting, r->ev.why) != 0) {
			text_copy(waiting, r->ev.why, sizeof(waiting));
			out_info("tags: waiting: %s", waiting);
		}
		if (mono_ms() >= beat) {
			out_info("tags: still waiting after %.0fs of %lds",
			    check_elapsed(g), g->timeout);
			beat = mono_ms() + CHECK_HEARTBEAT_MS;
		}
		if (mono_left(g->deadline) < TAGS_MIN_ROUND_MS)
			return tags_give_up(r, NULL);
		if ((rc = check_wait(g, NULL, ec2_poll_delay(attempt))) !=
		    ST_OK)
			return rc;
		if (mono_left(g->deadline) < TAGS_MIN_ROUND_MS)
			return tags_give_up(r, NULL);
	}
}

static int
tags_run_check(struct check_ctx *g, const void *conf)
{
	const struct tags_conf *c = conf;
	struct tags_run *r;
	size_t i, nmk = g->have_marker && g->marker.has_tags ?
	    g->marker.ntags : 0;
	int rc;

	if (c->ntags == 0 && nmk == 0) {
		check_note(g, "no tags required");
		return ST_OK;
	}
	if ((rc = check_imds(g, "the tags check")) != ST_OK)
		return rc;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return status_set(&g->st, ST_OSERR, "out of memory");
	r->g = g;
	r->c = c;
	r->from = c->source == TAGS_EC2 ? FROM_EC2 : FROM_IMDS;
	for (i = 0; i < c->ntags; i++)
		tags_add_want(r, c->tags[i].key);
	for (i = 0; i < nmk; i++)
		if (tags_add_want(r, g->marker.tags[i].key) != 0)
			break;
	out_info("tags: reading %zu key%s from %s", r->nwant,
	    r->nwant == 1 ? "" : "s", tags_from_name(r->from));
	rc = tags_loop(r);
	if (r->ec2_open)
		ec2_close(&r->ec2);
	free(r);
	return rc;
}

static int
tags_key(void *conf, struct inifile *f, int where, const char *k,
    const char *v)
{
	struct tags_conf *c = conf;
	struct tags_rule *t;

	if (where != CHECK_IN_SECTION)
		return CHECK_KEY_NOT_MINE;
	if (strcmp(k, "source") == 0) {
		if (strcmp(v, "auto") == 0)
			c->source = TAGS_AUTO;
		else if (strcmp(v, "imds") == 0)
			c->source = TAGS_IMDS;
		else if (strcmp(v, "ec2") == 0)
			c->source = TAGS_EC2;
		else
			return inifile_error(f, "source = '%s': expected auto, "
			    "imds or ec2", v);
		return 0;
	}
	/* any other key is a tag to require */
	if (c->ntags >= CAP_TAGS)
		return inifile_error(f, "more than %d required tags", CAP_TAGS);
	/* CAP_TAG_KEY counts characters */
	if (strlen(k) >= sizeof(t->key) || text_utf8_chars(k) > CAP_TAG_KEY)
		return inifile_error(f, "tag key too long");
	if (strlen(v) >= sizeof(t->glob))
		return inifile_error(f, "tag value pattern too long");
	t = &c->tags[c->ntags];
	if (text_pct_decode(k, t->key, sizeof(t->key)) != 0)
		return inifile_error(f, "tag key '%s': bad %%XX escape", k);
	text_copy(t->glob, v, sizeof(t->glob));
	c->ntags++;
	return 0;
}

static void
tags_defaults(void *conf)
{
	((struct tags_conf *)conf)->source = TAGS_AUTO;
}

const struct check_def check_tags = {
	.name = "tags",
	.section = "tags",
	.keys = "source, or a tag key",
	.conf_size = sizeof(struct tags_conf),
	.defaults = tags_defaults,
	.key = tags_key,
	/* with the marker: its recorded tags are checked even with no [tags] */
	.default_events = CHECK_EVENT(EV_BEFORE_INSTALL) |
	    CHECK_EVENT(EV_BEFORE_ALLOW_TRAFFIC),
	.run = tags_run_check,
};
