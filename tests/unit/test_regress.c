/*
 * test_regress.c: one test per finding of the fuzz targets (tests/fuzz/,
 * docs/dev/fuzzing.md), each named after the rule it broke; the input that
 * found it stays in tests/fuzz/corpus/NAME/crash-*.  Also the hardening
 * rules that are easiest to hold in a unit test: no deadline on the wall
 * clock, no request past a deadline.
 *
 * This binary replaces libcdgate's http.o with a counting fake
 * (tests/fuzz/fake_http.h and the http_do below: defining every http_*
 * function keeps the archive's member out), so no test here
 * touches the network.  It plays a tiny instance metadata service when
 * fake_imds is set (the endpoint test), and no server otherwise.
 */
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

#include "aws/creds.h"
#include "aws/ec2.h"
#include "aws/http.h"
#include "aws/imds.h"
#include "fmt/markerfile.h"
#include "base/mono.h"
#include "base/text.h"
#include "base/utc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- the fake transport: fake_http.h and this http_do --- */

#include "../fuzz/fake_http.h"

static unsigned long requests;
static int fake_imds;

/* The fake instance metadata: item (after /latest/) and its body. */
static const struct {
	const char *item, *body;
} imds_items[] = {
	{ "api/token", "FAKE-TOKEN" },
	{ "meta-data/placement/region", "eu-west-3" },
	{ "meta-data/services/domain", "example.test" },
};

int
http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
    struct status *st)
{
	const char *item = fake_imds ? strstr(req->url, "/latest/") : NULL;
	const char *body = "";
	size_t i;

