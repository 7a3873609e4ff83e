/*
 * test_ec2.c: the pure parts of the EC2 client: endpoint and region
 * resolution, the classification of replies, filter escaping, backoff.
 */
#include "base/backoff.h"
#include "aws/ec2.h"
#include "testlib.h"

/* ------------------------------------------------------------------ */
/* endpoint URLs */

struct ep_case {
	const char *url;
	int code;		/* ST_OK or ST_CONFIG */
	const char *want_url, *want_host;
	int https, loopback;
	const char *msg;	/* part of the message on error */
};

#define EP_OK(url, want_url, want_host, https, loopback) \
	{ url, ST_OK, want_url, want_host, https, loopback, NULL }
#define EP_BAD(url, msg) { url, ST_CONFIG, NULL, NULL, 0, 0, msg }

static const struct ep_case ep_cases[] = {
	EP_OK("https://ec2.us-east-1.amazonaws.com",
	    "https://ec2.us-east-1.amazonaws.com/",
	    "ec2.us-east-1.amazonaws.com", 1, 0),
	EP_OK("https://ec2.us-east-1.amazonaws.com/",
	    "https://ec2.us-east-1.amazonaws.com/",
	    "ec2.us-east-1.amazonaws.com", 1, 0),
	EP_OK("HTTPS://EC2.Example.COM:443", "https://ec2.example.com/",
	    "ec2.example.com", 1, 0),
	EP_OK("https://vpce-1.ec2.us-east-1.vpce.amazonaws.com:8443",
	    "https://vpce-1.ec2.us-east-1.vpce.amazonaws.com:8443/",
	    "vpce-1.ec2.us-east-1.vpce.amazonaws.com:8443", 1, 0),
	EP_OK("http://127.0.0.1:8080", "http://127.0.0.1:8080/",
	    "127.0.0.1:8080", 0, 1),
	EP_OK("http://127.5.6.7", "http://127.5.6.7/", "127.5.6.7", 0, 1),
	EP_OK("http://localhost:80/", "http://localhost/", "localhost", 0, 1),
	EP_OK("http://[::1]:9000", "http://[::1]:9000/", "[::1]:9000", 0, 1),
	EP_OK("https://[2001:db8::1]", "https://[2001:db8::1]/",
	    "[2001:db8::1]", 1, 0),
	EP_OK("https://127.0.0.1:4443", "https://127.0.0.1:4443/",
	    "127.0.0.1:4443", 1, 1),
	EP_BAD("http://ec2.us-east-1.amazonaws.com",
	    "plain http is only allowed for a loopback host"),
	EP_BAD("http://128.0.0.1", "plain http"),
	EP_BAD("http://127.0.0.1.example.com", "plain http"),
	EP_BAD("http://127.0.0.256", "plain http"),
	EP_BAD("http://[::2]", "plain http"),
	EP_BAD("http://localhost.evil.com", "plain http"),
	EP_BAD("ftp://example.com", "expected https"),
	EP_BAD("ec2.us-east-1.amazonaws.com", "expected https"),
	EP_BAD("https://example.com/path", "no path"),
	EP_BAD("https://example.com?x=1", "no path"),
	EP_BAD("https://example.com#f", "no path"),
	EP_BAD("https://user:pw@example.com", "user information"),
	EP_BAD("https://", "bad host"),
	EP_BAD("https://:443", "bad host"),
	EP_BAD("https://exa mple.com", "bad host"),
	EP_BAD("https://example..com", "bad host"),
	EP_BAD("https://example.com:0", "bad port"),
	EP_BAD("https://example.com:65536", "bad port"),
	EP_BAD("https://example.com:", "bad port"),
	EP_BAD("https://example.com:+443", "bad port"),
	EP_BAD("https://[::1", "IPv6"),
	EP_BAD("https://[::1]x", "IPv6"),
	EP_BAD("https://[zz::1]", "bad host"),
};

static void
test_parse_endpoint(void **state)
{
	struct ec2_endpoint ep;
	struct status st;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(ep_cases); i++) {
		const struct ep_case *c = &ep_cases[i];

		status_clear(&st);
		rc = ec2_parse_endpoint(c->url, "TEST_URL", &ep, &st);
		if (rc != c->code)
			fail_msg("'%s': code %d, want %d (%s)", c->url, rc,
			    c->code, st.msg);
		if (rc == ST_OK) {
			assert_string_equal(ep.url, c->want_url);
			assert_string_equal(ep.host, c->want_host);
			assert_int_equal(ep.https, c->https);
			assert_int_equal(ep.loopback, c->loopback);
			assert_string_equal(ep.source, "TEST_URL");
		} else if (strstr(st.msg, c->msg) == NULL ||
		    strstr(st.msg, "TEST_URL") == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", c->url,
			    st.msg, c->msg);
	}
}

