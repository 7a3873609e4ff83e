/*
 * test_file.c: file_read's flags, caps and file_info, file_dir_trusted,
 * file_dirname.  (The refusals common to the marker and the config are
 * also run through test_marker.c and test_config.c.)
 *
 * Every test works in its own mkdtemp directory (mode 0700) under /tmp,
 * removed at the end.  The ownership cases need root (chown to 65534).
 */
#include "base/file.h"
#include "base/status.h"
#include "testlib.h"

static struct tl_fx_spec fx_spec = { "file", "f", NULL };

/* ------------------------------------------------------------------ */
/* file_read */

struct read_case {
	const char *what;
	const char *data;
	size_t len;
	mode_t mode;
	int owner_other;	/* chown 65534 */
	size_t cap;
	int flags;
	int rc;
	const char *msg;	/* follows "thing 'PATH' ", "" when ST_OK */
};

#define D(s) s, sizeof(s) - 1
#define BOTH (FILE_TRUSTED | FILE_TEXT)

static const struct read_case read_cases[] = {
	{ "text", D("abc\n"), 0644, 0, 64, BOTH, ST_OK, "" },
	{ "empty", D(""), 0644, 0, 64, BOTH, ST_OK, "" },
	{ "exactly cap", D("0123456789"), 0644, 0, 10, BOTH, ST_OK, "" },
	{ "one over cap", D("0123456789!"), 0644, 0, 10, BOTH, ST_FAIL,
	    "is too large (11 bytes, at most 10)" },
	{ "NUL, FILE_TEXT", D("a\0b"), 0644, 0, 64, BOTH, ST_FAIL,
	    "holds NUL bytes" },
	{ "NUL, no FILE_TEXT", D("a\0b"), 0644, 0, 64, FILE_TRUSTED, ST_OK,
	    "" },
	{ "bad UTF-8, FILE_TEXT", D("caf\xe9"), 0644, 0, 64, BOTH, ST_FAIL,
	    "is not valid UTF-8 text" },
	{ "surrogate, FILE_TEXT", D("\xed\xa0\x80"), 0644, 0, 64, BOTH,
	    ST_FAIL, "is not valid UTF-8 text" },
	{ "bad UTF-8, no FILE_TEXT", D("caf\xe9"), 0644, 0, 64, FILE_TRUSTED,
	    ST_OK, "" },
	{ "group-writable, FILE_TRUSTED", D("x"), 0664, 0, 64, BOTH, ST_FAIL,
	    "is group-writable; chmod go-w" },
	{ "world-writable, FILE_TRUSTED", D("x"), 0606, 0, 64, BOTH, ST_FAIL,
	    "is world-writable; chmod go-w" },
	{ "group- and world-writable", D("x"), 0666, 0, 64, BOTH, ST_FAIL,
	    "is world-writable" },
	{ "world-writable, not FILE_TRUSTED", D("x"), 0666, 0, 64, FILE_TEXT,
	    ST_OK, "" },
	{ "other owner, FILE_TRUSTED", D("x"), 0644, 1, 64, BOTH, ST_FAIL,
	    "is owned by uid 65534, not root or the running user; chown root" },
	{ "other owner, not FILE_TRUSTED", D("x"), 0644, 1, 64, FILE_TEXT,
	    ST_OK, "" },
	{ "too large wins over the content", D("\0\0\0\0"), 0644, 0, 2, BOTH,
	    ST_FAIL, "is too large" },
	{ "mode 0400 is fine", D("x"), 0400, 0, 64, BOTH, ST_OK, "" },
};

static void
test_read_table(void **state)
{
	struct tl_fx *x = *state;
	struct file_info info;
	struct status st;
	char want[256], *buf;
	size_t i, len;
	int absent;

	assert_int_equal(geteuid(), 0);	/* chown to 65534 needs root */
	for (i = 0; i < NELEM(read_cases); i++) {
		const struct read_case *c = &read_cases[i];

		tl_put_file(x->path, c->data, c->len, c->mode);
		if (c->owner_other)
			assert_int_equal(chown(x->path, 65534, 65534), 0);
		memset(&info, 0, sizeof(info));
		buf = (char *)1;
		absent = 7;
		CHECK_INT(c->what, file_read(x->path, "thing", c->cap,
		    c->flags, &buf, &len, &info, &absent, &st), c->rc);
		CHECK_INT(c->what, absent, 0);
		if (c->rc == ST_OK) {
			if (buf == NULL)
				fail_msg("%s: no buffer", c->what);
			CHECK_INT(c->what, len, c->len);
			CHECK_INT(c->what, memcmp(buf, c->data, len), 0);
			CHECK_INT(c->what, buf[len], '\0');
			CHECK_INT(c->what, info.size, c->len);
			CHECK_INT(c->what, info.mode & 07777, c->mode);
			CHECK_INT(c->what, info.uid, c->owner_other ? 65534 : 0);
			CHECK_INT(c->what, info.mtime != 0, 1);
			free(buf);
		} else {
			CHECK_INT(c->what, buf == NULL, 1);
			CHECK_INT(c->what, len, 0);
			snprintf(want, sizeof(want), "thing '%s' %s", x->path,
			    c->msg);
			CHECK_HAS(c->what, st.msg, want);
		}
	}
}

static void
test_read_absent(void **state)
{
	struct tl_fx *x = *state;
	struct status st;
	char *buf = (char *)1, want[256];
	size_t len = 9;
	int absent = 0;

	assert_int_equal(file_read(x->path, "thing", 64, BOTH, &buf, &len,
	    NULL, &absent, &st), ST_FAIL);
	assert_int_equal(absent, 1);
	assert_null(buf);
	assert_int_equal(len, 0);
	snprintf(want, sizeof(want), "thing '%s' does not exist", x->path);
	assert_non_null(strstr(st.msg, want));
}