	memset(resp, 0, sizeof(*resp));
	h->count++;
	requests++;
	if (item == NULL)
		return status_set(st, ST_UNAVAIL, "Failed to connect");
	item += strlen("/latest/");
	resp->status = 404;
	for (i = 0; i < NELEM(imds_items); i++)
		if (strcmp(item, imds_items[i].item) == 0) {
			body = imds_items[i].body;
			resp->status = 200;
		}
	if ((resp->body = strdup(body)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	resp->len = strlen(body);
	return ST_OK;
}

/* --- fuzz_marker: a tag key holding a newline broke the marker --- */

static void
test_marker_key_with_control_reads_back(void **state)
{
	static const char *const keys[] = { "aws\nautoscaling", "a\rb",
	    "tab\there", "del\x7f", "ok:key=[x]; #y" };
	char dir[] = "/tmp/cdgate-regress-XXXXXX", path[64];
	static char text[CAP_MARKER_FILE];
	static struct markerfile m, back;
	struct status st;
	size_t i;
	int absent;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/provisioned", dir);
	memset(&m, 0, sizeof(m));
	m.ok = 1;
	text_copy(m.instance_id, "i-0123456789abcdef0", sizeof(m.instance_id));
	text_copy(m.boot_id, "8c0c4a1e-0000-4000-8000-000000000001",
	    sizeof(m.boot_id));
	text_copy(m.finished_at, "2026-11-26T02:00:00Z",
	    sizeof(m.finished_at));
	for (i = 0; i < NELEM(keys); i++) {
		text_copy(m.tags[i].key, keys[i], sizeof(m.tags[i].key));
		text_copy(m.tags[i].value, "web-asg", sizeof(m.tags[i].value));
	}
	m.ntags = NELEM(keys);
	assert_int_equal(markerfile_format(&m, text, sizeof(text), &st), ST_OK);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_int_equal(markerfile_read(path, &back, &absent, &st), ST_OK);
	assert_int_equal(back.ntags, NELEM(keys));
	for (i = 0; i < NELEM(keys); i++)
		assert_string_equal(back.tags[i].key, keys[i]);
	unlink(path);
	rmdir(dir);
}

static void
test_pct_encode_escapes_controls(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(text_pct_encode("a\nb\x01\x7f", out, sizeof(out)), 0);
	assert_string_equal(out, "a%0Ab%01%7F");
}

/* --- the same bug on the value side: cdgate-mark --tag 'K=a\n[...]' --- */

static const struct {
	const char *value;
	int ok;
} values[] = {
	{ "api", 1 }, { "", 1 }, { "a b;c", 1 }, { "x=y:z", 1 },
	{ "[provision]", 1 }, { "caf\xc3\xa9", 1 },
	{ "x\n[provision]\nmessage = injected", 0 }, { "a\rb", 0 },
	{ "a\x7f", 0 }, { " lead", 0 }, { "trail\t", 0 }, { "a ;comment", 0 },
	{ "a\t;c", 0 }, { ";x", 0 },
};

static void
test_marker_value_ok(void **state)
{
	static struct markerfile m;
	char text[1024];
	struct status st;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(values); i++) {
		assert_int_equal(markerfile_value_ok(values[i].value),
		    values[i].ok);
		memset(&m, 0, sizeof(m));
		m.ntags = 1;
		text_copy(m.tags[0].key, "Role", sizeof(m.tags[0].key));
		text_copy(m.tags[0].value, values[i].value,
		    sizeof(m.tags[0].value));
		assert_int_equal(markerfile_format(&m, text, sizeof(text), &st),
		    values[i].ok ? ST_OK : ST_USAGE);
	}
}

/* --- fuzz_marker: "digest =;256:..." read, then rewritten as a comment --- */

static void
test_marker_digest_is_checked_when_read(void **state)
{
	static const char *const bad[] = { ";256:00", "sha256:abc",
	    "md5:0123456789abcdef0123456789abcdef" };
	char dir[] = "/tmp/cdgate-regress-XXXXXX", path[64];
	static struct markerfile m;
	struct status st;
	size_t i;
	int absent;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/provisioned", dir);
	for (i = 0; i < NELEM(bad) + 1; i++) {
		assert_non_null(f = fopen(path, "w"));
		fprintf(f, "[provision]\nstatus = ok\ninstance_id = i-1\n"
		    "boot_id = 8c0c4a1e-0000-4000-8000-000000000001\n"
		    "finished_at = 2026-11-26T02:00:00Z\n"
		    "digest = %s\n", i < NELEM(bad) ? bad[i] : "SHA256:"
		    "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
		    "0123456789");
		fclose(f);
		if (i < NELEM(bad)) {
			assert_int_equal(markerfile_read(path, &m, &absent, &st),
			    ST_FAIL);
			assert_non_null(strstr(st.msg, "64 hex digits"));
		} else {
			assert_int_equal(markerfile_read(path, &m, &absent, &st),
			    ST_OK);
			assert_string_equal(m.digest, "sha256:abcdef0123456789"
			    "abcdef0123456789abcdef0123456789abcdef0123456789");
		}
	}
	unlink(path);
	rmdir(dir);
}

/* --- fuzz_endpoint: a control character in the IMDS endpoint --- */

static const struct {
	const char *ep;
	int code;
} endpoints[] = {
	{ "http://127.0.0.1:1338", ST_OK },
	{ "http://[fd00:ec2::254]/", ST_OK },
	{ "http://a\x01" "b", ST_CONFIG },
	{ "http://a\x7f", ST_CONFIG },
	{ "http://caf\xc3\xa9", ST_CONFIG },
	{ "http://a b", ST_CONFIG },
	{ "http://user@host", ST_CONFIG },
	{ "https://169.254.169.254", ST_CONFIG },
	{ "http://x?y", ST_CONFIG },
};

static void
test_imds_endpoint_printable_ascii_only(void **state)
{
	struct imds m;
	struct status st;
	size_t i;
	int rc;

	(void)state;
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	for (i = 0; i < NELEM(endpoints); i++) {
		setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoints[i].ep, 1);
		rc = imds_init(&m, &st);
		assert_int_equal(rc, endpoints[i].code);
		if (rc == ST_OK)
			imds_free(&m);
		else
			assert_true(text_utf8_valid(st.msg, strlen(st.msg)));
	}
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
}

