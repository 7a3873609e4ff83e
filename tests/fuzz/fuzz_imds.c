/*
 * fuzz_imds: IMDSv2 reply handling (imds.c: tokens, 401/403/429/5xx,
 * retries, caps) and what is built on it: the instance id, the tags
 * listing, the lifecycle state, the instance role's listing and JSON
 * credentials (creds.c).  HTTP and the clock are fakes (fake.h), so the
 * input is the sequence of replies.  Asserts imds.h's rules on every
 * request (plain http, no proxy, no redirects, the token sent, each timeout
 * within the deadline) and on the results (an id that looks like one, text
 * that is valid UTF-8, secrets wiped by imds_free and creds_free).
 */
#include "fake.h"

#include "run/config.h"
#include "aws/creds.h"
#include "aws/imds.h"
#include "checks/lifecycle.h"
#include "checks/tags.h"
#include "base/text.h"

static void
imds_rules(const struct http_req *req)
{
	size_t i;
	int token = 0;

	FZ_ASSERT(req->protocols == HTTP_PROTO_HTTP);
	FZ_ASSERT(req->no_proxy == 1);
	FZ_ASSERT(req->max_redirs == 0);
	FZ_ASSERT(req->cap <= CAP_IMDS_BODY);
	FZ_ASSERT(req->total_ms <= IMDS_ATTEMPT_MS);
	FZ_ASSERT(req->total_ms <= mono_left(fake_deadline));
	FZ_ASSERT(strncmp(req->url, "http://127.0.0.1:9/latest/", 26) == 0);
	for (i = 0; i < HTTP_MAX_HEADERS && req->headers[i]; i++)
		token |= strncmp(req->headers[i], "X-aws-ec2-metadata-token",
		    24) == 0;
	FZ_ASSERT(token);
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *u = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (u[i] != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/", 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	fake_check = imds_rules;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[CAP_IMDS_BODY];
	static struct config cfg;
	static struct creds c;
	struct imds m;
	struct status st;
	char id[CAP_INSTANCE_ID], state[64];
	const char *key;
	int64_t deadline;
	long code;
	int rc, act;
	size_t i;

	fake_script(data, size, 10000);
	deadline = fake_deadline;
	if (imds_init(&m, &st) != ST_OK)
		abort();

	rc = imds_instance_id(&m, deadline, id, sizeof(id), &st);
	if (rc == ST_OK) {
		FZ_ASSERT(strlen(id) >= 3 && strlen(id) < CAP_INSTANCE_ID);
		for (i = 0; id[i]; i++)
			FZ_ASSERT((id[i] >= 'a' && id[i] <= 'z') ||
			    (id[i] >= '0' && id[i] <= '9') || id[i] == '-');
	} else
		FZ_ASSERT(fz_printable(st.msg));

	rc = imds_get(&m, TAGS_ITEM, deadline, buf, sizeof(buf), &code, &st);
	if (rc == ST_OK) {
		FZ_ASSERT(code == 200 || code == 404);
		FZ_ASSERT(strlen(buf) < sizeof(buf));
		if (code == 200)
			FZ_ASSERT(text_utf8_valid(buf, strlen(buf)));
		(void)tags_listed(buf, "Role");
		(void)tags_listed(buf, "");
	} else
		FZ_ASSERT(rc == ST_UNAVAIL || rc == ST_TIMEOUT);

	rc = lifecycle_read(&m, deadline, state, sizeof(state), &st);
	if (rc == ST_OK) {
		config_defaults(&cfg);
		act = lifecycle_action(config_conf(&cfg, &check_lifecycle),
		    EV_BEFORE_INSTALL, state, &key);
		FZ_ASSERT(act == ON_STATE_CHECK || act == ON_STATE_SKIP ||
		    act == ON_STATE_FAIL);
		FZ_ASSERT(strpbrk(state, " \n") == NULL);
	}

	rc = creds_load(&c, &m, deadline, &st);
	if (rc == ST_OK) {
		FZ_ASSERT(c.from == CREDS_ROLE);
		FZ_ASSERT(c.access_key[0] && c.secret_key[0] && c.token[0]);
		FZ_ASSERT(strstr(st.msg, c.secret_key) == NULL);
	} else
		FZ_ASSERT(c.from == CREDS_NONE &&
		    all_zero(c.secret_key, sizeof(c.secret_key)));
	creds_free(&c);
	FZ_ASSERT(all_zero(c.secret_key, sizeof(c.secret_key)) &&
	    all_zero(c.token, sizeof(c.token)));

	/* a deadline already passed: no request may be sent */
	{
		unsigned long before = fake_requests;

		rc = imds_get(&m, "meta-data/x", fake_now, buf, sizeof(buf),
		    &code, &st);
		FZ_ASSERT(rc != ST_OK && fake_requests == before);
	}
	imds_free(&m);
	FZ_ASSERT(all_zero(m.token, sizeof(m.token)));
	return 0;
}
