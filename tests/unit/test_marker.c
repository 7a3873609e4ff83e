/*
 * test_marker.c: reading, verifying, formatting and writing the
 * provisioning marker (cdgate.ini(5): man/cdgate.ini.5, fmt/markerfile.h).
 *
 * Every test works in its own mkdtemp directory (mode 0700) under /tmp,
 * removed at the end.  Some cases need root (a file owned by uid 65534).
 */
#include <dirent.h>

#include "fmt/markerfile.h"
#include "base/status.h"
#include "testlib.h"
#include "base/text.h"

#define GOOD_HEAD "[provision]\nstatus = ok\n"				\
	"instance_id = i-0123456789abcdef0\n"				\
	"boot_id = 8c0c0d6e-1a2b-4c3d-9e8f-0123456789ab\n"		\
	"finished_at = 2026-11-26T02:00:00Z\n"
/* a boot id of the kernel's form: markerfile_read refuses any other */
#define BOOT "8c0c0d6e-1a2b-4c3d-9e8f-0123456789ab"
#define DIGEST_A "sha256:" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:" \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ------------------------------------------------------------------ */
/* helpers */

static struct tl_fx_spec fx_spec = { "marker", "provisioned", NULL };

/* dir holds exactly the names in want, joined by ' ' (. and .. aside) */
static void
assert_dir_holds(const char *dir, const char *want)
{
	char names[256];
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t used = 0;

	assert_non_null(d);
	names[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		int n;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n = snprintf(names + used, sizeof(names) - used, "%s%s",
		    used ? " " : "", e->d_name);
		assert_true(n > 0 && (size_t)n < sizeof(names) - used);
		used += (size_t)n;
	}
	closedir(d);
	assert_string_equal(names, want);
}

static void
good_marker(struct markerfile *m)
{
	memset(m, 0, sizeof(*m));
	m->ok = 1;
	text_copy(m->instance_id, "i-0123456789abcdef0",
	    sizeof(m->instance_id));
	text_copy(m->boot_id, "8c0c0d6e-1a2b-4c3d-9e8f-0123456789ab",
	    sizeof(m->boot_id));
	text_copy(m->finished_at, "2026-11-26T02:00:00Z",
	    sizeof(m->finished_at));
}

/* ------------------------------------------------------------------ */
/* markerfile_read: content */

static void
test_read_good_marker(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	int absent = 7;

	tl_put_text(x->path, GOOD_HEAD "digest = " DIGEST_A "\n"
	    "message = all good\n[tags]\nRole = api\nEnv = prod\n");
	assert_int_equal(markerfile_read(x->path, &m, &absent, &st), ST_OK);
	assert_int_equal(absent, 0);
	assert_int_equal(m.ok, 1);
	assert_string_equal(m.instance_id, "i-0123456789abcdef0");
	assert_string_equal(m.boot_id, "8c0c0d6e-1a2b-4c3d-9e8f-0123456789ab");
	assert_string_equal(m.finished_at, "2026-11-26T02:00:00Z");
	assert_string_equal(m.digest, DIGEST_A);
	assert_string_equal(m.message, "all good");
	assert_int_equal(m.has_tags, 1);
	assert_int_equal(m.ntags, 2);
	assert_string_equal(m.tags[0].key, "Role");
	assert_string_equal(m.tags[0].value, "api");
	assert_string_equal(m.tags[1].key, "Env");
	assert_string_equal(m.tags[1].value, "prod");
}

static void
test_read_minimal_marker(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	int absent;

	tl_put_text(x->path, "[provision]\nstatus = failed\ninstance_id = i-1\n"
	    "boot_id = " BOOT "\nfinished_at = 2026-01-02T03:04:05Z");
	assert_int_equal(markerfile_read(x->path, &m, &absent, &st), ST_OK);
	assert_int_equal(m.ok, 0);
	assert_string_equal(m.digest, "");
	assert_string_equal(m.message, "");
	assert_int_equal(m.has_tags, 0);
	assert_int_equal(m.ntags, 0);
}

struct tagkey_case {
	const char *stored, *key;
};

static const struct tagkey_case tagkey_cases[] = {
	{ "aws%3Aautoscaling%3AgroupName", "aws:autoscaling:groupName" },
	{ "aws%3aautoscaling%3agroupName", "aws:autoscaling:groupName" },
	{ "a%3Db", "a=b" },
	{ "100%25", "100%" },
	{ "x%3By", "x;y" },
	{ "%23hash", "#hash" },
	{ "%5Bsec%5D", "[sec]" },
	{ "two%20words", "two words" },
	{ "%20lead", " lead" },
	{ "tab%09", "tab\t" },
	{ "caf%C3%A9", "caf\xc3\xa9" },
	{ "caf\xc3\xa9", "caf\xc3\xa9" },
	{ "Plain_key.1-2/3@4+5", "Plain_key.1-2/3@4+5" },
};