/* --- fuzz_ec2: a request was sent with the deadline already passed --- */

static void
test_ec2_no_request_past_the_deadline(void **state)
{
	static const char *const keys[] = { "Role" }, *const vals[] = { "api" };
	static struct ec2xml_tag out[4];
	static struct ec2 e;
	struct status st;
	size_t n;

	(void)state;
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	assert_int_equal(ec2_open(&e, NULL, mono_ms() + 1000, &st), ST_OK);
	requests = 0;
	assert_int_not_equal(ec2_describe_tags(&e, "i-0123456789abcdef0",
	    keys, 1, mono_ms() - 1, out, 4, &n, &st), ST_OK);
	assert_int_not_equal(ec2_create_tags(&e, "i-0123456789abcdef0", keys,
	    vals, 1, mono_ms(), &st), ST_OK);
	assert_int_equal(requests, 0);
	ec2_close(&e);
}

/* --- issue 3: with no endpoint variable, ec2.REGION. + services/domain --- */

static void
test_ec2_endpoint_from_imds_region_and_services_domain(void **state)
{
	static struct ec2 e;
	static struct imds m;
	struct status st;

	(void)state;
	unsetenv("AWS_ENDPOINT_URL_EC2");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	fake_imds = 1;
	assert_int_equal(imds_init(&m, &st), ST_OK);
	if (ec2_open(&e, &m, mono_ms() + 5000, &st) != ST_OK)
		fail_msg("ec2_open: %s", st.msg);
	assert_string_equal(e.region, "eu-west-3");
	assert_string_equal(e.ep.url, "https://ec2.eu-west-3.example.test/");
	assert_string_equal(e.ep.host, "ec2.eu-west-3.example.test");
	assert_string_equal(e.ep.source, "region and services/domain");
	assert_true(e.ep.https && !e.ep.loopback);
	ec2_close(&e);
	imds_free(&m);
	fake_imds = 0;
}

/* --- fuzz_creds: an Expiration on a day that does not exist --- */

static const struct {
	const char *s;
	int ok;
} times[] = {
	{ "2026-02-28T23:59:59Z", 1 }, { "2028-02-29T00:00:00Z", 1 },
	{ "2026-12-31T12:00:00.123Z", 1 },
	{ "2026-02-30T12:32:51Z", 0 }, { "2026-02-29T00:00:00Z", 0 },
	{ "2026-04-31T00:00:00Z", 0 }, { "2026-01-31T23:59:60Z", 0 },
};

static void
test_creds_time_exists(void **state)
{
	time_t t;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(times); i++)
		assert_int_equal(utc_parse_iso(times[i].s, &t) == 0,
		    times[i].ok);
}

/* --- text_trim: quadratic on a long run of leading blanks --- */

static void
test_trim_is_linear(void **state)
{
	size_t n = 4 * CAP_IMDS_BODY;
	char *s = malloc(n + 2);
	int64_t t0;

	(void)state;
	assert_non_null(s);
	memset(s, ' ', n);
	s[n] = 'x';
	s[n + 1] = '\0';
	t0 = mono_ms();
	assert_string_equal(text_trim(s), "x");
	/* the old one-memmove-per-blank took minutes here */
	assert_true(mono_ms() - t0 < 1000);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marker_key_with_control_reads_back),
		cmocka_unit_test(test_pct_encode_escapes_controls),
		cmocka_unit_test(test_marker_value_ok),
		cmocka_unit_test(test_marker_digest_is_checked_when_read),
		cmocka_unit_test(test_imds_endpoint_printable_ascii_only),
		cmocka_unit_test(test_ec2_no_request_past_the_deadline),
		cmocka_unit_test(test_ec2_endpoint_from_imds_region_and_services_domain),
		cmocka_unit_test(test_creds_time_exists),
		cmocka_unit_test(test_trim_is_linear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
