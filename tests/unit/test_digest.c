/*
 * test_digest.c: the provisioning digest.
 *
 * Trees are built in fresh temporary directories from small specs; the
 * expected digest is computed here, independently, from the byte format
 * documented in digest.h (ref_digest), and two fixed literals were checked
 * with Python's hashlib.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <openssl/evp.h>

#include "fmt/digest.h"
#include "testlib.h"

#define MAXNODES 16

/* One entry of a tree: 'd' directory, 'f' file (data), 'l' link (data). */
struct node {
	char type;
	const char *path;
	const char *data;
};

/* ------------------------------------------------------------------ */
/* helpers */

/* A fresh directory /tmp/cdgate-test-digest-XXXXXX (mode 0700). */
static void
mk_tmp(char *dir, size_t len)
{
	tl_tmpdir(dir, len, "digest", 0700);
}

/* Creates the nodes under base, in the order given. */
static void
mk_nodes(const char *base, const struct node *nodes)
{
	char p[CAP_PATH];
	const struct node *n;

	for (n = nodes; n->type != 0; n++) {
		tl_join(p, sizeof(p), base, n->path);
		switch (n->type) {
		case 'd':
			assert_int_equal(mkdir(p, 0755), 0);
			break;
		case 'f':
			tl_put_text(p, n->data);
			break;
		case 'l':
			assert_int_equal(symlink(n->data, p), 0);
			break;
		default:
			fail_msg("bad node type %c", n->type);
		}
	}
}

static int
digest_one(const char *path, char out[CAP_DIGEST], struct status *st)
{
	const char *paths[1];

	paths[0] = path;
	return digest_paths(paths, 1, out, st);
}

/* ------------------------------------------------------------------ */
/* an independent encoder of the documented format */

struct ref {
	EVP_MD_CTX *md;
};

static void
ref_bytes(struct ref *r, const void *p, size_t n)
{
	assert_int_equal(EVP_DigestUpdate(r->md, p, n), 1);
}

static void
ref_u64(struct ref *r, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (56 - 8 * i));
	ref_bytes(r, b, 8);
}

static void
ref_record(struct ref *r, char type, const char *path, const char *data)
{
	ref_bytes(r, &type, 1);
	ref_u64(r, strlen(path));
	ref_bytes(r, path, strlen(path));
	if (type != 'D') {
		ref_u64(r, strlen(data));
		ref_bytes(r, data, strlen(data));
	}
}

/* Pre-order: compares paths component by component; ancestors first. */
static int
ref_cmp(const void *pa, const void *pb)
{
	const char *a = ((const struct node *)pa)->path;
	const char *b = ((const struct node *)pb)->path;
	size_t la, lb;
	int c;

	for (;;) {
		la = strcspn(a, "/");
		lb = strcspn(b, "/");
		c = memcmp(a, b, la < lb ? la : lb);
		if (c == 0 && la != lb)
			c = la < lb ? -1 : 1;
		if (c != 0)
			return c;
		if (a[la] == '\0' && b[lb] == '\0')
			return 0;
		if (a[la] == '\0' || b[lb] == '\0')
			return a[la] == '\0' ? -1 : 1;	/* ancestor first */
		a += la + 1;
		b += lb + 1;
	}
}

static void
ref_hex(char out[CAP_DIGEST], const unsigned char *md, unsigned int n)
{
	unsigned int i;

	memcpy(out, "sha256:", 8);
	for (i = 0; i < n; i++)
		assert_int_equal(snprintf(out + 7 + 2 * i, 3, "%02x", md[i]),
		    2);
}

