/*
 * test_appspec.c: appspec_parse on good and hostile YAML, appspec_lookup
 * (the walk up from the program, file safety, matching a location to the
 * program by device and inode), appspec_deadline (the margin) and
 * appspec_describe (the -n line).
 *
 * The lookup tests build an agent-like tree in their own mkdtemp
 * directory under /tmp: DIR/g/d/deployment-archive/ with the program at
 * cdgate/before-install (any regular file: lookup only compares inodes).
 */
#include "fmt/appspec.h"
#include "base/mono.h"
#include "base/status.h"
#include "testlib.h"

#include <sys/utsname.h>

static struct tl_fx_spec fx_spec = { "appspec", "x", NULL };

/* ------------------------------------------------------------------ */
/* appspec_parse */

struct parse_case {
	const char *name;
	const char *yaml;
	int rc;
	const char *msg;	/* held by st.msg; "" when ST_OK */
	size_t n;		/* entries under BeforeInstall */
	long t0;		/* the first one's timeout (0: bad) */
	const char *bad0;	/* held by its bad; "" when good */
};

#define HEAD "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n"
#define ENT(loc, t) "    - location: " loc "\n      timeout: " t "\n"

static struct parse_case parse_cases[] = {
	{ "one entry", HEAD ENT("cdgate/before-install", "60"), ST_OK, "",
	    1, 60, "" },
	{ "quoted timeout", HEAD ENT("x", "\"60\""), ST_OK, "", 1, 60, "" },
	{ "no timeout: the agent's 3600",
	    HEAD "    - location: x\n      runas: root\n", ST_OK, "", 1,
	    3600, "" },
	{ "two entries", HEAD ENT("a", "5") ENT("b", "7"), ST_OK, "", 2, 5,
	    "" },
	{ "huge timeout saturates", HEAD ENT("x", "99999999999999999999"),
	    ST_OK, "", 1, APPSPEC_TIMEOUT_MAX, "" },
	{ "other events only",
	    "hooks:\n  AfterInstall:\n" ENT("x", "5"), ST_OK, "", 0, 0, "" },
	{ "no hooks at all", "version: 0.0\nos: linux\n", ST_OK, "", 0, 0,
	    "" },
	{ "hooks: empty", "version: 0.0\nhooks:\n", ST_OK, "", 0, 0, "" },
	{ "event: empty", "hooks:\n  BeforeInstall:\n", ST_OK, "", 0, 0, "" },
	{ "flow style", "{hooks: {BeforeInstall: [{location: x, timeout: "
	    "9}]}}", ST_OK, "", 1, 9, "" },
	{ "other sections skipped",
	    "files:\n  - source: /\n    destination: /srv/a\n"
	    "permissions:\n  - object: /srv\n    mode: 755\n" HEAD
	    ENT("x", "30"), ST_OK, "", 1, 30, "" },
	{ "comments and a document marker",
	    "# appspec\n---\n" HEAD ENT("x", "30") "...\n", ST_OK, "", 1, 30,
	    "" },
	{ "CRLF", "hooks:\r\n  BeforeInstall:\r\n    - location: x\r\n"
	    "      timeout: 12\r\n", ST_OK, "", 1, 12, "" },
	/* a bad timeout is kept in the entry: an error only if it is ours */
	{ "timeout zero", HEAD ENT("x", "0"), ST_OK, "", 1, 0,
	    "timeout '0' is not a positive whole number" },
	{ "timeout negative", HEAD ENT("x", "-5"), ST_OK, "", 1, 0,
	    "timeout '-5' is not" },
	{ "timeout with a unit", HEAD ENT("x", "60s"), ST_OK, "", 1, 0,
	    "timeout '60s' is not" },
	{ "timeout float", HEAD ENT("x", "60.5"), ST_OK, "", 1, 0,
	    "timeout '60.5' is not" },
	{ "timeout octal-looking", HEAD ENT("x", "060"), ST_OK, "", 1, 0,
	    "timeout '060' is not" },
	{ "timeout hex", HEAD ENT("x", "0x3c"), ST_OK, "", 1, 0,
	    "timeout '0x3c' is not" },
	{ "timeout with a plus", HEAD ENT("x", "+60"), ST_OK, "", 1, 0,
	    "timeout '+60' is not" },
	{ "timeout underscores", HEAD ENT("x", "1_000"), ST_OK, "", 1, 0,
	    "timeout '1_000' is not" },
	{ "timeout null", HEAD ENT("x", "~"), ST_OK, "", 1, 0,
	    "timeout has no value" },
	{ "timeout empty", HEAD "    - location: x\n      timeout:\n", ST_OK,
	    "", 1, 0, "timeout has no value" },
	{ "timeout tagged", HEAD ENT("x", "!!str 60"), ST_OK, "", 1, 0,
	    "explicit YAML tag" },
	{ "timeout a list", HEAD "    - location: x\n      timeout: [1]\n",
	    ST_OK, "", 1, 0, "timeout is a list" },
	{ "timeout a mapping", HEAD "    - location: x\n      timeout: {a: 1}\n",
	    ST_OK, "", 1, 0, "timeout is a mapping" },
	{ "timeout twice", HEAD "    - location: x\n      timeout: 900\n"
	    "      timeout: 5\n", ST_OK, "", 1, 0, "timeout given twice" },
	/* errors of the whole file */
	{ "empty file", "", ST_CONFIG, "line 1: empty: no hooks", 0, 0, "" },
	{ "only a comment", "# nothing\n", ST_CONFIG, "empty: no hooks", 0,
	    0, "" },
	{ "a scalar document", "hello\n", ST_CONFIG,
	    "the appspec is not a mapping", 0, 0, "" },
	{ "a list document", "- a\n- b\n", ST_CONFIG,
	    "the appspec is not a mapping", 0, 0, "" },
	{ "hooks a list", "hooks:\n  - a\n", ST_CONFIG,
	    "line 2: hooks is not a mapping", 0, 0, "" },
	{ "event a scalar", "hooks:\n  BeforeInstall: x\n", ST_CONFIG,
	    "line 2: BeforeInstall is not a list of scripts", 0, 0, "" },
	{ "entry a scalar", HEAD "    - cdgate/before-install\n", ST_CONFIG,
	    "line 5: an entry under BeforeInstall is not a mapping", 0, 0,
	    "" },
	{ "entry without location", HEAD "    - timeout: 5\n", ST_CONFIG,
	    "line 5: an entry under BeforeInstall has no location", 0, 0, "" },
	{ "location a list", HEAD "    - location: [a]\n", ST_CONFIG,
	    "location under BeforeInstall is not a plain path", 0, 0, "" },
	{ "location empty", HEAD "    - location:\n", ST_CONFIG,
	    "location under BeforeInstall is not a plain path", 0, 0, "" },
	{ "location quoted empty", HEAD "    - location: \"\"\n", ST_CONFIG,
	    "line 5: location under BeforeInstall is empty", 0, 0, "" },
	{ "location with a NUL", HEAD "    - location: \"x\\0y\"\n", ST_CONFIG,
	    "location under BeforeInstall holds a NUL character", 0, 0, "" },
	{ "a key with a NUL is not location", HEAD "    - \"location\\0x\": a\n"
	    "      location: b\n", ST_OK, "", 1, 3600, "" },
	{ "timeout with a NUL", HEAD ENT("x", "\"60\\0\""), ST_OK, "", 1, 0,
	    "timeout '60?' is not" },
	{ "location twice", HEAD "    - location: a\n      location: b\n",
	    ST_CONFIG, "line 6: location given twice in one entry under "
	    "BeforeInstall (lines 5 and 6)", 0, 0, "" },
	{ "hooks twice", "hooks:\n  AfterInstall:\n" HEAD ENT("x", "5"),
	    ST_CONFIG, "line 5: hooks given twice in the appspec (lines 1 and "
	    "5)", 0, 0, "" },
	{ "event twice", HEAD ENT("x", "900") "  BeforeInstall:\n"
	    ENT("x", "5"), ST_CONFIG, "line 7: BeforeInstall given twice in "
	    "hooks (lines 4 and 7)", 0, 0, "" },
	{ "tab indentation", "hooks:\n\tBeforeInstall:\n", ST_CONFIG,
	    "line 2: not valid YAML: found character that cannot start any "
	    "token", 0, 0, "" },
	{ "tab inside an entry", HEAD "    - location: x\n\t  timeout: 5\n",
	    ST_CONFIG, "not valid YAML", 0, 0, "" },
	{ "unclosed quote", HEAD "    - location: \"x\n", ST_CONFIG,
	    "not valid YAML", 0, 0, "" },
	{ "two documents", HEAD ENT("x", "5") "---\nhooks: {}\n", ST_CONFIG,
	    "a second YAML document", 0, 0, "" },
	{ "an anchor", "a: &x 1\n" HEAD ENT("x", "5"), ST_CONFIG,
	    "line 1: an anchor (&x): anchors and aliases are not accepted", 0,
	    0, "" },
	{ "an alias", "a: 1\nb: *x\n", ST_CONFIG, "line 2: an alias (*x)",
	    0, 0, "" },
	{ "an entry through a merge key",
	    "base: &b {location: x, timeout: 9000}\n" HEAD "    - <<: *b\n",
	    ST_CONFIG, "an anchor (&b)", 0, 0, "" },
	{ "a YAML bomb",
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n", ST_CONFIG,
	    "line 1: an anchor (&a)", 0, 0, "" },
	{ "deep nesting",
	    "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]"
	    "]]]]]]]]]]]]]]]]]]]]\n", ST_CONFIG, "nested more than 32 levels",
	    0, 0, "" },
	{ "NUL in the text", "hooks:\n\0x", ST_CONFIG, "not valid YAML", 0,
	    0, "" },
};

