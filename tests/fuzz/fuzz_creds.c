/*
 * fuzz_creds: AWS credentials (creds.h): the instance role's JSON
 * document, Expiration times and the environment's three variables.
 * Input: a selector byte, then fields (NUL separated): role, time, key,
 * secret, token, then the document.  Asserts creds.h's rules: a document
 * is accepted only complete, with printable credentials; a refused one
 * leaves nothing behind (wiped); a secret never appears in a message;
 * times are UTC and exact.
 */
#include "fuzz.h"

#include <time.h>

#include "aws/creds.h"
#include "base/utc.h"

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *u = p;

	while (n-- > 0)
		if (*u++ != 0)
			return 0;
	return 1;
}

static int
ascii_printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct creds c;
	struct status st;
	struct fz f;
	char *role, *tm, *key, *secret, *token, *doc, back[32];
	size_t len;
	time_t t;
	struct tm g;
	int rc;

	fz_init(&f, data, size);
	role = fz_field(&f);
	tm = fz_field(&f);
	key = fz_field(&f);
	secret = fz_field(&f);
	token = fz_field(&f);
	doc = fz_rest(&f, &len);

	memset(&c, 0xa5, sizeof(c));
	rc = creds_parse_role(&c, role, doc, len, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_NOPERM || rc == ST_UNAVAIL);
	if (rc == ST_OK) {
		FZ_ASSERT(c.from == CREDS_ROLE);
		FZ_ASSERT(c.access_key[0] && ascii_printable(c.access_key));
		FZ_ASSERT(c.secret_key[0] && ascii_printable(c.secret_key));
		FZ_ASSERT(c.token[0] && ascii_printable(c.token));
	} else {
		FZ_ASSERT(c.from == CREDS_NONE);
		FZ_ASSERT(all_zero(c.secret_key, sizeof(c.secret_key)) &&
		    all_zero(c.token, sizeof(c.token)));
		FZ_ASSERT(fz_printable(st.msg));
	}
	creds_free(&c);
	FZ_ASSERT(all_zero(c.secret_key, sizeof(c.secret_key)));

	if (utc_parse_iso(tm, &t) == 0 && strlen(tm) == 20) {
		/* an exact time reads back as itself */
		FZ_ASSERT(gmtime_r(&t, &g) != NULL);
		strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &g);
		FZ_ASSERT(strcmp(back, tm) == 0);
	}

	memset(&c, 0, sizeof(c));
	rc = creds_from_env(&c, key, secret, token, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_CONFIG);
	if (rc == ST_OK && key[0] != '\0')
		FZ_ASSERT(c.from == CREDS_ENV && secret[0] != '\0');
	if (rc != ST_OK && strlen(secret) >= 8)
		FZ_ASSERT(strstr(st.msg, secret) == NULL ||
		    strstr(key, secret) != NULL);
	creds_free(&c);
	fz_free(&f);
	return 0;
}
