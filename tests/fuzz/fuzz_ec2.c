/*
 * fuzz_ec2: the EC2 client's reply handling (ec2.c): DescribeTags with
 * pagination, CreateTags, error classification, retries with backoff.
 * HTTP and the clock are fakes (fake.h); the input's first byte picks the
 * endpoint (loopback http or https), the rest is the sequence of replies.
 * Asserts ec2.h's and http.h's rules on every request (POST, signed, no
 * redirects, loopback http never through a proxy, each timeout within the
 * deadline, the secret key never sent) and on the results (tags of the
 * asked instance only, no secret or token in any message).
 */
#include "fake.h"

#include "aws/ec2.h"

#define SECRET "fuzz+secret/never/sent/0123456789abcdef"
#define TOKEN  "fuzz-session-token-never-printed-0123456789"
#define IID    "i-0123456789abcdef0"

static int https_mode;

static void
ec2_rules(const struct http_req *req)
{
	size_t i;
	int authz = 0;

	FZ_ASSERT(strcmp(req->method, "POST") == 0);
	FZ_ASSERT(req->max_redirs == 0);
	FZ_ASSERT(req->cap <= CAP_HTTP_BODY);
	FZ_ASSERT(req->total_ms <= EC2_ATTEMPT_MS);
	FZ_ASSERT(req->total_ms <= mono_left(fake_deadline));
	if (https_mode)
		FZ_ASSERT(req->protocols == HTTP_PROTO_HTTPS);
	else
		FZ_ASSERT(req->protocols == HTTP_PROTO_HTTP &&
		    req->no_proxy == 1);
	FZ_ASSERT(req->body == NULL || memmem(req->body, req->bodylen,
	    SECRET, strlen(SECRET)) == NULL);
	for (i = 0; i < HTTP_MAX_HEADERS && req->headers[i]; i++) {
		FZ_ASSERT(strstr(req->headers[i], SECRET) == NULL);
		FZ_ASSERT(strpbrk(req->headers[i], "\r\n") == NULL);
		authz |= strncmp(req->headers[i], "Authorization: AWS4-HMAC-"
		    "SHA256 ", 32) == 0;
	}
	FZ_ASSERT(authz);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDFUZZ", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_CA_BUNDLE");
	unsetenv(EC2_TEST_BACKOFF);
	fake_check = ec2_rules;
	return 0;
}

static const uint8_t *script;
static size_t script_len;

/* No secret in a message, unless the server's reply held its text. */
static void
no_secret(const struct status *st)
{
	if (!memmem(script, script_len, SECRET, strlen(SECRET)))
		FZ_ASSERT(strstr(st->msg, SECRET) == NULL);
	if (!memmem(script, script_len, TOKEN, strlen(TOKEN)))
		FZ_ASSERT(strstr(st->msg, TOKEN) == NULL);
	FZ_ASSERT(fz_printable(st->msg));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ec2xml_tag out[CAP_TAGS];
	static struct ec2 e;
	static const char *const keys[] = { "Role", "Env" };
	static const char *const values[] = { "api", "production" };
	struct status st;
	size_t n, i;
	int rc;

	if (size == 0)
		return 0;
	https_mode = data[0] & 1;
	setenv("AWS_ENDPOINT_URL_EC2", https_mode ?
	    "https://ec2.fuzz.example" : "http://127.0.0.1:9", 1);
	script = data;
	script_len = size;
	fake_script(data + 1, size - 1, 30000);
	if (ec2_open(&e, NULL, fake_deadline, &st) != ST_OK)
		abort();
	rc = ec2_describe_tags(&e, IID, keys, 2, fake_deadline, out,
	    CAP_TAGS, &n, &st);
	if (rc == ST_OK) {
		FZ_ASSERT(n <= CAP_TAGS);
		for (i = 0; i < n; i++) {
			FZ_ASSERT(strcmp(out[i].resource_id, IID) == 0);
			FZ_ASSERT(strcmp(out[i].key, "Role") == 0 ||
			    strcmp(out[i].key, "Env") == 0);
		}
	} else {
		FZ_ASSERT(rc == ST_UNAVAIL || rc == ST_NOPERM ||
		    rc == ST_TIMEOUT || rc == ST_OSERR);
		no_secret(&st);
	}
	rc = ec2_create_tags(&e, IID, keys, values, 2, fake_deadline, &st);
	if (rc != ST_OK)
		no_secret(&st);
	ec2_close(&e);
	return 0;
}