static void
test_read_percent_encoded_tag_keys(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	char text[512];
	size_t i;
	int absent;

	for (i = 0; i < NELEM(tagkey_cases); i++) {
		snprintf(text, sizeof(text), GOOD_HEAD "[tags]\n%s = v%zu\n",
		    tagkey_cases[i].stored, i);
		tl_put_text(x->path, text);
		CHECK_INT(tagkey_cases[i].stored, markerfile_read(x->path, &m,
		    &absent, &st), ST_OK);
		CHECK_INT(tagkey_cases[i].stored, m.ntags, 1);
		CHECK_STR(tagkey_cases[i].stored, m.tags[0].key,
		    tagkey_cases[i].key);
	}
}

struct bad_case {
	const char *what;
	const char *text;
	const char *msg;	/* after "marker '<path>' " or in the message */
};

static const struct bad_case bad_cases[] = {
	{ "empty", "", "is empty" },
	{ "blank lines only", "\n\n", "has no status" },
	{ "no status", "[provision]\ninstance_id = i-1\nboot_id = " BOOT "\n"
	    "finished_at = 2026-11-26T02:00:00Z\n", "has no status" },
	{ "no instance_id", "[provision]\nstatus = ok\nboot_id = " BOOT "\n"
	    "finished_at = 2026-11-26T02:00:00Z\n", "has no instance_id" },
	{ "no boot_id", "[provision]\nstatus = ok\ninstance_id = i-1\n"
	    "finished_at = 2026-11-26T02:00:00Z\n", "has no boot_id" },
	{ "no finished_at", "[provision]\nstatus = ok\ninstance_id = i-1\n"
	    "boot_id = " BOOT "\n", "has no finished_at" },
	{ "only [tags]", "[tags]\nRole = api\n", "has no status" },
	{ "status OK", "[provision]\nstatus = OK\n",
	    ":2: status = 'OK': expected ok or failed" },
	{ "status empty", "[provision]\nstatus =\n",
	    ":2: status = '': expected ok or failed" },
	{ "status yes", "[provision]\nstatus = yes\n",
	    ":2: status = 'yes': expected ok or failed" },
	{ "instance_id empty", "[provision]\ninstance_id =\n",
	    ":2: instance_id is empty" },
	{ "instance_id too long", "[provision]\ninstance_id = "
	    "i-0123456789abcdef0123456789abcdef\n",
	    ":2: instance_id is too long" },
	{ "boot_id not a boot id", "[provision]\nboot_id = not-a-uuid\n",
	    ":2: boot_id = 'not-a-uuid': expected a boot id" },
	{ "boot_id in capitals", "[provision]\nboot_id = "
	    "8C0C0D6E-1A2B-4C3D-9E8F-0123456789AB\n",
	    ":2: boot_id = '8C0C0D6E-1A2B-4C3D-9E8F-0123456789AB': expected" },
	{ "boot_id empty", "[provision]\nboot_id =\n",
	    ":2: boot_id = '': expected a boot id" },
	{ "boot_id too long", "[provision]\nboot_id = "
	    "8c0c0d6e-1a2b-4c3d-9e8f-0123456789ab-and-more\n",
	    ":2: boot_id is too long" },
	{ "digest too long", "[provision]\ndigest = " DIGEST_A "000000000\n",
	    ":2: digest is too long" },
	{ "finished_at with a space", "[provision]\n"
	    "finished_at = 2026-11-26 02:00:00Z\n",
	    ":2: finished_at = '2026-11-26 02:00:00Z': expected "
	    "YYYY-MM-DDTHH:MM:SSZ" },
	{ "finished_at without Z", "[provision]\n"
	    "finished_at = 2026-11-26T02:00:00\n", ":2: finished_at = " },
	{ "finished_at with an offset", "[provision]\n"
	    "finished_at = 2026-11-26T02:00:00+00:00\n", ":2: finished_at = " },
	{ "finished_at with a letter", "[provision]\n"
	    "finished_at = 2026-1a-26T02:00:00Z\n", ":2: finished_at = " },
	{ "finished_at with fractions", "[provision]\n"
	    "finished_at = 2026-11-26T02:00:00.5Z\n", ":2: finished_at = " },
	{ "finished_at a date only", "[provision]\n"
	    "finished_at = 2026-11-26\n", ":2: finished_at = " },
	{ "finished_at empty", "[provision]\nfinished_at =\n",
	    ":2: finished_at = ''" },
	{ "unknown key", GOOD_HEAD "color = blue\n",
	    ":6: unknown key 'color' in [provision]" },
	{ "unknown section", GOOD_HEAD "[extra]\nx = 1\n",
	    ":6: unknown section [extra]" },
	{ "unknown empty section", GOOD_HEAD "[extra]\n",
	    ":6: unknown section [extra]" },
	{ "key outside a section", "status = ok\n",
	    ":1: 'status' is outside any [section]" },
	{ "duplicate key", GOOD_HEAD "status = failed\n",
	    ":6: 'status' is given twice in [provision]" },
	{ "duplicate tag", GOOD_HEAD "[tags]\nRole = a\nRole = b\n",
	    ":8: 'Role' is given twice in [tags]" },
	{ "syntax error", GOOD_HEAD "garbage\n", ":6: syntax error" },
	{ "tag key: lone %", GOOD_HEAD "[tags]\na% = v\n",
	    ":7: tag key 'a%' is malformed" },
	{ "tag key: % and one digit", GOOD_HEAD "[tags]\na%4 = v\n",
	    ":7: tag key 'a%4' is malformed" },
	{ "tag key: % and non-hex", GOOD_HEAD "[tags]\na%G0 = v\n",
	    ":7: tag key 'a%G0' is malformed" },
	{ "tag key: encoded NUL", GOOD_HEAD "[tags]\na%00b = v\n",
	    ":7: tag key 'a%00b' is malformed" },
	{ "tag key: encoded invalid UTF-8", GOOD_HEAD "[tags]\na%FF = v\n",
	    ":7: tag key 'a%FF' is malformed" },
	{ "tag key: encoded surrogate", GOOD_HEAD "[tags]\n%ED%A0%80 = v\n",
	    ":7: tag key '%ED%A0%80' is malformed" },
};