/* The digest of one directory root holding nodes. */
static void
ref_digest(const struct node *nodes, char out[CAP_DIGEST])
{
	struct node sorted[MAXNODES];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	struct ref r;
	size_t i, n;
	char type;

	for (n = 0; nodes[n].type != 0; n++) {
		assert_true(n < MAXNODES);
		sorted[n] = nodes[n];
	}
	qsort(sorted, n, sizeof(sorted[0]), ref_cmp);
	assert_non_null(r.md = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestInit_ex(r.md, EVP_sha256(), NULL), 1);
	ref_bytes(&r, "cdgate-digest-v1\n", 17);
	ref_bytes(&r, "R", 1);
	ref_record(&r, 'D', "", NULL);
	for (i = 0; i < n; i++) {
		type = sorted[i].type == 'd' ? 'D' : sorted[i].type == 'f' ?
		    'F' : 'L';
		ref_record(&r, type, sorted[i].path, sorted[i].data);
	}
	assert_int_equal(EVP_DigestFinal_ex(r.md, md, &mdlen), 1);
	EVP_MD_CTX_free(r.md);
	ref_hex(out, md, mdlen);
}

/* ------------------------------------------------------------------ */
/* fixed literals (checked with Python hashlib) */

static void
test_known_file(void **state)
{
	char dir[64], p[CAP_PATH], got[CAP_DIGEST];
	struct status st;

	(void)state;
	mk_tmp(dir, sizeof(dir));
	tl_join(p, sizeof(p), dir, "hello.txt");
	tl_put_text(p, "hello\n");
	assert_int_equal(digest_one(p, got, &st), ST_OK);
	tl_rmtree(dir);
	/* "cdgate-digest-v1\n" R F U64(9) hello.txt U64(6) "hello\n" */
	assert_string_equal(got, "sha256:"
	    "d86c58b1f9e25fd28cf6b0fb00c6401668f38452a580d4d486c4c203fdf36a07");
}

static void
test_known_tree(void **state)
{
	static const struct node nodes[] = {
		{ 'd', "sub", NULL }, { 'l', "sub/l", "../a" },
		{ 'f', "a", "x" }, { 0, NULL, NULL }
	};
	char dir[64], got[CAP_DIGEST], want[CAP_DIGEST];
	struct status st;

	(void)state;
	mk_tmp(dir, sizeof(dir));
	mk_nodes(dir, nodes);
	assert_int_equal(digest_one(dir, got, &st), ST_OK);
	tl_rmtree(dir);
	/* the example in digest.h */
	assert_string_equal(got, "sha256:"
	    "789f59fba2a54a5f278256460637fca640496baa2596b6a2acbdc3776625cad2");
	ref_digest(nodes, want);
	assert_string_equal(got, want);
}

/* ------------------------------------------------------------------ */
/* pairs of trees: same digest or not */

struct pair {
	const char *name;
	struct node a[MAXNODES];
	struct node b[MAXNODES];
	int equal;
};

#define END { 0, NULL, NULL }

static struct pair pairs[] = {
	{ "same tree, other location", {
		{ 'f', "a", "1" }, { 'd', "d", NULL }, { 'f', "d/b", "2" }, END
	}, {
		{ 'f', "a", "1" }, { 'd', "d", NULL }, { 'f', "d/b", "2" }, END
	}, 1 },
	{ "creation order does not matter", {
		{ 'f', "zeta", "1" }, { 'f', "alpha", "2" },
		{ 'f', "mid", "3" },
		{ 'd', "q", NULL }, { 'f', "q/z", "" }, { 'f', "q/a", "" },
		{ 'f', "b-c", "" }, { 'f', "b.c", "" }, { 'f', "B", "" }, END
	}, {
		{ 'f', "B", "" }, { 'f', "b.c", "" }, { 'f', "b-c", "" },
		{ 'd', "q", NULL }, { 'f', "q/a", "" }, { 'f', "q/z", "" },
		{ 'f', "mid", "3" }, { 'f', "alpha", "2" },
		{ 'f', "zeta", "1" },
		END
	}, 1 },
	{ "sibling names sort before deeper paths", {
		{ 'd', "a", NULL }, { 'f', "a/z", "" }, { 'f', "a-b", "" }, END
	}, {
		{ 'f', "a-b", "" }, { 'd', "a", NULL }, { 'f', "a/z", "" }, END
	}, 1 },
	{ "rename a file", {
		{ 'f', "a", "1" }, END
	}, {
		{ 'f', "b", "1" }, END
	}, 0 },
	{ "move a file into a directory", {
		{ 'd', "d", NULL }, { 'f', "a", "1" }, END
	}, {
		{ 'd', "d", NULL }, { 'f', "d/a", "1" }, END
	}, 0 },
	{ "change content", {
		{ 'f', "a", "1" }, END
	}, {
		{ 'f', "a", "2" }, END
	}, 0 },
	{ "move bytes between files", {
		{ 'f', "a", "12" }, { 'f', "b", "3" }, END
	}, {
		{ 'f', "a", "1" }, { 'f', "b", "23" }, END
	}, 0 },
	{ "add a file", {
		{ 'f', "a", "1" }, END
	}, {
		{ 'f', "a", "1" }, { 'f', "b", "" }, END
	}, 0 },
	{ "remove a file", {
		{ 'f', "a", "1" }, { 'd', "d", NULL }, { 'f', "d/x", "" }, END
	}, {
		{ 'f', "a", "1" }, { 'd', "d", NULL }, END
	}, 0 },
	{ "add an empty directory", {
		{ 'f', "a", "1" }, END
	}, {
		{ 'f', "a", "1" }, { 'd', "e", NULL }, END
	}, 0 },
	{ "a file and a link with the same text", {
		{ 'f', "a", "t" }, END
	}, {
		{ 'l', "a", "t" }, END
	}, 0 },
	{ "change a link target", {
		{ 'l', "a", "x" }, END
	}, {
		{ 'l', "a", "y" }, END
	}, 0 },
	{ "an empty file and an empty directory", {
		{ 'f', "a", "" }, END
	}, {
		{ 'd', "a", NULL }, END
	}, 0 },
};