static void
test_parse_row(void **state)
{
	struct parse_case *c = *state;
	struct appspec_doc *d = calloc(1, sizeof(*d));
	struct status st;
	size_t len = strlen(c->yaml);
	int rc;

	assert_non_null(d);
	if (strcmp(c->name, "NUL in the text") == 0)
		len = 9;	/* the NUL and the x after it */
	status_clear(&st);
	rc = appspec_parse("/a/appspec.yml", c->yaml, len, "BeforeInstall",
	    d, &st);
	CHECK_INT(c->name, rc, c->rc);
	if (rc == ST_OK) {
		CHECK_INT(c->name, d->n, c->n);
		if (c->n > 0) {
			CHECK_INT(c->name, d->ent[0].timeout, c->t0);
			CHECK_MSG(c->name, d->ent[0].bad, c->bad0);
		}
	} else {
		CHECK_HAS(c->name, st.msg, "appspec '/a/appspec.yml' line ");
		CHECK_MSG(c->name, st.msg, c->msg);
		CHECK_INT(c->name, d->n, 0);
	}
	free(d);
}

/* More events than CAP_APPSPEC_EVENTS, in a file under the size cap. */
static void
test_parse_too_many_events(void **state)
{
	struct appspec_doc *d = calloc(1, sizeof(*d));
	struct status st;
	size_t n = 2 * CAP_APPSPEC_EVENTS + 16, i;
	char *buf = malloc(n * 2 + 8);

	(void)state;
	assert_non_null(d);
	assert_non_null(buf);
	memcpy(buf, "a: [", 4);
	for (i = 0; i < n; i++)
		memcpy(buf + 4 + i * 2, "1,", 2);
	memcpy(buf + 4 + n * 2, "1]\n", 4);
	assert_true(strlen(buf) <= CAP_APPSPEC_FILE);
	assert_int_equal(appspec_parse("/a/appspec.yml", buf, strlen(buf),
	    "BeforeInstall", d, &st), ST_CONFIG);
	CHECK_HAS("events", st.msg, "too complex (more than 20000 YAML events)");
	free(buf);
	free(d);
}

