/*
 * test_cloudinit.c: result.json and status.json, from fixtures written to
 * a fresh temporary directory for each case.
 *
 * In expected messages '@' stands for the fixture's path.
 */
#include "fmt/cloudinit.h"
#include "testlib.h"

enum kind {
	K_NONE,		/* status: no path given */
	K_FILE,		/* json, mode (0 = 0644) */
	K_MISSING,	/* a path that does not exist */
	K_SYMLINK,	/* a link to a good file */
	K_DIR,
	K_FIFO,
	K_BIG,		/* CAP_JSON_FILE + 1 bytes */
	K_OWNER		/* json, owned by another user */
};

struct fixture {
	enum kind kind;
	const char *json;
	size_t len;	/* 0: strlen(json) */
	mode_t mode;
};

struct ci_case {
	const char *name;
	struct fixture result, status;
	int code;
	const char *msg;		/* expected in st.msg, "" = empty */
	size_t nerrors;
	const char *first_error;	/* expected in first_error */
	int pending;
	int status_read;
	size_t nrecoverable;
	const char *first_recoverable;	/* expected at its start */
	const char *status_problem;	/* expected in it, "" = empty */
};

#define OK_JSON "{\"v1\": {\"datasource\": \"DataSourceEc2Local\", " \
	"\"errors\": []}}"
#define F(json)        { K_FILE, json, 0, 0 }
#define FM(json, mode) { K_FILE, json, 0, mode }
#define FL(json, len)  { K_FILE, json, len, 0 }
#define K(kind)        { kind, NULL, 0, 0 }
#define NOSTATUS       { K_NONE, NULL, 0, 0 }

#define STATUS_23_4 "{\"v1\": {\"datasource\": \"DataSourceEc2Local\", " \
	"\"init-local\": {\"errors\": [], \"recoverable_errors\": {}, " \
	"\"start\": 1.5, \"finished\": 2.5}, " \
	"\"init\": {\"errors\": [], \"recoverable_errors\": {" \
	"\"WARNING\": [\"Failed to set locale\", \"second\"]}, " \
	"\"start\": 3.0, \"finished\": 4.0}, " \
	"\"modules-config\": {\"errors\": [], \"recoverable_errors\": {}}, " \
	"\"modules-final\": {\"errors\": [], \"recoverable_errors\": {" \
	"\"DEPRECATED\": [\"Key 'x' is deprecated\"]}}, " \
	"\"stage\": null}}"
#define STATUS_OLD "{\"v1\": {\"datasource\": \"x\", " \
	"\"init\": {\"errors\": [], \"start\": 1.0, \"finished\": 2.0}, " \
	"\"modules-final\": {\"errors\": [], \"start\": 3.0, " \
	"\"finished\": 4.0}, \"stage\": null}}"

static char long_error[1200];	/* filled in main */
static char long_json[1400];