static void
test_read_bad_content(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	char want[256];
	size_t i;
	int absent;

	for (i = 0; i < NELEM(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];

		tl_put_text(x->path, c->text);
		absent = 7;
		CHECK_INT(c->what, markerfile_read(x->path, &m, &absent, &st),
		    ST_FAIL);
		CHECK_INT(c->what, st.code, ST_FAIL);
		CHECK_INT(c->what, absent, 0);
		if (c->msg[0] == ':') {
			/* a parse error: "marker is malformed: PATH:LINE: " */
			snprintf(want, sizeof(want), "marker is malformed: "
			    "%s%s", x->path, c->msg);
		} else {
			snprintf(want, sizeof(want), "marker '%s' %s",
			    x->path, c->msg);
		}
		CHECK_HAS(c->what, st.msg, want);
	}
}

static void
test_read_at_most_cap_tags(void **state)
{
	struct tl_fx *x = *state;
	char text[4096], want[256];
	struct markerfile m;
	struct status st;
	size_t used;
	int i, absent;

	used = (size_t)snprintf(text, sizeof(text), GOOD_HEAD "[tags]\n");
	for (i = 0; i < CAP_TAGS; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		    "k%d = v%d\n", i, i);
	tl_put_text(x->path, text);
	assert_int_equal(markerfile_read(x->path, &m, &absent, &st), ST_OK);
	assert_int_equal(m.ntags, CAP_TAGS);
	assert_string_equal(m.tags[CAP_TAGS - 1].key, "k49");
	snprintf(text + used, sizeof(text) - used, "one = more\n");
	tl_put_text(x->path, text);
	assert_int_equal(markerfile_read(x->path, &m, &absent, &st), ST_FAIL);
	snprintf(want, sizeof(want), "%s:%d: more than %d tags", x->path,
	    5 + 1 + CAP_TAGS + 1, CAP_TAGS);
	assert_non_null(strstr(st.msg, want));
}

/* a CRLF marker (edited on Windows) reads like a LF one */
static void
test_read_crlf_marker(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	int absent;

	tl_put_text(x->path, "[provision]\r\nstatus = ok\r\ninstance_id = i-1\r\n"
	    "boot_id = " BOOT "\r\nfinished_at = 2026-11-26T02:00:00Z\r\n"
	    "[tags]\r\nRole = api\r\n");
	assert_int_equal(markerfile_read(x->path, &m, &absent, &st), ST_OK);
	assert_string_equal(m.instance_id, "i-1");
	assert_string_equal(m.finished_at, "2026-11-26T02:00:00Z");
	assert_string_equal(m.tags[0].value, "api");
}