/* More entries under the event than CAP_APPSPEC_ENTRIES. */
static void
test_parse_too_many_entries(void **state)
{
	struct appspec_doc *d = calloc(1, sizeof(*d));
	struct status st;
	char *buf = malloc(64 * (CAP_APPSPEC_ENTRIES + 2) + 64);
	size_t used, i;

	(void)state;
	assert_non_null(d);
	assert_non_null(buf);
	used = (size_t)snprintf(buf, 64, "%s", HEAD);
	for (i = 0; i <= CAP_APPSPEC_ENTRIES; i++)
		used += (size_t)snprintf(buf + used, 64, "%s",
		    ENT("x", "5"));
	assert_int_equal(appspec_parse("/a/appspec.yml", buf, used,
	    "BeforeInstall", d, &st), ST_CONFIG);
	CHECK_HAS("entries", st.msg, "more than 32 scripts under "
	    "BeforeInstall");
	free(buf);
	free(d);
}

/* ------------------------------------------------------------------ */
/* appspec_lookup */

struct lookup_case {
	const char *name;
	const char *file;	/* archive-relative path of the appspec, or
				   NULL for none */
	const char *yaml;
	mode_t mode;
	int rc;
	const char *msg;	/* for ST_CONFIG */
	int found, matched;
	long timeout;
	unsigned long line;
};

