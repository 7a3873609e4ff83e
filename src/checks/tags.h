/*
 * tags.h: the tags check (cdgate.ini(5) [tags]: man/cdgate.ini.5).
 *
 * Rules:
 * - every key of [tags] MUST exist on the instance with a value matching
 *   its glob (text_glob: '*' any run, '?' one character);
 * - when a marker passed earlier in the run and recorded [tags], each
 *   recorded tag MUST exist on the instance with exactly that value:
 *   provisioning must have acted on the instance's real tags;
 * - source = imds reads meta-data/tags/instance; source = ec2 reads EC2
 *   DescribeTags; source = auto reads instance metadata and falls back to
 *   EC2 for the rest of the run when metadata tags are not enabled (404,
 *   or 200 with an empty list), saying so and how to enable them; with
 *   source = imds that is a failure with the same how-to;
 * - tags that are missing or do not match yet are read again with
 *   jittered backoff (ec2_poll_delay) through check_wait until the
 *   deadline, since tags written by the instance lag; then the check fails
 *   naming every missing or mismatched key with its live value: ST_TIMEOUT
 *   when a tag is still missing, ST_FAIL when all exist but some differ;
 * - errors that waiting cannot cure (permissions, credentials, clock)
 *   fail at once with their own code;
 * - request economy: one listing and one read per needed key per round
 *   from instance metadata, or one DescribeTags (all keys, paginated) per
 *   round from EC2.
 */
#ifndef CDGATE_TAGS_H
#define CDGATE_TAGS_H

#include <stddef.h>

#include "checks/check.h"
#include "fmt/markerfile.h"

#define TAGS_ITEM "meta-data/tags/instance"
#define TAGS_CAP_WANT (2 * CAP_TAGS)	/* [tags] keys + marker keys */
#define TAGS_SHOW_VALUE 48		/* bytes of a value in messages */

enum tags_source { TAGS_AUTO, TAGS_IMDS, TAGS_EC2 };

/* One key of [tags]: the tag must exist with a value matching glob. */
struct tags_rule {
	char key[CAP_TAG_KEY_B];
	char glob[CAP_TAG_VALUE_B];
};

/* [tags] */
struct tags_conf {
	int source;			/* enum tags_source */
	struct tags_rule tags[CAP_TAGS];
	size_t ntags;
};

extern const struct check_def check_tags;

/* Pure parts, for the unit tests. */

#define TAGS_MORE_ROOM 24	/* why keeps room for "; and N more" */

struct tags_eval {
	size_t missing;		/* keys absent from the instance */
	size_t mismatched;	/* keys present with another value */
	size_t omitted;		/* problems that did not fit in why */
	char why[CAP_MSG];	/* "Role is 'web' (want 'api'); Env is missing" */
	int print;		/* set by the caller, kept: also print each
				 * problem as a "tags: ..." line, all of them */
};

/*
 * Compares the live tags with [tags] (key + glob) and the marker's
 * recorded tags (key + exact value; mk may be NULL when nmk is 0).
 * Returns the number of problems (0: pass) and fills ev.
 */
size_t tags_evaluate(const struct tags_rule *req, size_t nreq,
    const struct markerfile_tag *mk, size_t nmk, const struct markerfile_tag *live,
    size_t nlive, struct tags_eval *ev);
/* 1 when key is a line of the metadata listing. */
int tags_listed(const char *listing, const char *key);
/* 1 when key only uses the characters metadata tags allow. */
int tags_imds_key_ok(const char *key);

#endif
