/*
 * test_creds.c: credentials from the environment and from the instance
 * role's JSON document, Expiration parsing and the refresh rule.
 */
#include <time.h>

#include "aws/creds.h"
#include "testlib.h"

/* 1 when the n bytes at p are all zero. */
static int
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		if (*b++ != 0)
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* environment */

struct env_case {
	const char *key, *secret, *token;
	int code, from;
	const char *msg;
};

static const struct env_case env_cases[] = {
	{ NULL, NULL, NULL, ST_OK, CREDS_NONE, NULL },
	{ "", "", "", ST_OK, CREDS_NONE, NULL },
	{ "AKID", "secret", NULL, ST_OK, CREDS_ENV, NULL },
	{ "ASIA", "secret", "token+/=", ST_OK, CREDS_ENV, NULL },
	{ "AKID", NULL, NULL, ST_CONFIG, CREDS_NONE,
	  "AWS_SECRET_ACCESS_KEY is not" },
	{ "AKID", "", "tok", ST_CONFIG, CREDS_NONE,
	  "AWS_SECRET_ACCESS_KEY is not" },
	{ NULL, "secret", NULL, ST_CONFIG, CREDS_NONE,
	  "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not" },
	{ NULL, NULL, "token", ST_CONFIG, CREDS_NONE,
	  "AWS_SESSION_TOKEN is set but" },
	/* refused here, naming the variable, not later by the signer */
	{ "AKID-EXAMPLE", "secret", NULL, ST_CONFIG, CREDS_NONE,
	  "AWS_ACCESS_KEY_ID 'AKID-EXAMPLE' is not an access key id" },
	{ "AKID:EXAMPLE", "secret", NULL, ST_CONFIG, CREDS_NONE,
	  "is not an access key id" },
	{ "AK ID", "secret", NULL, ST_CONFIG, CREDS_NONE, "blanks" },
	{ "AKID", "sec\nret", NULL, ST_CONFIG, CREDS_NONE, "control" },
	{ "AKID", "secret", "to\r\nX-Evil: 1", ST_CONFIG, CREDS_NONE,
	  "control" },
};

static void
test_from_env(void **state)
{
	struct creds c;
	struct status st;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(env_cases); i++) {
		const struct env_case *e = &env_cases[i];

		status_clear(&st);
		rc = creds_from_env(&c, e->key, e->secret, e->token, &st);
		if (rc != e->code || c.from != e->from)
			fail_msg("case %zu: code %d from %d, want %d %d (%s)",
			    i, rc, c.from, e->code, e->from, st.msg);
		if (e->msg != NULL && strstr(st.msg, e->msg) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i,
			    st.msg, e->msg);
		if (e->secret != NULL && e->secret[0] != '\0')
			assert_null(strstr(st.msg, e->secret));
		if (rc == ST_OK && c.from == CREDS_ENV) {
			assert_string_equal(c.access_key, e->key);
			assert_string_equal(c.secret_key, e->secret);
			assert_string_equal(c.token, e->token ? e->token : "");
		}
		creds_free(&c);
	}
}

static void
test_env_too_long(void **state)
{
	char big[SIGV4_CAP_SECRET + 8];
	struct creds c;
	struct status st;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(creds_from_env(&c, "AKID", big, NULL, &st),
	    ST_CONFIG);
	assert_int_equal(c.from, CREDS_NONE);
	assert_true(all_zero(c.secret_key, sizeof(c.secret_key)));
}

/* ------------------------------------------------------------------ */
/* the role document */

#define DOC(code, extra) \
	"{\n  \"Code\" : \"" code "\",\n" \
	"  \"LastUpdated\" : \"2026-11-26T01:00:00Z\",\n" \
	"  \"Type\" : \"AWS-HMAC\",\n" \
	"  \"AccessKeyId\" : \"ASIAEXAMPLE\",\n" \
	"  \"SecretAccessKey\" : \"wJalr/EXAMPLE+KEY\",\n" \
	"  \"Token\" : \"IQoJ//token==\",\n" \
	"  \"Expiration\" : \"2026-11-26T07:00:00Z\"" extra "\n}"

struct role_case {
	const char *json;
	int code;
	const char *msg;
};