#define PROG "cdgate/before-install"

static struct lookup_case lookup_cases[] = {
	{ "appspec.yml at the root", "appspec.yml", HEAD ENT(PROG, "60"),
	    0644, ST_OK, "", 1, 1, 60, 6 },
	{ "appspec.yaml at the root", "appspec.yaml", HEAD ENT(PROG, "61"),
	    0644, ST_OK, "", 1, 1, 61, 6 },
	{ "beside the program", "cdgate/appspec.yml",
	    HEAD ENT("before-install", "62"), 0644, ST_OK, "", 1, 1, 62, 6 },
	{ "no appspec", NULL, NULL, 0644, ST_OK, "", 0, 0, 0, 0 },
	{ "no entry for it", "appspec.yml", HEAD ENT("other", "60"), 0644,
	    ST_OK, "", 1, 0, 0, 0 },
	{ "listed under another event", "appspec.yml",
	    "hooks:\n  AfterInstall:\n" ENT(PROG, "5"), 0644, ST_OK, "", 1, 0,
	    0, 0 },
	{ "listed twice: the smaller", "appspec.yml",
	    HEAD ENT(PROG, "900") ENT(PROG, "45"), 0644, ST_OK, "", 1, 2, 45,
	    8 },
	{ "listed twice: the smaller first", "appspec.yml",
	    HEAD ENT(PROG, "45") ENT(PROG, "900"), 0644, ST_OK, "", 1, 2, 45,
	    6 },
	{ "leading slash, as the agent joins", "appspec.yml",
	    HEAD ENT("/" PROG, "40"), 0644, ST_OK, "", 1, 1, 40, 6 },
	{ "with .. coming back", "appspec.yml",
	    HEAD ENT("cdgate/../" PROG, "41"), 0644, ST_OK, "", 1, 1, 41, 6 },
	{ "with .. leaving the archive", "appspec.yml",
	    HEAD ENT("../../../../x/before-install", "1"), 0644, ST_OK, "", 1,
	    0, 0, 0 },
	{ "through a link to it", "appspec.yml", HEAD ENT("link", "42"), 0644,
	    ST_OK, "", 1, 1, 42, 6 },
	{ "a link elsewhere", "appspec.yml", HEAD ENT("elsewhere", "1"),
	    0644, ST_OK, "", 1, 0, 0, 0 },
	{ "no timeout: 3600", "appspec.yml", HEAD "    - location: " PROG
	    "\n", 0644, ST_OK, "", 1, 1, 3600, 5 },
	{ "its timeout bad", "appspec.yml", HEAD ENT(PROG, "soon"), 0644,
	    ST_CONFIG, "line 6: this program's entry under BeforeInstall: "
	    "timeout 'soon' is not a positive whole number of seconds", 1,
	    0, 0, 0 },
	{ "another's timeout bad", "appspec.yml",
	    HEAD ENT("other", "soon") ENT(PROG, "50"), 0644, ST_OK, "", 1, 1,
	    50, 8 },
	{ "group-writable", "appspec.yml", HEAD ENT(PROG, "60"), 0664,
	    ST_CONFIG, "is group-writable; chmod go-w", 1, 0, 0, 0 },
	{ "world-writable", "appspec.yml", HEAD ENT(PROG, "60"), 0646,
	    ST_CONFIG, "is world-writable", 1, 0, 0, 0 },
	{ "not valid YAML", "appspec.yml", "hooks:\n  BeforeInstall: [\n",
	    0644, ST_CONFIG, "line 3: not valid YAML", 1, 0, 0, 0 },
	{ "not UTF-8", "appspec.yml", "hooks:\n  x: caf\xe9\n", 0644,
	    ST_CONFIG, "is not valid UTF-8", 1, 0, 0, 0 },
};