static void
run_pair(void **state)
{
	const struct pair *c = *state;
	char da[64], db[64], ga[CAP_DIGEST], gb[CAP_DIGEST], want[CAP_DIGEST];
	struct status st;

	mk_tmp(da, sizeof(da));
	mk_tmp(db, sizeof(db));
	mk_nodes(da, c->a);
	mk_nodes(db, c->b);
	assert_int_equal(digest_one(da, ga, &st), ST_OK);
	assert_int_equal(digest_one(db, gb, &st), ST_OK);
	tl_rmtree(da);
	tl_rmtree(db);
	ref_digest(c->a, want);
	assert_string_equal(ga, want);
	ref_digest(c->b, want);
	assert_string_equal(gb, want);
	if (c->equal)
		assert_string_equal(ga, gb);
	else
		assert_string_not_equal(ga, gb);
}

/* ------------------------------------------------------------------ */
/* behaviour on the file system */

static void
test_mtime_ignored(void **state)
{
	static const struct node nodes[] = { { 'f', "a", "1" }, END };
	struct timespec ts[2] = { { 1000000, 0 }, { 1000000, 0 } };
	char dir[64], p[CAP_PATH], g1[CAP_DIGEST], g2[CAP_DIGEST];
	struct status st;

	(void)state;
	mk_tmp(dir, sizeof(dir));
	mk_nodes(dir, nodes);
	assert_int_equal(digest_one(dir, g1, &st), ST_OK);
	tl_join(p, sizeof(p), dir, "a");
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(digest_one(dir, g2, &st), ST_OK);
	tl_rmtree(dir);
	assert_string_equal(g1, g2);
}

/* A link to a file or a directory outside the tree is not followed. */
static void
test_symlink_not_followed(void **state)
{
	char dir[64], out[64], p[CAP_PATH], q[CAP_PATH];
	char g1[CAP_DIGEST], g2[CAP_DIGEST];
	struct status st;

	(void)state;
	mk_tmp(dir, sizeof(dir));
	mk_tmp(out, sizeof(out));
	tl_join(p, sizeof(p), out, "f");
	tl_put_text(p, "one");
	tl_join(q, sizeof(q), dir, "lf");
	assert_int_equal(symlink(p, q), 0);
	tl_join(q, sizeof(q), dir, "ld");
	assert_int_equal(symlink(out, q), 0);
	tl_join(q, sizeof(q), dir, "dangling");
	assert_int_equal(symlink("/nonexistent/x", q), 0);
	assert_int_equal(digest_one(dir, g1, &st), ST_OK);
	tl_put_text(p, "two, longer");
	tl_join(p, sizeof(p), out, "new");
	tl_put_text(p, "new");
	assert_int_equal(digest_one(dir, g2, &st), ST_OK);
	tl_rmtree(dir);
	tl_rmtree(out);
	assert_string_equal(g1, g2);
}