static struct ci_case cases[] = {
	{ "ok", F(OK_JSON), NOSTATUS, ST_OK, "", 0, "", 0, 0, 0, "", "" },
	{ "ok with blanks and extra keys", F(" \n{\"v1\": {\"errors\": [], "
	    "\"other\": {\"a\": [1, 2]}}, \"v2\": 1}\n\n"), NOSTATUS, ST_OK,
	    "", 0, "", 0, 0, 0, "", "" },
	{ "two errors", F("{\"v1\": {\"datasource\": null, \"errors\": ["
	    "\"('scripts_user', RuntimeError('Runparts: 1 failures'))\", "
	    "\"second\"]}}"), NOSTATUS, ST_FAIL,
	    "cloud-init finished with 2 errors: ('scripts_user', "
	    "RuntimeError('Runparts: 1 failures'))", 2,
	    "('scripts_user', RuntimeError('Runparts: 1 failures'))",
	    0, 0, 0, "", "" },
	{ "one error", F("{\"v1\": {\"errors\": [\"boom\"]}}"), NOSTATUS,
	    ST_FAIL, "cloud-init finished with 1 error: boom", 1, "boom",
	    0, 0, 0, "", "" },
	{ "error text is cleaned", F("{\"v1\": {\"errors\": "
	    "[\"a\\u0007b\\nc\\u009bd \\u65e5\\u672c\"]}}"), NOSTATUS,
	    ST_FAIL, "1 error: a?b c?d \xe6\x97\xa5\xe6\x9c\xac", 1,
	    "a?b c?d \xe6\x97\xa5\xe6\x9c\xac", 0, 0, 0, "", "" },
	{ "long error is cut", F(long_json), NOSTATUS, ST_FAIL,
	    "1 error: xxxxxxxx", 1, "xxx...", 0, 0, 0, "", "" },
	{ "error that is not a string", F("{\"v1\": {\"errors\": "
	    "[{\"x\": 1}]}}"), NOSTATUS, ST_FAIL,
	    "1 error: {\"x\":1}", 1, "{\"x\":1}", 0, 0, 0, "", "" },
	{ "not JSON", F("errors: []\n"), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is not valid JSON", 0, "", 0, 0, 0, "",
	    "" },
	{ "truncated", F("{\"v1\": {\"errors\": ["), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is truncated", 0, "", 0, 0, 0, "", "" },
	{ "truncated in a string", F("{\"v1\": {\"errors\": [\"boo"),
	    NOSTATUS, ST_FAIL, "cloud-init result '@' is truncated", 0, "",
	    0, 0, 0, "", "" },
	{ "empty", F(""), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is empty", 0, "", 0, 0, 0, "", "" },
	{ "data after the value", F("{\"v1\": {\"errors\": []}} {}"),
	    NOSTATUS, ST_FAIL, "cloud-init result '@' is not valid JSON", 0,
	    "", 0, 0, 0, "", "" },
	{ "trailing comma (strict)", F("{\"v1\": {\"errors\": [],}}"),
	    NOSTATUS, ST_FAIL, "is not valid JSON", 0, "", 0, 0, 0, "", "" },
	{ "invalid UTF-8", F("{\"v1\": {\"errors\": [\"\xff\"]}}"),
	    NOSTATUS, ST_FAIL, "is not valid JSON", 0, "", 0, 0, 0, "", "" },
	{ "NUL byte", FL("{\"v1\": {\"errors\": []}}\0", 23), NOSTATUS,
	    ST_FAIL, "cloud-init result '@' holds a NUL byte", 0, "", 0, 0,
	    0, "", "" },
	{ "too deep", F("{\"v1\": {\"errors\": [[[[[[[[[[[[[[[[[[[[[[[[[["
	    "[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}"),
	    NOSTATUS, ST_FAIL, "is not valid JSON", 0, "", 0, 0, 0, "", "" },
	{ "array at the top", F("[]"), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is not a JSON object", 0, "", 0, 0, 0, "",
	    "" },
	{ "no v1", F("{\"v2\": {\"errors\": []}}"), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' has no \"v1\"", 0, "", 0, 0, 0, "", "" },
	{ "v1 not an object", F("{\"v1\": [\"errors\"]}"), NOSTATUS,
	    ST_FAIL, "has a \"v1\" that is not an object", 0, "", 0, 0, 0,
	    "", "" },
	{ "v1 null", F("{\"v1\": null}"), NOSTATUS, ST_FAIL,
	    "has a \"v1\" that is not an object", 0, "", 0, 0, 0, "", "" },
	{ "no errors key", F("{\"v1\": {\"datasource\": \"x\"}}"), NOSTATUS,
	    ST_FAIL, "cloud-init result '@' has no \"v1\".\"errors\"", 0, "",
	    0, 0, 0, "", "" },
	{ "errors a string", F("{\"v1\": {\"errors\": \"none\"}}"),
	    NOSTATUS, ST_FAIL, "\"v1\".\"errors\" that is not an array", 0,
	    "", 0, 0, 0, "", "" },
	{ "errors null", F("{\"v1\": {\"errors\": null}}"), NOSTATUS,
	    ST_FAIL, "\"v1\".\"errors\" that is not an array", 0, "", 0, 0, 0,
	    "", "" },
	{ "errors an object", F("{\"v1\": {\"errors\": {}}}"), NOSTATUS,
	    ST_FAIL, "\"v1\".\"errors\" that is not an array", 0, "", 0, 0, 0,
	    "", "" },
	{ "missing", K(K_MISSING), NOSTATUS, ST_TIMEOUT,
	    "cloud-init has not finished: '@' does not exist yet", 0, "", 1,
	    0, 0, "", "" },
	{ "symlink refused", K(K_SYMLINK), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is a symbolic link", 0, "", 0, 0, 0, "",
	    "" },
	{ "directory refused", K(K_DIR), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is not a regular file", 0, "", 0, 0, 0, "",
	    "" },
	{ "FIFO refused without blocking", K(K_FIFO), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is not a regular file", 0, "", 0, 0, 0, "",
	    "" },
	{ "oversized", K(K_BIG), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is larger than 1048576 bytes", 0, "", 0, 0,
	    0, "", "" },
	{ "world-writable", FM(OK_JSON, 0666), NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is writable by group or others", 0, "", 0,
	    0, 0, "", "" },
	{ "group-writable", FM(OK_JSON, 0620), NOSTATUS, ST_FAIL,
	    "is writable by group or others", 0, "", 0, 0, 0, "", "" },
	{ "other owner", { K_OWNER, OK_JSON, 0, 0 }, NOSTATUS, ST_FAIL,
	    "cloud-init result '@' is owned by uid 4242, not by root", 0, "",
	    0, 0, 0, "", "" },
	{ "recoverable errors reported, not failed", F(OK_JSON),
	    F(STATUS_23_4), ST_OK, "", 0, "", 0, 1, 3,
	    "init: WARNING: Failed to set locale", "" },
	{ "recoverable errors with errors", F("{\"v1\": {\"errors\": "
	    "[\"boom\"]}}"), F(STATUS_23_4), ST_FAIL,
	    "1 error: boom", 1, "boom", 0, 1, 3, "init: WARNING: ", "" },
	{ "status before cloud-init 23.4", F(OK_JSON), F(STATUS_OLD), ST_OK,
	    "", 0, "", 0, 1, 0, "", "" },
	{ "status missing", F(OK_JSON), K(K_MISSING), ST_OK, "", 0, "", 0,
	    0, 0, "", "cloud-init status '@' does not exist" },
	{ "status malformed", F(OK_JSON), F("{\"v1\": "), ST_OK, "", 0, "",
	    0, 0, 0, "", "cloud-init status '@' is truncated" },
	{ "status symlink", F(OK_JSON), K(K_SYMLINK), ST_OK, "", 0, "", 0,
	    0, 0, "", "cloud-init status '@' is a symbolic link" },
	{ "status recoverable_errors not an object", F(OK_JSON),
	    F("{\"v1\": {\"init\": {\"errors\": [], \"recoverable_errors\": "
	    "[\"x\"]}}}"), ST_OK, "", 0, "", 0, 0, 0, "",
	    "\"v1\".\"init\".\"recoverable_errors\" that is not an object" },
	{ "status level not an array", F(OK_JSON),
	    F("{\"v1\": {\"init\": {\"recoverable_errors\": {\"WARNING\": "
	    "\"x\"}}}}"), ST_OK, "", 0, "", 0, 0, 0, "",
	    "\"recoverable_errors\".\"WARNING\" that is not an array" },
	{ "result missing, status present", K(K_MISSING), F(STATUS_23_4),
	    ST_TIMEOUT, "does not exist yet", 0, "", 1, 1, 3, "init: ", "" },
};

/* Replaces each '@' in pat with path. */
static void
expand(char *out, size_t len, const char *pat, const char *path)
{
	size_t o = 0, n;

	for (; *pat != '\0'; pat++) {
		n = *pat == '@' ? strlen(path) : 1;
		assert_true(o + n < len);
		memcpy(out + o, *pat == '@' ? path : pat, n);
		o += n;
	}
	out[o] = '\0';
}

/* hay holds pat with '@' replaced by path; an empty pat wants hay empty */
static void
assert_contains(const char *what, const char *hay, const char *pat,
    const char *path)
{
	char want[CAP_MSG * 2];

	expand(want, sizeof(want), pat, path);
	CHECK_MSG(what, hay, want);
}

/* Makes the fixture f at dir/name; writes its path into path. */
static void
make(const char *dir, const char *name, const struct fixture *f, char *path,
    size_t len)
{
	char target[CAP_PATH];
	int fd;

	tl_join(path, len, dir, name);
	switch (f->kind) {
	case K_NONE:
	case K_MISSING:
		break;
	case K_FILE:
	case K_OWNER:
		tl_put_file(path, f->json, f->len ? f->len : strlen(f->json),
		    f->mode ? f->mode : 0644);
		if (f->kind == K_OWNER)
			assert_int_equal(chown(path, 4242, 4242), 0);
		break;
	case K_SYMLINK:
		assert_true(snprintf(target, sizeof(target), "%s/%s.real", dir,
		    name) > 0);
		tl_put_file(target, OK_JSON, strlen(OK_JSON), 0644);
		assert_int_equal(symlink(target, path), 0);
		break;
	case K_DIR:
		assert_int_equal(mkdir(path, 0755), 0);
		break;
	case K_FIFO:
		assert_int_equal(mkfifo(path, 0644), 0);
		break;
	case K_BIG:
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, CAP_JSON_FILE + 1), 0);
		assert_int_equal(close(fd), 0);
		break;
	}
}

static void
run_case(void **state)
{
	const struct ci_case *c = *state;
	char dir[64], rpath[CAP_PATH], spath[CAP_PATH];
	struct cloudinit_report rep;
	struct status st;
	int rc;

	tl_tmpdir(dir, sizeof(dir), "ci", 0700);
	make(dir, "result.json", &c->result, rpath, sizeof(rpath));
	make(dir, "status.json", &c->status, spath, sizeof(spath));
	memset(&rep, 0x55, sizeof(rep));
	rc = cloudinit_check(rpath, c->status.kind == K_NONE ? NULL : spath,
	    &rep, &st);
	tl_rmtree(dir);
	assert_int_equal(rc, c->code);
	assert_int_equal(st.code, c->code);
	assert_contains(c->name, st.msg, c->msg, rpath);
	assert_int_equal(rep.pending, c->pending);
	assert_int_equal(rep.nerrors, c->nerrors);
	assert_contains(c->name, rep.first_error, c->first_error, rpath);
	assert_true(strlen(rep.first_error) < CLOUDINIT_CAP_TEXT);
	assert_int_equal(rep.status_read, c->status_read);
	assert_int_equal(rep.nrecoverable, c->nrecoverable);
	assert_int_equal(strncmp(rep.first_recoverable, c->first_recoverable,
	    strlen(c->first_recoverable)), 0);
	if (c->first_recoverable[0] == '\0')
		assert_string_equal(rep.first_recoverable, "");
	assert_contains(c->name, rep.status_problem, c->status_problem,
	    spath);
	if (c->code == ST_OK && c->result.json != NULL &&
	    strstr(c->result.json, "DataSourceEc2Local") != NULL)
		assert_string_equal(rep.datasource, "DataSourceEc2Local");
}

int
main(void)
{
	struct CMUnitTest tests[NELEM(cases)];
	int n;

	memset(long_error, 'x', sizeof(long_error) - 1);
	n = snprintf(long_json, sizeof(long_json),
	    "{\"v1\": {\"errors\": [\"%s\"]}}", long_error);
	if (n < 0 || (size_t)n >= sizeof(long_json))
		return 1;
	umask(022);
	TL_ROW_TESTS(tests, cases, run_case);
	return cmocka_run_group_tests_name("cloudinit", tests, NULL, NULL);
}