/* DIR/g/d/deployment-archive with the program; returns the program. */
static void
make_tree(const char *dir, char *arc, size_t alen, char *prog, size_t plen)
{
	char p[PATH_MAX];

	tl_join(p, sizeof(p), dir, "g");
	assert_int_equal(mkdir(p, 0755), 0);
	tl_join(p, sizeof(p), dir, "g/d");
	assert_int_equal(mkdir(p, 0755), 0);
	tl_join(arc, alen, dir, "g/d/deployment-archive");
	assert_int_equal(mkdir(arc, 0755), 0);
	tl_join(p, sizeof(p), arc, "cdgate");
	assert_int_equal(mkdir(p, 0755), 0);
	tl_join(prog, plen, arc, PROG);
	tl_put_file(prog, "#!/bin/true\n", 12, 0755);
	tl_join(p, sizeof(p), arc, "link");
	assert_int_equal(symlink(prog, p), 0);
	tl_join(p, sizeof(p), arc, "other");
	tl_put_file(p, "x", 1, 0755);
	tl_join(p, sizeof(p), arc, "elsewhere");
	assert_int_equal(symlink("other", p), 0);
}

static void
test_lookup_row(void **state)
{
	struct tl_fx *x = *state;
	const struct lookup_case *c = NULL;
	struct appspec_result r;
	struct status st;
	char arc[PATH_MAX], prog[PATH_MAX], p[PATH_MAX];
	size_t i;

	for (i = 0; i < NELEM(lookup_cases); i++) {
		c = &lookup_cases[i];
		tl_rmtree(x->dir);
		assert_int_equal(mkdir(x->dir, 0700), 0);
		make_tree(x->dir, arc, sizeof(arc), prog, sizeof(prog));
		if (c->file != NULL) {
			tl_join(p, sizeof(p), arc, c->file);
			tl_put_file(p, c->yaml, strlen(c->yaml), c->mode);
		}
		status_clear(&st);
		CHECK_INT(c->name, appspec_lookup(prog, "BeforeInstall", &r,
		    &st), c->rc);
		CHECK_INT(c->name, r.found, c->found);
		if (c->file != NULL)
			CHECK_STR(c->name, r.path, p);
		if (c->rc != ST_OK) {
			CHECK_HAS(c->name, st.msg, "appspec '");
			CHECK_MSG(c->name, st.msg, c->msg);
			continue;
		}
		CHECK_INT(c->name, r.matched, c->matched);
		if (c->matched) {
			CHECK_INT(c->name, r.timeout, c->timeout);
			CHECK_INT(c->name, r.line, c->line);
		}
	}
}

/* The walk: the nearest appspec wins; it stops at deployment-archive and
 * after APPSPEC_MAX_UP directories. */