/* ------------------------------------------------------------------ */
/* markerfile_read: the file itself */

static void
test_read_absent(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	int absent = 0;

	assert_int_equal(markerfile_read(x->path, &m, &absent, &st), ST_FAIL);
	assert_int_equal(absent, 1);
	assert_non_null(strstr(st.msg, "does not exist"));
}

enum bad_kind {
	BAD_SYMLINK, BAD_DANGLING, BAD_DIR, BAD_FIFO, BAD_GROUP_W,
	BAD_WORLD_W, BAD_OWNER, BAD_BIG, BAD_NUL, BAD_UTF8, BAD_DIR_GROUP_W,
	BAD_DIR_WORLD_W, BAD_DIR_OWNER
};

struct badfile_case {
	const char *what;
	enum bad_kind kind;
	const char *msg;
};

/* msg follows "marker 'PATH' " or, for the directory, "marker directory
 * 'DIR' " */
static const struct badfile_case badfile_cases[] = {
	{ "symlink to a good marker", BAD_SYMLINK, "is a symbolic link" },
	{ "dangling symlink", BAD_DANGLING, "is a symbolic link" },
	{ "directory", BAD_DIR, "is a directory" },
	{ "FIFO", BAD_FIFO, "is a FIFO" },
	{ "group-writable", BAD_GROUP_W, "is group-writable; chmod go-w" },
	{ "world-writable", BAD_WORLD_W, "is world-writable; chmod go-w" },
	{ "owned by another user", BAD_OWNER,
	    "is owned by uid 65534, not root or the running user" },
	{ "larger than CAP_MARKER_FILE", BAD_BIG, "is too large" },
	{ "NUL byte", BAD_NUL, "holds NUL bytes" },
	{ "invalid UTF-8", BAD_UTF8, "is not valid UTF-8" },
	{ "group-writable directory", BAD_DIR_GROUP_W,
	    "is writable by its group; chmod go-w" },
	{ "world-writable directory", BAD_DIR_WORLD_W,
	    "is writable by everyone" },
	{ "directory owned by another user", BAD_DIR_OWNER,
	    "is owned by uid 65534" },
};

static void
make_bad(const struct tl_fx *x, enum bad_kind kind)
{
	char other[160], *big;

	tl_join(other, sizeof(other), x->dir, "real");
	switch (kind) {
	case BAD_SYMLINK:
		tl_put_text(other, GOOD_HEAD);
		assert_int_equal(symlink(other, x->path), 0);
		break;
	case BAD_DANGLING:
		assert_int_equal(symlink("/nonexistent/cdgate", x->path), 0);
		break;
	case BAD_DIR:
		assert_int_equal(mkdir(x->path, 0755), 0);
		break;
	case BAD_FIFO:
		assert_int_equal(mkfifo(x->path, 0644), 0);
		break;
	case BAD_GROUP_W:
		tl_put_file(x->path, GOOD_HEAD, strlen(GOOD_HEAD), 0664);
		break;
	case BAD_WORLD_W:
		tl_put_file(x->path, GOOD_HEAD, strlen(GOOD_HEAD), 0646);
		break;
	case BAD_OWNER:
		tl_put_text(x->path, GOOD_HEAD);
		assert_int_equal(chown(x->path, 65534, 65534), 0);
		break;
	case BAD_BIG:
		assert_non_null(big = malloc(CAP_MARKER_FILE + 1));
		memset(big, '\n', CAP_MARKER_FILE + 1);
		memcpy(big, GOOD_HEAD, strlen(GOOD_HEAD));
		tl_put_file(x->path, big, CAP_MARKER_FILE + 1, 0644);
		free(big);
		break;
	case BAD_NUL:
		tl_put_file(x->path, GOOD_HEAD "\0", strlen(GOOD_HEAD) + 1, 0644);
		break;
	case BAD_UTF8:
		tl_put_text(x->path, GOOD_HEAD "message = caf\xe9\n");
		break;
	case BAD_DIR_GROUP_W:
		tl_put_text(x->path, GOOD_HEAD);
		assert_int_equal(chmod(x->dir, 0770), 0);
		break;
	case BAD_DIR_WORLD_W:
		tl_put_text(x->path, GOOD_HEAD);
		assert_int_equal(chmod(x->dir, 0707), 0);
		break;
	case BAD_DIR_OWNER:
		tl_put_text(x->path, GOOD_HEAD);
		assert_int_equal(chown(x->dir, 65534, 65534), 0);
		break;
	}
}