static void
test_multiple_roots(void **state)
{
	static const struct node nx[] = { { 'f', "x", "1" }, END };
	static const struct node nxy[] = {
		{ 'f', "x", "1" }, { 'f', "y", "2" }, END
	};
	char d1[64], d2[64], d3[64], y[CAP_PATH], yslash[CAP_PATH];
	char g1[CAP_DIGEST], g2[CAP_DIGEST], g3[CAP_DIGEST], g4[CAP_DIGEST];
	const char *paths[2];
	struct status st;

	(void)state;
	mk_tmp(d1, sizeof(d1));
	mk_tmp(d2, sizeof(d2));
	mk_tmp(d3, sizeof(d3));
	mk_nodes(d1, nx);
	mk_nodes(d3, nxy);
	tl_join(y, sizeof(y), d2, "y");
	tl_put_text(y, "2");
	paths[0] = d1;
	paths[1] = y;
	assert_int_equal(digest_paths(paths, 2, g1, &st), ST_OK);
	paths[0] = y;
	paths[1] = d1;
	assert_int_equal(digest_paths(paths, 2, g2, &st), ST_OK);
	assert_int_equal(digest_one(d3, g3, &st), ST_OK);
	tl_join(yslash, sizeof(yslash), d3, "");	/* "dir/" */
	assert_int_equal(digest_one(yslash, g4, &st), ST_OK);
	tl_rmtree(d1);
	tl_rmtree(d2);
	tl_rmtree(d3);
	assert_string_not_equal(g1, g2);	/* the order of PATHs counts */
	assert_string_not_equal(g1, g3);	/* roots are framed */
	assert_string_equal(g3, g4);		/* a trailing '/' does not */
}

static void
test_depth_cap(void **state)
{
	char dir[64], p[CAP_PATH], got[CAP_DIGEST];
	struct status st;
	size_t len;
	int i;

	(void)state;
	mk_tmp(dir, sizeof(dir));
	len = (size_t)snprintf(p, sizeof(p), "%s", dir);
	for (i = 0; i < CAP_DIGEST_DEPTH; i++) {
		len += (size_t)snprintf(p + len, sizeof(p) - len, "/d");
		assert_true(len < sizeof(p));
		assert_int_equal(mkdir(p, 0755), 0);
	}
	assert_int_equal(digest_one(dir, got, &st), ST_OK);
	len += (size_t)snprintf(p + len, sizeof(p) - len, "/d");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(digest_one(dir, got, &st), ST_USAGE);
	assert_string_equal(got, "");
	assert_non_null(strstr(st.msg, "levels deep"));
	tl_rmtree(dir);
}

/* ------------------------------------------------------------------ */
/* refusals: the message names the path */

enum mk { MK_NONE, MK_FIFO, MK_SOCKET, MK_LINK_ROOT, MK_DEVNULL };

struct refusal {
	const char *name;
	enum mk what;
	int in_tree;		/* made inside a directory given as root */
	int code;
	const char *says;
};

static struct refusal refusals[] = {
	{ "missing path", MK_NONE, 0, ST_USAGE, "does not exist" },
	{ "FIFO as root", MK_FIFO, 0, ST_USAGE, "is a FIFO" },
	{ "FIFO in tree", MK_FIFO, 1, ST_USAGE, "is a FIFO" },
	{ "socket in tree", MK_SOCKET, 1, ST_USAGE, "is a socket" },
	{ "device as root", MK_DEVNULL, 0, ST_USAGE, "is a character device" },
	{ "link as root", MK_LINK_ROOT, 0, ST_USAGE, "is a symbolic link" },
};