static void
test_lookup_walk(void **state)
{
	struct tl_fx *x = *state;
	struct appspec_result r;
	struct status st;
	char arc[PATH_MAX], prog[PATH_MAX], p[PATH_MAX], deep[PATH_MAX];
	int i;

	make_tree(x->dir, arc, sizeof(arc), prog, sizeof(prog));
	/* above the archive root: never read */
	tl_join(p, sizeof(p), x->dir, "g/d/appspec.yml");
	tl_put_text(p, HEAD ENT("deployment-archive/" PROG, "5"));
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_OK);
	CHECK_INT("above the root", r.found, 0);
	CHECK_STR("above the root", r.upto, arc);
	CHECK_INT("above the root", r.levels, 2);
	/* the nearest: beside the program before the root's */
	tl_join(p, sizeof(p), arc, "appspec.yml");
	tl_put_text(p, HEAD ENT(PROG, "100"));
	tl_join(p, sizeof(p), arc, "cdgate/appspec.yaml");
	tl_put_text(p, HEAD ENT("before-install", "7"));
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_OK);
	CHECK_STR("nearest", r.path, p);
	CHECK_INT("nearest", r.timeout, 7);
	/* appspec.yml before appspec.yaml in one directory */
	tl_join(p, sizeof(p), arc, "cdgate/appspec.yml");
	tl_put_text(p, HEAD ENT("before-install", "8"));
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_OK);
	CHECK_INT(".yml first", r.timeout, 8);
	/* a program APPSPEC_MAX_UP + 1 levels below the root: not found */
	tl_join(deep, sizeof(deep), arc, "a");
	for (i = 0; i <= APPSPEC_MAX_UP; i++) {
		assert_int_equal(mkdir(deep, 0755), 0);
		if (i < APPSPEC_MAX_UP)
			assert_true(strlen(deep) + 3 < sizeof(deep));
		if (i < APPSPEC_MAX_UP)
			memcpy(deep + strlen(deep), "/a", 3);
	}
	tl_join(p, sizeof(p), deep, "before-install");
	tl_put_file(p, "x", 1, 0755);
	assert_int_equal(appspec_lookup(p, "BeforeInstall", &r, &st), ST_OK);
	CHECK_INT("too deep", r.found, 0);
	/* ...and APPSPEC_MAX_UP levels: found */
	assert_int_equal(appspec_lookup(deep, "BeforeInstall", &r, &st),
	    ST_OK);
	CHECK_INT("deep enough", r.found, 1);
}

/* DIR/cdgate/ARCH/before-install, a regular file; its path into out. */
static void
arch_prog(const char *arc, const char *arch, char *out, size_t len)
{
	char d[PATH_MAX], sub[PATH_MAX];

	tl_join(sub, sizeof(sub), arc, "cdgate");
	tl_join(d, sizeof(d), sub, arch);
	assert_int_equal(mkdir(d, 0755), 0);
	tl_join(out, len, d, "before-install");
	tl_put_file(out, "x", 1, 0755);
}

/* A several-architecture revision: the program in cdgate/ARCH/, the entry
 * naming the dispatcher cdgate/PROG that execs it; only this machine's
 * ARCH counts. */
static void
test_lookup_dispatcher(void **state)
{
	struct tl_fx *x = *state;
	struct appspec_result r;
	struct status st;
	struct utsname u;
	char arc[PATH_MAX], prog[PATH_MAX], p[PATH_MAX];

	assert_int_equal(uname(&u), 0);
	make_tree(x->dir, arc, sizeof(arc), prog, sizeof(prog));
	tl_join(p, sizeof(p), arc, "appspec.yml");
	tl_put_text(p, HEAD ENT(PROG, "33"));
	arch_prog(arc, u.machine, p, sizeof(p));
	assert_int_equal(appspec_lookup(p, "BeforeInstall", &r, &st), ST_OK);
	CHECK_INT("dispatcher", r.matched, 1);
	CHECK_INT("dispatcher", r.timeout, 33);
	CHECK_INT("dispatcher", r.via_dispatcher, 1);
	/* another machine's directory: not this machine's dispatcher */
	arch_prog(arc, "not-this-arch", p, sizeof(p));
	assert_int_equal(appspec_lookup(p, "BeforeInstall", &r, &st), ST_OK);
	CHECK_INT("other arch", r.found, 1);
	CHECK_INT("other arch", r.matched, 0);
	/* the program itself listed: not through the dispatcher */
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_OK);
	CHECK_INT("itself", r.via_dispatcher, 0);
}