static void
undo_bad(const struct tl_fx *x)
{
	char other[160];

	assert_int_equal(chown(x->dir, geteuid(), getegid()), 0);
	assert_int_equal(chmod(x->dir, 0700), 0);
	tl_join(other, sizeof(other), x->dir, "real");
	unlink(other);
	if (unlink(x->path) != 0)
		assert_int_equal(rmdir(x->path), 0);
}

static void
test_read_bad_files(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	char want[256];
	size_t i;
	int absent;

	assert_int_equal(geteuid(), 0);	/* chown to 65534 needs root */
	for (i = 0; i < NELEM(badfile_cases); i++) {
		const struct badfile_case *c = &badfile_cases[i];
		int dir = c->kind >= BAD_DIR_GROUP_W;

		make_bad(x, c->kind);
		absent = 7;
		CHECK_INT(c->what, markerfile_read(x->path, &m, &absent, &st),
		    ST_FAIL);
		CHECK_INT(c->what, absent, 0);
		snprintf(want, sizeof(want), "marker %s'%s' %s",
		    dir ? "directory " : "", dir ? x->dir : x->path, c->msg);
		CHECK_HAS(c->what, st.msg, want);
		undo_bad(x);
	}
}

/* exactly CAP_MARKER_FILE bytes is still accepted */
static void
test_read_cap_sized_marker(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	char *big;
	int absent;

	assert_non_null(big = malloc(CAP_MARKER_FILE));
	memset(big, '\n', CAP_MARKER_FILE);
	memcpy(big, GOOD_HEAD, strlen(GOOD_HEAD));
	tl_put_file(x->path, big, CAP_MARKER_FILE, 0644);
	free(big);
	assert_int_equal(markerfile_read(x->path, &m, &absent, &st), ST_OK);
}

/* ------------------------------------------------------------------ */
/* markerfile_verify */

struct verify_case {
	const char *what;
	int ok;
	const char *instance, *digest, *message;	/* in the marker */
	const char *want_instance, *want_digest;	/* given */
	int rc, other;
	const char *msg;
};

static const struct verify_case verify_cases[] = {
	{ "ok, same instance", 1, "i-1", "", "", "i-1", NULL, ST_OK, 0, "" },
	{ "ok, instance not checked", 1, "i-1", "", "", NULL, NULL, ST_OK, 0,
	    "" },
	{ "ok, digest matches", 1, "i-1", DIGEST_A, "", "i-1", DIGEST_A,
	    ST_OK, 0, "" },
	{ "ok, empty digest not checked", 1, "i-1", "", "", "i-1", "", ST_OK,
	    0, "" },
	{ "ok, marker digest ignored when none configured", 1, "i-1",
	    DIGEST_A, "", "i-1", NULL, ST_OK, 0, "" },
	{ "failed with a message", 0, "i-1", "", "chef run failed", "i-1",
	    NULL, ST_FAIL, 0, "provisioning failed at 2026-11-26T02:00:00Z: "
	    "chef run failed (marker '/m'); fix provisioning and relaunch" },
	{ "failed without a message", 0, "i-1", "", "", "i-1", NULL, ST_FAIL,
	    0, "provisioning failed at 2026-11-26T02:00:00Z: no message "
	    "recorded" },
	{ "another instance wins over failed", 0, "i-2", "", "x", "i-1",
	    NULL, ST_FAIL, 1, "was written on instance i-2, this is i-1" },
	{ "other instance", 1, "i-2", "", "", "i-1", NULL, ST_FAIL, 1,
	    "marker '/m' was written on instance i-2, this is i-1" },
	{ "other instance wins over the digest", 1, "i-2", DIGEST_A, "",
	    "i-1", DIGEST_B, ST_FAIL, 1, "written on instance i-2" },
	{ "digest mismatch", 1, "i-1", DIGEST_A, "", "i-1", DIGEST_B,
	    ST_FAIL, 0, "marker '/m' digest sha256:aaaaaaaaaaaaaaaa is not "
	    "the configured " DIGEST_B },
	{ "digest missing from the marker", 1, "i-1", "", "", "i-1", DIGEST_B,
	    ST_FAIL, 0, "marker '/m' digest (none) is not the configured "
	    DIGEST_B },
};