struct res_case {
	const char *url_ec2, *url_any, *region, *domain;
	int code;
	const char *want_url, *source;
};

static const struct res_case res_cases[] = {
	{ "https://a.example.com", "https://b.example.com", "us-east-1",
	  "amazonaws.com", ST_OK, "https://a.example.com/",
	  "AWS_ENDPOINT_URL_EC2" },
	{ "", "https://b.example.com", "us-east-1", NULL, ST_OK,
	  "https://b.example.com/", "AWS_ENDPOINT_URL" },
	{ NULL, NULL, "us-east-1", "amazonaws.com", ST_OK,
	  "https://ec2.us-east-1.amazonaws.com/", "the region" },
	{ NULL, NULL, "cn-north-1", "amazonaws.com.cn", ST_OK,
	  "https://ec2.cn-north-1.amazonaws.com.cn/", "the region" },
	{ NULL, NULL, "cn-northwest-1", NULL, ST_OK,
	  "https://ec2.cn-northwest-1.amazonaws.com.cn/", "the region" },
	{ NULL, NULL, "eu-west-3", "", ST_OK,
	  "https://ec2.eu-west-3.amazonaws.com/", "the region" },
	{ NULL, NULL, "us-isob-east-1", "sc2s.sgov.gov", ST_OK,
	  "https://ec2.us-isob-east-1.sc2s.sgov.gov/", "the region" },
	{ NULL, NULL, "US-EAST-1", "amazonaws.com", ST_CONFIG, NULL, NULL },
	{ NULL, NULL, "us-east-1.evil.com/x", "amazonaws.com", ST_CONFIG,
	  NULL, NULL },
	{ NULL, NULL, "us-east-1", "evil.com/x", ST_CONFIG, NULL, NULL },
	{ NULL, NULL, "us-east-1", "..com", ST_CONFIG, NULL, NULL },
	{ "http://example.com", NULL, "us-east-1", NULL, ST_CONFIG, NULL,
	  NULL },
};

static void
test_resolve_endpoint(void **state)
{
	struct ec2_endpoint ep;
	struct status st;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(res_cases); i++) {
		const struct res_case *c = &res_cases[i];

		rc = ec2_resolve_endpoint(c->url_ec2, c->url_any, c->region,
		    c->domain, &ep, &st);
		if (rc != c->code)
			fail_msg("case %zu: code %d, want %d (%s)", i, rc,
			    c->code, st.msg);
		if (rc == ST_OK) {
			assert_string_equal(ep.url, c->want_url);
			assert_string_equal(ep.source, c->source);
		}
	}
}