static void
mk_socket(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static void
run_refusal(void **state)
{
	const struct refusal *c = *state;
	char dir[64], p[CAP_PATH], want[CAP_MSG], got[CAP_DIGEST];
	const char *root;
	struct status st;

	mk_tmp(dir, sizeof(dir));
	tl_join(p, sizeof(p), dir, "thing");
	switch (c->what) {
	case MK_NONE:
		break;
	case MK_FIFO:
		assert_int_equal(mkfifo(p, 0644), 0);
		break;
	case MK_SOCKET:
		mk_socket(p);
		break;
	case MK_LINK_ROOT:
		assert_int_equal(symlink(dir, p), 0);
		break;
	case MK_DEVNULL:
		assert_true(snprintf(p, sizeof(p), "/dev/null") > 0);
		break;
	}
	root = c->in_tree ? dir : p;
	assert_int_equal(digest_one(root, got, &st), c->code);
	tl_rmtree(dir);
	assert_string_equal(got, "");
	assert_int_equal(st.code, c->code);
	assert_true(snprintf(want, sizeof(want), "digest path '%s' %s", p,
	    c->says) > 0);
	assert_non_null(strstr(st.msg, want));
}

static void
test_no_paths(void **state)
{
	char got[CAP_DIGEST];
	struct status st;

	(void)state;
	assert_int_equal(digest_paths(NULL, 0, got, &st), ST_USAGE);
	assert_string_equal(got, "");
}

/* ------------------------------------------------------------------ */
/* digest_parse */

struct parse_case {
	const char *name;
	const char *in;
	int code;
	const char *out;
};

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX63 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define HEX64U "0123456789ABCDEF0123456789ABCDEF" \
	"0123456789ABCDEF0123456789ABCDEF"

static struct parse_case parse_cases[] = {
	{ "lowercase", "sha256:" HEX64, ST_OK, "sha256:" HEX64 },
	{ "uppercase digits", "sha256:" HEX64U, ST_OK, "sha256:" HEX64 },
	{ "uppercase prefix", "SHA256:" HEX64, ST_OK, "sha256:" HEX64 },
	{ "no prefix", HEX64, ST_CONFIG, "" },
	{ "other algorithm", "sha512:" HEX64, ST_CONFIG, "" },
	{ "63 digits", "sha256:" HEX63, ST_CONFIG, "" },
	{ "65 digits", "sha256:" HEX64 "0", ST_CONFIG, "" },
	{ "not hex", "sha256:g123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef", ST_CONFIG, "" },
	{ "prefix only", "sha256:", ST_CONFIG, "" },
	{ "empty", "", ST_CONFIG, "" },
	{ "trailing blank", "sha256:" HEX64 " ", ST_CONFIG, "" },
	{ "leading blank", " sha256:" HEX64, ST_CONFIG, "" },
};

static void
run_parse(void **state)
{
	const struct parse_case *c = *state;
	char out[CAP_DIGEST];
	struct status st;

	memset(out, 'x', sizeof(out));
	assert_int_equal(digest_parse(c->in, out, &st), c->code);
	assert_string_equal(out, c->out);
	if (c->code != ST_OK)
		assert_non_null(strstr(st.msg, "is not \"sha256:\""));
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_known_file),
		cmocka_unit_test(test_known_tree),
		cmocka_unit_test(test_mtime_ignored),
		cmocka_unit_test(test_symlink_not_followed),
		cmocka_unit_test(test_multiple_roots),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_no_paths),
	};
	struct CMUnitTest tp[NELEM(pairs)], tr[NELEM(refusals)];
	struct CMUnitTest tc[NELEM(parse_cases)];
	int fails = 0;

	umask(022);
	TL_ROW_TESTS(tp, pairs, run_pair);
	TL_ROW_TESTS(tr, refusals, run_refusal);
	TL_ROW_TESTS(tc, parse_cases, run_parse);
	fails += cmocka_run_group_tests_name("digest", fixed, NULL, NULL);
	fails += cmocka_run_group_tests_name("digest pairs", tp, NULL, NULL);
	fails += cmocka_run_group_tests_name("digest refusals", tr, NULL, NULL);
	fails += cmocka_run_group_tests_name("digest_parse", tc, NULL, NULL);
	return fails == 0 ? 0 : 1;
}