static void
test_verify_table(void **state)
{
	struct markerfile m;
	struct status st;
	size_t i;
	int other;

	(void)state;
	for (i = 0; i < NELEM(verify_cases); i++) {
		const struct verify_case *c = &verify_cases[i];

		good_marker(&m);
		m.ok = c->ok;
		text_copy(m.instance_id, c->instance, sizeof(m.instance_id));
		text_copy(m.digest, c->digest, sizeof(m.digest));
		text_copy(m.message, c->message, sizeof(m.message));
		status_clear(&st);
		other = 7;
		CHECK_INT(c->what, markerfile_verify("/m", &m, c->want_instance,
		    c->want_digest, &other, &st), c->rc);
		CHECK_INT(c->what, other, c->other);
		if (c->rc == ST_OK)
			CHECK_STR(c->what, st.msg, "");
		else
			CHECK_HAS(c->what, st.msg, c->msg);
	}
}

/* ------------------------------------------------------------------ */
/* markerfile_format and markerfile_write */

/* the tags a round trip must keep: keys with every character INI would
 * misread, non-ASCII, and the longest values */
static void
tricky_marker(struct markerfile *m)
{
	static const char *const keys[] = {
		"Role", "aws:autoscaling:groupName", "a=b", "100%", "x;y",
		"#hash", "[sec]", "two words", " lead", "trail ", "tab\tkey",
		"caf\xc3\xa9", "%41", "k:=%;#[] \t",
	};
	size_t i;

	good_marker(m);
	text_copy(m->digest, DIGEST_A, sizeof(m->digest));
	for (i = 0; i < NELEM(keys); i++) {
		text_copy(m->tags[i].key, keys[i],
		    sizeof(m->tags[i].key));
		snprintf(m->tags[i].value, sizeof(m->tags[i].value), "v%zu-x",
		    i);
	}
	/* 256 characters, 3 bytes each: the longest EC2 tag value */
	for (i = 0; i < CAP_TAG_VALUE; i++)
		memcpy(m->tags[0].value + 3 * i, "\xe2\x82\xac", 3);
	m->tags[0].value[3 * CAP_TAG_VALUE] = '\0';
	/* the longest EC2 tag key (128 characters) */
	memset(m->tags[1].key, 'k', CAP_TAG_KEY);
	m->tags[1].key[CAP_TAG_KEY] = '\0';
	m->ntags = NELEM(keys);
	m->has_tags = 1;
}

static void
assert_same_marker(const struct markerfile *a, const struct markerfile *b)
{
	size_t i;

	assert_int_equal(a->ok, b->ok);
	assert_string_equal(a->instance_id, b->instance_id);
	assert_string_equal(a->boot_id, b->boot_id);
	assert_string_equal(a->finished_at, b->finished_at);
	assert_string_equal(a->digest, b->digest);
	assert_string_equal(a->message, b->message);
	assert_int_equal(a->ntags, b->ntags);
	assert_int_equal(a->has_tags, b->has_tags);
	for (i = 0; i < a->ntags; i++) {
		assert_string_equal(a->tags[i].key, b->tags[i].key);
		assert_string_equal(a->tags[i].value, b->tags[i].value);
	}
}

static void
test_format_exact_text(void **state)
{
	char buf[1024];
	struct markerfile m;
	struct status st;

	(void)state;
	good_marker(&m);
	m.ok = 0;
	text_copy(m.digest, DIGEST_A, sizeof(m.digest));
	strcpy(m.message, "step 2; failed # really\x01");
	text_copy(m.tags[0].key, "aws:x y", sizeof(m.tags[0].key));
	text_copy(m.tags[0].value, "v", sizeof(m.tags[0].value));
	m.ntags = 1;
	assert_int_equal(markerfile_format(&m, buf, sizeof(buf), &st), ST_OK);
	assert_string_equal(buf, "[provision]\nstatus = failed\n"
	    "instance_id = i-0123456789abcdef0\n"
	    "boot_id = 8c0c0d6e-1a2b-4c3d-9e8f-0123456789ab\n"
	    "finished_at = 2026-11-26T02:00:00Z\n"
	    "digest = " DIGEST_A "\n"
	    "message = step 2, failed , really?\n"
	    "[tags]\naws%3Ax%20y = v\n");
}