static void
test_region_domain_instance_ok(void **state)
{
	(void)state;
	assert_true(ec2_region_ok("us-east-1"));
	assert_true(ec2_region_ok("ap-southeast-4"));
	assert_true(ec2_region_ok("us-gov-west-1"));
	assert_false(ec2_region_ok(""));
	assert_false(ec2_region_ok("us_east_1"));
	assert_false(ec2_region_ok("-us-east-1"));
	assert_false(ec2_region_ok("us-east-1 "));
	assert_false(ec2_region_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_true(ec2_domain_ok("amazonaws.com"));
	assert_true(ec2_domain_ok("amazonaws.com.cn"));
	assert_false(ec2_domain_ok("localhost"));
	assert_false(ec2_domain_ok(".amazonaws.com"));
	assert_false(ec2_domain_ok("amazonaws.com."));
	assert_false(ec2_domain_ok("amazonaws.com:80"));
	assert_true(imds_instance_id_ok("i-0123456789abcdef0"));
	assert_true(imds_instance_id_ok("i-12345678"));
	assert_false(imds_instance_id_ok("i-1234567"));
	assert_false(imds_instance_id_ok("i-123456789"));
	assert_false(imds_instance_id_ok("i-0123456789abcdef"));
	assert_false(imds_instance_id_ok(""));
	assert_false(imds_instance_id_ok("i-0123456789ABCDEF0"));
	assert_false(imds_instance_id_ok("mi-0123456789abcdef0"));
	assert_false(imds_instance_id_ok("i-0123456789abcdef0&x=1"));
	assert_false(imds_instance_id_ok("i-0123456789abcdef0123456789abcdef0"));
}

/* ------------------------------------------------------------------ */
/* classification */

struct class_case {
	long status;
	const char *code;
	enum ec2_class want;
};

static const struct class_case class_cases[] = {
	{ 200, "", EC2_C_OK },
	{ 204, NULL, EC2_C_OK },
	{ 503, "RequestLimitExceeded", EC2_C_THROTTLE },
	{ 400, "RequestLimitExceeded", EC2_C_THROTTLE },
	{ 429, "Throttling", EC2_C_THROTTLE },
	{ 400, "ThrottlingException", EC2_C_THROTTLE },
	{ 429, "RequestThrottled", EC2_C_THROTTLE },
	{ 400, "EC2ThrottledException", EC2_C_THROTTLE },
	{ 429, "", EC2_C_THROTTLE },
	{ 500, "InternalError", EC2_C_TRANSIENT },
	{ 503, "Unavailable", EC2_C_TRANSIENT },
	{ 400, "RequestTimeout", EC2_C_TRANSIENT },
	{ 500, "", EC2_C_TRANSIENT },
	{ 502, "", EC2_C_TRANSIENT },
	{ 503, "", EC2_C_TRANSIENT },
	{ 504, NULL, EC2_C_TRANSIENT },
	{ 403, "UnauthorizedOperation", EC2_C_DENIED },
	{ 401, "AuthFailure", EC2_C_AUTH },
	{ 401, "InvalidClientTokenId", EC2_C_AUTH },
	{ 403, "SignatureDoesNotMatch", EC2_C_AUTH },
	{ 400, "IncompleteSignature", EC2_C_AUTH },
	{ 400, "ExpiredToken", EC2_C_AUTH },
	{ 400, "RequestExpired", EC2_C_EXPIRED },
	{ 400, "InvalidParameterValue", EC2_C_OTHER },
	{ 400, "InvalidInstanceID.NotFound", EC2_C_OTHER },
	{ 404, "", EC2_C_OTHER },
	{ 501, "", EC2_C_OTHER },
	{ 403, "", EC2_C_OTHER },
	{ 0, "", EC2_C_OTHER },
};

static void
test_classify(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(class_cases); i++) {
		const struct class_case *c = &class_cases[i];
		enum ec2_class got = ec2_classify(c->status, c->code);

		if (got != c->want)
			fail_msg("HTTP %ld '%s': class %d, want %d", c->status,
			    c->code ? c->code : "(null)", got, c->want);
	}
}

/* ------------------------------------------------------------------ */
/* filters and backoff */

static void
test_filter_escape(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(ec2_filter_escape(buf, sizeof(buf), "Role"), 0);
	assert_string_equal(buf, "Role");
	assert_int_equal(ec2_filter_escape(buf, sizeof(buf), "a*b?c\\d"), 0);
	assert_string_equal(buf, "a\\*b\\?c\\\\d");
	assert_int_equal(ec2_filter_escape(buf, sizeof(buf), ""), 0);
	assert_string_equal(buf, "");
	assert_int_equal(ec2_filter_escape(buf, 5, "abcd"), 0);
	assert_int_equal(ec2_filter_escape(buf, 5, "abcde"), -1);
	assert_string_equal(buf, "");
	assert_int_equal(ec2_filter_escape(buf, 5, "abc*"), -1);
}

static void
test_backoff(void **state)
{
	long base, cap;
	int i;

	(void)state;
	ec2_backoff_params(NULL, &base, &cap);
	assert_int_equal(base, EC2_BACKOFF_BASE_MS);
	assert_int_equal(cap, EC2_BACKOFF_CAP_MS);
	ec2_backoff_params("50", &base, &cap);
	assert_int_equal(base, 50);
	assert_int_equal(cap, 1000);
	ec2_backoff_params("0", &base, &cap);
	assert_int_equal(base, EC2_BACKOFF_BASE_MS);
	ec2_backoff_params("fast", &base, &cap);
	assert_int_equal(base, EC2_BACKOFF_BASE_MS);
	ec2_backoff_params("60001", &base, &cap);
	assert_int_equal(base, EC2_BACKOFF_BASE_MS);
	/* polls: never back to back, never over half the cap */
	unsetenv(EC2_TEST_BACKOFF);
	for (i = 0; i < 200; i++) {
		int64_t d = ec2_poll_delay(i % 8);
		int64_t c = backoff_ceiling(i % 8, EC2_BACKOFF_BASE_MS,
		    EC2_BACKOFF_CAP_MS / 2);

		assert_true(d >= c / 2 && d <= c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_endpoint),
		cmocka_unit_test(test_resolve_endpoint),
		cmocka_unit_test(test_region_domain_instance_ok),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_filter_escape),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