/* A link named appspec.yml, a directory, a FIFO: refused, never read
 * through or skipped. */
static void
test_lookup_not_a_file(void **state)
{
	struct tl_fx *x = *state;
	struct appspec_result r;
	struct status st;
	char arc[PATH_MAX], prog[PATH_MAX], p[PATH_MAX], real[PATH_MAX];

	make_tree(x->dir, arc, sizeof(arc), prog, sizeof(prog));
	tl_join(p, sizeof(p), arc, "appspec.yml");
	tl_join(real, sizeof(real), arc, "real.yml");
	tl_put_text(real, HEAD ENT(PROG, "60"));
	assert_int_equal(symlink(real, p), 0);
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_CONFIG);
	CHECK_HAS("link", st.msg, "is a symbolic link");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_CONFIG);
	CHECK_HAS("dir", st.msg, "is a directory");
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_CONFIG);
	CHECK_HAS("fifo", st.msg, "is a FIFO");
	assert_int_equal(unlink(p), 0);
	/* one byte over the cap */
	{
		char *big = malloc(CAP_APPSPEC_FILE + 1);

		assert_non_null(big);
		memset(big, '#', CAP_APPSPEC_FILE + 1);
		tl_put_file(p, big, CAP_APPSPEC_FILE + 1, 0644);
		free(big);
	}
	assert_int_equal(appspec_lookup(prog, "BeforeInstall", &r, &st),
	    ST_CONFIG);
	CHECK_HAS("big", st.msg, "is too large (131073 bytes, at most "
	    "131072)");
	/* a program that does not exist, a relative path */
	assert_int_equal(appspec_lookup("/nonexistent/x", "BeforeInstall",
	    &r, &st), ST_OK);
	CHECK_INT("gone", r.found, 0);
	CHECK_HAS("gone", r.why, "cannot be found");
	assert_int_equal(appspec_lookup("x", "BeforeInstall", &r, &st),
	    ST_OK);
	CHECK_HAS("relative", r.why, "not an absolute path");
}

/* The test program itself, through /proc/self/exe: in no archive. */
static void
test_find_self(void **state)
{
	struct appspec_result r;
	struct status st;

	(void)state;
	assert_int_equal(appspec_find("BeforeInstall", &r, &st), ST_OK);
	CHECK_INT("self", r.matched, 0);
}

/* The process's start: at most APPSPEC_SPAWN_MAX_MS back, not ahead. */
static void
test_spawned(void **state)
{
	int64_t now, t;

	(void)state;
	now = mono_ms();
	t = appspec_spawned_ms();
	assert_true(t <= mono_ms());
	assert_true(t >= now - APPSPEC_SPAWN_MAX_MS);
}

/* ------------------------------------------------------------------ */
/* appspec_deadline and appspec_describe */

struct deadline_case {
	const char *name;
	long configured;
	int matched;
	long timeout;
	int rc;
	long in_force;
	int from;
};

static const struct deadline_case deadline_cases[] = {
	{ "no entry: configured", 300, 0, 0, ST_OK, 300, 0 },
	{ "appspec 60 < 300", 300, 1, 60, ST_OK, 57, 1 },
	{ "appspec 5 < 300", 300, 1, 5, ST_OK, 2, 1 },
	{ "appspec 4: one second", 300, 1, 4, ST_OK, 1, 1 },
	{ "appspec 3: nothing left", 300, 1, 3, ST_CONFIG, 300, 0 },
	{ "appspec 1: nothing left", 300, 1, 1, ST_CONFIG, 300, 0 },
	{ "appspec 3600 > 300", 300, 1, 3600, ST_OK, 300, 0 },
	{ "appspec 303 = 300 + margin", 300, 1, 303, ST_OK, 300, 0 },
	{ "appspec 302", 300, 1, 302, ST_OK, 299, 1 },
};