/* a missing directory on the way is "absent" too; a file on the way is
 * not (ENOTDIR) */
static void
test_read_absent_dir_and_file_on_the_way(void **state)
{
	struct tl_fx *x = *state;
	struct status st;
	char path[192], *buf;
	size_t len;
	int absent = 0;

	snprintf(path, sizeof(path), "%s/nodir/f", x->dir);
	assert_int_equal(file_read(path, "thing", 64, BOTH, &buf, &len, NULL,
	    &absent, &st), ST_FAIL);
	assert_int_equal(absent, 1);
	tl_put_file(x->path, "x", 1, 0644);
	snprintf(path, sizeof(path), "%s/f/g", x->dir);
	absent = 7;
	assert_int_equal(file_read(path, "thing", 64, BOTH, &buf, &len, NULL,
	    &absent, &st), ST_FAIL);
	assert_int_equal(absent, 0);
	assert_non_null(strstr(st.msg, "cannot open thing"));
}

static void
test_read_special_files(void **state)
{
	struct tl_fx *x = *state;
	struct status st;
	char link[160], *buf;
	size_t len;
	int absent;

	assert_int_equal(mkfifo(x->path, 0644), 0);
	assert_int_equal(file_read(x->path, "thing", 64, 0, &buf, &len, NULL,
	    &absent, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "is a FIFO"));
	assert_int_equal(unlink(x->path), 0);
	assert_int_equal(mkdir(x->path, 0755), 0);
	assert_int_equal(file_read(x->path, "thing", 64, 0, &buf, &len, NULL,
	    &absent, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "is a directory"));
	assert_int_equal(file_read("/dev/null", "thing", 64, 0, &buf, &len,
	    NULL, &absent, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "'/dev/null' is a device"));
	snprintf(link, sizeof(link), "%s/l", x->dir);
	assert_int_equal(symlink("/etc/hostname", link), 0);
	assert_int_equal(file_read(link, "thing", 64, 0, &buf, &len, NULL,
	    &absent, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "is a symbolic link; links are "
	    "refused"));
	assert_int_equal(absent, 0);
}

/* /proc files report size 0: the cap is enforced on the bytes read */
static void
test_read_proc_file_past_cap(void **state)
{
	struct status st;
	char *buf;
	size_t len;
	int absent;

	(void)state;
	assert_int_equal(file_read("/proc/self/status", "thing", 16, 0, &buf,
	    &len, NULL, &absent, &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "grew past 16 bytes while read"));
	assert_null(buf);
	assert_int_equal(file_read("/proc/self/status", "thing", 65536,
	    FILE_TEXT, &buf, &len, NULL, &absent, &st), ST_OK);
	assert_true(len > 16);
	assert_non_null(strstr(buf, "Name:"));
	free(buf);
}

/* ------------------------------------------------------------------ */
/* file_dir_trusted */

static void
test_dir_trusted(void **state)
{
	struct tl_fx *x = *state;
	struct status st;
	char want[256];

	assert_int_equal(file_dir_trusted(x->dir, "thing", &st), ST_OK);
	assert_int_equal(chmod(x->dir, 0755), 0);
	assert_int_equal(file_dir_trusted(x->dir, "thing", &st), ST_OK);
	assert_int_equal(chmod(x->dir, 0775), 0);
	assert_int_equal(file_dir_trusted(x->dir, "thing", &st), ST_FAIL);
	snprintf(want, sizeof(want), "thing directory '%s' is writable by "
	    "its group; chmod go-w '%s'", x->dir, x->dir);
	assert_non_null(strstr(st.msg, want));
	assert_int_equal(chmod(x->dir, 01777), 0);
	assert_int_equal(file_dir_trusted(x->dir, "thing", &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "is writable by everyone"));
	assert_int_equal(chmod(x->dir, 0700), 0);
	assert_int_equal(chown(x->dir, 65534, 65534), 0);
	assert_int_equal(file_dir_trusted(x->dir, "thing", &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "is owned by uid 65534"));
	assert_int_equal(chown(x->dir, 0, 0), 0);
	tl_put_file(x->path, "x", 1, 0644);
	assert_int_equal(file_dir_trusted(x->path, "thing", &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "is not a directory"));
	assert_int_equal(unlink(x->path), 0);
	assert_int_equal(file_dir_trusted(x->path, "thing", &st), ST_FAIL);
	assert_non_null(strstr(st.msg, "cannot stat thing directory"));
}

/* ------------------------------------------------------------------ */
/* file_dirname */

struct dirname_case {
	const char *path;
	size_t len;
	const char *want;
};

static const struct dirname_case dirname_cases[] = {
	{ "/var/lib/cdgate/provisioned", 64, "/var/lib/cdgate" },
	{ "/provisioned", 64, "/" },
	{ "/", 64, "/" },
	{ "provisioned", 64, "." },
	{ "", 64, "." },
	{ "a/b", 64, "a" },
	{ "./b", 64, "." },
	{ "/a/b/", 64, "/a/b" },
	{ "/a/b", 2, "/" },
};

static void
test_dirname_table(void **state)
{
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(dirname_cases); i++) {
		memset(out, 'Z', sizeof(out));
		file_dirname(dirname_cases[i].path, out, dirname_cases[i].len);
		CHECK_STR(dirname_cases[i].path, out, dirname_cases[i].want);
	}
}

#define T(f) TL_FX_TEST(f, &fx_spec)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_table),
		T(test_read_absent),
		T(test_read_absent_dir_and_file_on_the_way),
		T(test_read_special_files),
		T(test_read_proc_file_past_cap),
		T(test_dir_trusted),
		T(test_dirname_table),
	};

	return cmocka_run_group_tests_name("file", tests, NULL, NULL);
}