static void
test_format_too_small(void **state)
{
	char buf[CAP_MARKER_FILE];
	struct markerfile m;
	struct status st;
	size_t need, len;

	(void)state;
	tricky_marker(&m);
	assert_int_equal(markerfile_format(&m, buf, sizeof(buf), &st), ST_OK);
	need = strlen(buf) + 1;
	for (len = 1; len < need; len += 7) {
		status_clear(&st);
		CHECK_INT("short buffer", markerfile_format(&m, buf, len, &st),
		    ST_USAGE);
		assert_non_null(strstr(st.msg, "marker text longer than"));
	}
	assert_int_equal(markerfile_format(&m, buf, need, &st), ST_OK);
}

static void
test_write_read_round_trip(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m, r;
	struct status st;
	int absent;

	tricky_marker(&m);
	assert_int_equal(markerfile_write(x->path, &m, &st), ST_OK);
	assert_int_equal(markerfile_read(x->path, &r, &absent, &st), ST_OK);
	assert_same_marker(&m, &r);
}

/* a failed marker with a long message reads back with all of it */
static void
test_write_read_long_message(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m, r;
	struct status st;
	int absent, other;

	good_marker(&m);
	m.ok = 0;
	memset(m.message, 'm', CAP_MSG - 1);
	m.message[CAP_MSG - 1] = '\0';
	assert_int_equal(markerfile_write(x->path, &m, &st), ST_OK);
	assert_int_equal(markerfile_read(x->path, &r, &absent, &st), ST_OK);
	assert_string_equal(r.message, m.message);
	assert_int_equal(markerfile_verify(x->path, &r, NULL, NULL, &other, &st),
	    ST_FAIL);
	assert_non_null(strstr(st.msg, "provisioning failed at"));
}

static void
test_write_modes_and_no_temp_file(void **state)
{
	struct tl_fx *x = *state;
	char sub[128], path[160];
	struct markerfile m;
	struct status st;
	struct stat sb;
	mode_t old = umask(077);

	good_marker(&m);
	/* missing directories are created, 0755 whatever the umask */
	tl_join(sub, sizeof(sub), x->dir, "var/lib/cdgate");
	tl_join(path, sizeof(path), sub, "provisioned");
	assert_int_equal(markerfile_write(path, &m, &st), ST_OK);
	umask(old);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	tl_join(sub, sizeof(sub), x->dir, "var");
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	/* the marker is 0644, a regular file, and alone in its directory */
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0644);
	tl_join(sub, sizeof(sub), x->dir, "var/lib/cdgate");
	assert_dir_holds(sub, "provisioned");
}