static const struct role_case role_cases[] = {
	{ DOC("Success", ""), ST_OK, NULL },
	{ DOC("Success", ",\n  \"Extra\" : 5"), ST_OK, NULL },
	{ DOC("AssumeRoleUnauthorizedAccess", ""), ST_NOPERM,
	  "Code 'AssumeRoleUnauthorizedAccess'" },
	{ "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
	  "\"S\",\"Expiration\":\"2026-11-26T07:00:00Z\"}", ST_UNAVAIL,
	  "lacks" },
	{ "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
	  "\"S\",\"Token\":\"T\",\"Expiration\":\"tomorrow\"}", ST_UNAVAIL,
	  "bad Expiration" },
	{ "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
	  "5,\"Token\":\"T\",\"Expiration\":\"2026-11-26T07:00:00Z\"}",
	  ST_UNAVAIL, "lacks" },
	{ "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
	  "\"S S\",\"Token\":\"T\",\"Expiration\":\"2026-11-26T07:00:00Z\"}",
	  ST_UNAVAIL, "not printable" },
	{ "{\"Code\":\"Success\"", ST_UNAVAIL, "not a JSON object" },
	{ "[1,2]", ST_UNAVAIL, "not a JSON object" },
	{ "", ST_UNAVAIL, "not a JSON object" },
	{ DOC("Success", "") " trailing", ST_UNAVAIL, "not a JSON object" },
	{ "{}", ST_NOPERM, "Code '(none)'" },
};

static void
test_parse_role(void **state)
{
	struct creds c;
	struct status st;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(role_cases); i++) {
		const struct role_case *r = &role_cases[i];

		status_clear(&st);
		rc = creds_parse_role(&c, "web-role", r->json, strlen(r->json),
		    &st);
		if (rc != r->code)
			fail_msg("case %zu: code %d, want %d (%s)", i, rc,
			    r->code, st.msg);
		if (r->msg != NULL && strstr(st.msg, r->msg) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i,
			    st.msg, r->msg);
		assert_null(strstr(st.msg, "wJalr"));
		assert_null(strstr(st.msg, "IQoJ"));
		if (rc == ST_OK) {
			assert_int_equal(c.from, CREDS_ROLE);
			assert_string_equal(c.access_key, "ASIAEXAMPLE");
			assert_string_equal(c.secret_key, "wJalr/EXAMPLE+KEY");
			assert_string_equal(c.token, "IQoJ//token==");
			assert_string_equal(c.role, "web-role");
			assert_int_equal(c.expiration, 1795676400);
		} else {
			assert_int_equal(c.from, CREDS_NONE);
			assert_true(all_zero(c.secret_key,
			    sizeof(c.secret_key)));
		}
		creds_free(&c);
		assert_true(all_zero(c.secret_key, sizeof(c.secret_key)));
		assert_true(all_zero(c.token, sizeof(c.token)));
	}
}

/* ------------------------------------------------------------------ */
/* refresh */

static void
test_need_refresh(void **state)
{
	struct creds c;
	time_t now = 1795676400;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_true(creds_need_refresh(&c, now));	/* nothing loaded */
	c.from = CREDS_ENV;
	assert_false(creds_need_refresh(&c, now));	/* never expire */
	c.from = CREDS_ROLE;
	c.expiration = now + 3600;
	assert_false(creds_need_refresh(&c, now));
	c.expiration = now + CREDS_REFRESH_S;
	assert_false(creds_need_refresh(&c, now));
	c.expiration = now + CREDS_REFRESH_S - 1;
	assert_true(creds_need_refresh(&c, now));
	c.expiration = now - 10;
	assert_true(creds_need_refresh(&c, now));
}

static void
test_sigv4_view_and_source(void **state)
{
	struct creds c;
	struct sigv4_cred s;
	struct status st;
	char buf[128];

	(void)state;
	assert_int_equal(creds_from_env(&c, "AKID", "sec", NULL, &st), ST_OK);
	creds_sigv4(&c, &s);
	assert_string_equal(s.access_key, "AKID");
	assert_string_equal(s.secret_key, "sec");
	assert_null(s.session_token);
	creds_source(&c, buf, sizeof(buf));
	assert_string_equal(buf, "credentials from the environment");
	assert_int_equal(creds_from_env(&c, "AKID", "S3CR3T", "T0K3N", &st), ST_OK);
	creds_sigv4(&c, &s);
	assert_string_equal(s.session_token, "T0K3N");
	creds_source(&c, buf, sizeof(buf));
	assert_null(strstr(buf, "T0K3N"));
	assert_null(strstr(buf, "S3CR3T"));
	assert_null(strstr(buf, "AKID"));
	assert_non_null(strstr(buf, "session token"));
	creds_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_env),
		cmocka_unit_test(test_env_too_long),
		cmocka_unit_test(test_parse_role),
		cmocka_unit_test(test_need_refresh),
		cmocka_unit_test(test_sigv4_view_and_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
