/*
 * testlib.h: what the cmocka unit tests (tests/unit/test_*.c) share:
 * assertions that name the table row, a temporary-directory fixture and
 * file writers.
 *
 * Each test_*.c is compiled alone into its own program, so everything here
 * is a macro or a static inline function (no object file; the Makefile
 * rebuilds every test when this file changes).  It includes
 * cmocka.h, the headers cmocka needs before it, and the C library headers
 * its helpers use (stdio, stdlib, string, unistd, fcntl, sys/stat, limits,
 * ftw), so a test includes only what it needs beyond those.
 *
 * Rules:
 * - a helper here MUST fail the running test (a cmocka assertion or
 *   fail_msg) rather than return an error, so a test never goes on from a
 *   half-made fixture;
 * - the CHECK_* macros MUST print only the row's name, the expression and
 *   the two values: tests pass the row's "what" so a failure in a table
 *   loop says which row;
 * - files and directories MUST be made only under /tmp/cdgate-test-*,
 *   never anywhere else (/etc in particular), and removed at the end.
 */
#ifndef CDGATE_TESTLIB_H
#define CDGATE_TESTLIB_H

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef NELEM
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* ------------------------------------------------------------------ */
/* assertions: `what` names the table row (a string) */

/* got == want, compared as long long */
#define CHECK_INT(what, got, want) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (g_ != w_)							\
		fail_msg("%s: %s is %lld, want %lld", (what), #got,	\
		    g_, w_);						\
} while (0)

/* the string got (NULL fails) equals want */
#define CHECK_STR(what, got, want) do {					\
	const char *g_ = (got), *w_ = (want);				\
	if (g_ == NULL || strcmp(g_, w_) != 0)				\
		fail_msg("%s: %s is \"%s\", want \"%s\"", (what),	\
		    #got, g_ ? g_ : "(null)", w_);			\
} while (0)

/* the string hay (NULL fails) holds needle */
#define CHECK_HAS(what, hay, needle) do {				\
	const char *h_ = (hay), *n_ = (needle);				\
	if (h_ == NULL || strstr(h_, n_) == NULL)			\
		fail_msg("%s: %s is \"%s\", which lacks \"%s\"",	\
		    (what), #hay, h_ ? h_ : "(null)", n_);		\
} while (0)

/* a message column of a table: "" wants msg empty, else msg holds want */
#define CHECK_MSG(what, msg, want) do {					\
	const char *m_ = (msg), *e_ = (want);				\
	if (m_ == NULL || (e_[0] == '\0' ? m_[0] != '\0' :		\
	    strstr(m_, e_) == NULL))					\
		fail_msg("%s: %s is \"%s\", want %s\"%s\"", (what),	\
		    #msg, m_ ? m_ : "(null)",				\
		    e_[0] == '\0' ? "" : "one holding ", e_);		\
} while (0)

/*
 * One test per row: fills tests[0 .. NELEM(rows)) so that test i is named
 * rows[i].name and runs fn with rows[i] as its state.  rows is an array
 * (not a pointer) of non-const structs with a `name` member.
 */
#define TL_ROW_TESTS(tests, rows, fn) do {				\
	size_t tl_i_;							\
									\
	for (tl_i_ = 0; tl_i_ < NELEM(rows); tl_i_++)			\
		(tests)[tl_i_] = (struct CMUnitTest){ (rows)[tl_i_].name, \
		    (fn), NULL, NULL, &(rows)[tl_i_] };			\
} while (0)

/* ------------------------------------------------------------------ */
/* paths and files */

/* out = a/b; fails the test if it does not fit */
static inline void
tl_join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	assert_true(n > 0 && (size_t)n < len);
}

/* Makes a fresh directory /tmp/cdgate-test-NAME-XXXXXX of the given mode
 * and leaves its path in dir. */
static inline void
tl_tmpdir(char *dir, size_t len, const char *name, mode_t mode)
{
	int n = snprintf(dir, len, "/tmp/cdgate-test-%s-XXXXXX", name);

	assert_true(n > 0 && (size_t)n < len);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, mode), 0);
}

static inline int
tl_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Removes dir and all below it; links are removed, never followed. */
static inline void
tl_rmtree(const char *dir)
{
	nftw(dir, tl_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Replaces path with a new regular file of len bytes and the given mode
 * (set after the write, whatever the umask). */
static inline void
tl_put_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* tl_put_file of a string, mode 0644 */
static inline void
tl_put_text(const char *path, const char *text)
{
	tl_put_file(path, text, strlen(text), 0644);
}

/* ------------------------------------------------------------------ */
/* the temporary-directory fixture */

/*
 * What a test file asks of the fixture, given as cmocka's prestate:
 *
 *	static struct tl_fx_spec fx_spec = { "marker", "provisioned", NULL };
 *	#define T(f) TL_FX_TEST(f, &fx_spec)
 *
 * Each test then starts with `struct tl_fx *x = *state;`.
 */
struct tl_fx_spec {
	const char *name;	/* the directory is /tmp/cdgate-test-NAME-* */
	const char *leaf;	/* path = dir/LEAF (not created) */
	const char *var;	/* an environment variable unset for the test
				   and restored after it, or NULL */
};

struct tl_fx {
	char dir[64];		/* fresh, mode 0700; removed at the end */
	char path[128];		/* dir/LEAF */
	char cwd[PATH_MAX];	/* the working directory at the start */
	const char *var;	/* spec's var */
	char *saved;		/* its value at the start, or NULL */
};

/* setup: *state is the struct tl_fx_spec on entry, the struct tl_fx on
 * return */
static inline int
tl_fx_setup(void **state)
{
	const struct tl_fx_spec *spec = *state;
	struct tl_fx *x = calloc(1, sizeof(*x));
	const char *v;

	assert_non_null(spec);
	assert_non_null(x);
	tl_tmpdir(x->dir, sizeof(x->dir), spec->name, 0700);
	tl_join(x->path, sizeof(x->path), x->dir, spec->leaf);
	assert_non_null(getcwd(x->cwd, sizeof(x->cwd)));
	x->var = spec->var;
	if (x->var != NULL) {
		if ((v = getenv(x->var)) != NULL)
			assert_non_null(x->saved = strdup(v));
		unsetenv(x->var);
	}
	*state = x;
	return 0;
}

/* teardown: back to the first working directory and variable, then the
 * directory is removed */
static inline int
tl_fx_teardown(void **state)
{
	struct tl_fx *x = *state;
	int rc = 0;

	if (x->var != NULL) {
		if (x->saved != NULL)
			setenv(x->var, x->saved, 1);
		else
			unsetenv(x->var);
	}
	if (chdir(x->cwd) != 0)
		rc = -1;
	tl_rmtree(x->dir);
	free(x->saved);
	free(x);
	return rc;
}

/* the cmocka test entry of f run in the fixture that spec describes */
#define TL_FX_TEST(f, spec)						\
	cmocka_unit_test_prestate_setup_teardown(f, tl_fx_setup,	\
	    tl_fx_teardown, (spec))

#endif