static void
test_write_replaces_existing_marker(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m, r;
	struct status st;
	struct stat sb;
	int absent;

	tl_put_file(x->path, "old", 3, 0600);
	good_marker(&m);
	m.ok = 0;
	text_copy(m.message, "second", sizeof(m.message));
	assert_int_equal(markerfile_write(x->path, &m, &st), ST_OK);
	assert_int_equal(markerfile_read(x->path, &r, &absent, &st), ST_OK);
	assert_same_marker(&m, &r);
	assert_int_equal(stat(x->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	assert_dir_holds(x->dir, "provisioned");
}

static void
test_write_refuses_group_writable_dir(void **state)
{
	struct tl_fx *x = *state;
	char want[256];
	struct markerfile m;
	struct status st;

	good_marker(&m);
	assert_int_equal(chmod(x->dir, 0770), 0);
	assert_int_equal(markerfile_write(x->path, &m, &st), ST_FAIL);
	snprintf(want, sizeof(want), "marker directory '%s' is writable by "
	    "its group; chmod go-w '%s'", x->dir, x->dir);
	assert_non_null(strstr(st.msg, want));
	assert_dir_holds(x->dir, "");
	assert_int_equal(chmod(x->dir, 0700), 0);
}

static void
test_write_refuses_a_directory_path(void **state)
{
	struct tl_fx *x = *state;
	char path[160];
	struct markerfile m;
	struct status st;

	good_marker(&m);
	tl_join(path, sizeof(path), x->dir, "d/");
	assert_int_equal(markerfile_write(path, &m, &st), ST_CONFIG);
	assert_non_null(strstr(st.msg, "names a directory"));
}

/* a parent that is a file: an error, and nothing left behind */
static void
test_write_parent_is_a_file(void **state)
{
	struct tl_fx *x = *state;
	char file[160], path[192];
	struct markerfile m;
	struct status st;

	good_marker(&m);
	tl_join(file, sizeof(file), x->dir, "file");
	tl_put_text(file, "x");
	tl_join(path, sizeof(path), file, "provisioned");
	assert_int_not_equal(markerfile_write(path, &m, &st), ST_OK);
	assert_non_null(strstr(st.msg, file));
	assert_dir_holds(x->dir, "file");
}

static void
test_boot_id(void **state)
{
	char id[CAP_BOOT_ID];
	struct status st;

	(void)state;
	assert_int_equal(markerfile_boot_id(id, sizeof(id), &st), ST_OK);
	assert_int_equal(strlen(id), 36);
	assert_int_equal(id[8], '-');
	assert_int_equal(markerfile_boot_id(id, 10, &st), ST_OSERR);
	assert_true(markerfile_boot_id_ok(id));
}

/* boot_id: the kernel's form, 8-4-4-4-12 lowercase hex digits */
static void
test_boot_id_form(void **state)
{
	(void)state;
	assert_true(markerfile_boot_id_ok(BOOT));
	assert_false(markerfile_boot_id_ok("not-a-uuid"));
	assert_false(markerfile_boot_id_ok(""));
	assert_false(markerfile_boot_id_ok("8C0C0D6E-1A2B-4C3D-9E8F-0123456789AB"));
	assert_false(markerfile_boot_id_ok("8c0c0d6e-1a2b-4c3d-9e8f-0123456789a"));
	assert_false(markerfile_boot_id_ok(BOOT "c"));
	assert_false(markerfile_boot_id_ok("8c0c0d6e01a2b-4c3d-9e8f-0123456789ab"));
	assert_false(markerfile_boot_id_ok("8c0c0d6e-1a2b-4c3d-9e8f-0123456789ag"));
}

/* markerfile_withdraw: removes the marker, once; refuses an unsafe directory */
static void
test_withdraw(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;
	char path[256];
	int withdrawn;

	good_marker(&m);
	assert_int_equal(markerfile_write(x->path, &m, &st), ST_OK);
	assert_int_equal(markerfile_withdraw(x->path, &withdrawn, &st), ST_OK);
	assert_int_equal(withdrawn, 1);
	assert_int_equal(access(x->path, F_OK), -1);
	assert_int_equal(markerfile_withdraw(x->path, &withdrawn, &st), ST_OK);
	assert_int_equal(withdrawn, 0);
	/* a missing directory: nothing to withdraw */
	snprintf(path, sizeof(path), "%s/none/provisioned", x->dir);
	assert_int_equal(markerfile_withdraw(path, &withdrawn, &st), ST_OK);
	assert_int_equal(withdrawn, 0);
	/* a directory at the path */
	snprintf(path, sizeof(path), "%s/d", x->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(markerfile_withdraw(path, &withdrawn, &st), ST_CONFIG);
	/* a directory others can write: refused, the marker left alone */
	assert_int_equal(markerfile_write(x->path, &m, &st), ST_OK);
	assert_int_equal(chmod(x->dir, 0777), 0);
	assert_int_equal(markerfile_withdraw(x->path, &withdrawn, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "is writable by everyone"));
	assert_int_equal(access(x->path, F_OK), 0);
	assert_int_equal(chmod(x->dir, 0700), 0);
}

static int renamed_calls;

static void
count_renamed(void)
{
	renamed_calls++;
}

/* markerfile_write_cb: the hook runs once the marker is in place */
static void
test_write_cb_renamed(void **state)
{
	struct tl_fx *x = *state;
	struct markerfile m;
	struct status st;

	good_marker(&m);
	renamed_calls = 0;
	assert_int_equal(markerfile_write_cb(x->path, &m, count_renamed, &st),
	    ST_OK);
	assert_int_equal(renamed_calls, 1);
	assert_int_equal(access(x->path, F_OK), 0);
}

#define T(f) TL_FX_TEST(f, &fx_spec)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_good_marker),
		T(test_read_minimal_marker),
		T(test_read_percent_encoded_tag_keys),
		T(test_read_bad_content),
		T(test_read_at_most_cap_tags),
		T(test_read_crlf_marker),
		T(test_read_absent),
		T(test_read_bad_files),
		T(test_read_cap_sized_marker),
		T(test_verify_table),
		T(test_format_exact_text),
		T(test_format_too_small),
		T(test_write_read_round_trip),
		T(test_write_read_long_message),
		T(test_write_modes_and_no_temp_file),
		T(test_write_replaces_existing_marker),
		T(test_write_refuses_group_writable_dir),
		T(test_write_refuses_a_directory_path),
		T(test_write_parent_is_a_file),
		T(test_boot_id),
		T(test_boot_id_form),
		T(test_withdraw),
		T(test_write_cb_renamed),
	};

	return cmocka_run_group_tests_name("marker", tests, NULL, NULL);
}