static void
test_deadline_table(void **state)
{
	struct appspec_result r;
	struct status st;
	size_t i;
	long in_force;
	int from;

	(void)state;
	for (i = 0; i < NELEM(deadline_cases); i++) {
		const struct deadline_case *c = &deadline_cases[i];

		memset(&r, 0, sizeof(r));
		snprintf(r.path, sizeof(r.path), "/a/appspec.yml");
		r.found = 1;
		r.matched = c->matched;
		r.timeout = c->timeout;
		r.line = 9;
		status_clear(&st);
		CHECK_INT(c->name, appspec_deadline(c->configured, &r,
		    &in_force, &from, &st), c->rc);
		CHECK_INT(c->name, in_force, c->in_force);
		CHECK_INT(c->name, from, c->from);
		if (c->rc != ST_OK) {
			char want[128];

			snprintf(want, sizeof(want), "appspec '/a/appspec.yml' "
			    "line 9: timeout %lds leaves no time once cdgate "
			    "keeps 3s to report before it; make it at least 4s",
			    c->timeout);
			CHECK_HAS(c->name, st.msg, want);
			CHECK_HAS(c->name, st.msg, "(configured deadline "
			    "300s)");
		}
	}
}

static void
test_describe(void **state)
{
	struct appspec_result r;
	char buf[CAP_MSG];

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(r.from, sizeof(r.from), "/a/b");
	snprintf(r.upto, sizeof(r.upto), "/a");
	r.levels = 2;
	appspec_describe(&r, "BeforeInstall", 300, 300, buf, sizeof(buf));
	CHECK_STR("none", buf, "configured 300s; no appspec found (looked in "
	    "2 directories, from the program's up to '/a'); in force 300s");
	r.found = 1;
	snprintf(r.path, sizeof(r.path), "/a/appspec.yml");
	appspec_describe(&r, "BeforeInstall", 300, 300, buf, sizeof(buf));
	CHECK_STR("no entry", buf, "configured 300s; appspec '/a/appspec.yml' "
	    "has no entry for this program under BeforeInstall; in force "
	    "300s");
	r.matched = 1;
	r.timeout = 60;
	r.line = 12;
	appspec_describe(&r, "BeforeInstall", 300, 57, buf, sizeof(buf));
	CHECK_STR("in force", buf, "configured 300s; appspec '/a/appspec.yml' "
	    "line 12: timeout 60s; in force 57s (the appspec timeout less 3s "
	    "to report)");
	r.timeout = 3600;
	r.defaulted = 1;
	appspec_describe(&r, "BeforeInstall", 300, 300, buf, sizeof(buf));
	CHECK_STR("default", buf, "configured 300s; appspec '/a/appspec.yml' "
	    "line 12: timeout 3600s (none given: the agent's default); in "
	    "force 300s");
	memset(&r, 0, sizeof(r));
	snprintf(r.why, sizeof(r.why), "x");
	appspec_describe(&r, "BeforeInstall", 300, 300, buf, sizeof(buf));
	CHECK_STR("why", buf, "configured 300s; no appspec found (x); in force "
	    "300s");
}

#define T(f) TL_FX_TEST(f, &fx_spec)

int
main(void)
{
	struct CMUnitTest rows[NELEM(parse_cases)];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_too_many_events),
		cmocka_unit_test(test_parse_too_many_entries),
		T(test_lookup_row),
		T(test_lookup_walk),
		T(test_lookup_dispatcher),
		T(test_lookup_not_a_file),
		cmocka_unit_test(test_find_self),
		cmocka_unit_test(test_spawned),
		cmocka_unit_test(test_deadline_table),
		cmocka_unit_test(test_describe),
	};
	int fails;

	TL_ROW_TESTS(rows, parse_cases, test_parse_row);
	fails = cmocka_run_group_tests_name("appspec_parse", rows, NULL,
	    NULL);
	return fails + cmocka_run_group_tests_name("appspec", tests, NULL,
	    NULL);
}
