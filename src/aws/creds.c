#include "aws/creds.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "base/text.h"
#include "base/utc.h"

void
creds_free(struct creds *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
	c->from = CREDS_NONE;
}

/* A credential part goes into an HTTP header: printable ASCII only. */
static int
creds_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

static int
creds_set(char *dst, size_t cap, const char *src)
{
	if (strlen(src) >= cap || !creds_printable(src))
		return -1;
	text_copy(dst, src, cap);
	return 0;
}

int
creds_from_env(struct creds *c, const char *key, const char *secret,
    const char *token, struct status *st)
{
	int has_key = key != NULL && key[0] != '\0';
	int has_secret = secret != NULL && secret[0] != '\0';
	int has_token = token != NULL && token[0] != '\0';

	creds_free(c);
	if (!has_key && !has_secret && !has_token)
		return ST_OK;
	if (!has_key)
		return status_set(st, ST_CONFIG, "%s is set but "
		    "AWS_ACCESS_KEY_ID is not; set both, or unset it to use the "
		    "instance role", has_secret ? "AWS_SECRET_ACCESS_KEY" :
		    "AWS_SESSION_TOKEN");
	if (!has_secret)
		return status_set(st, ST_CONFIG, "AWS_ACCESS_KEY_ID is set but "
		    "AWS_SECRET_ACCESS_KEY is not; set both, or unset "
		    "AWS_ACCESS_KEY_ID to use the instance role");
	if (creds_set(c->access_key, sizeof(c->access_key), key) != 0 ||
	    creds_set(c->secret_key, sizeof(c->secret_key), secret) != 0 ||
	    (has_token &&
	    creds_set(c->token, sizeof(c->token), token) != 0)) {
		creds_free(c);
		return status_set(st, ST_CONFIG, "AWS_ACCESS_KEY_ID, "
		    "AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is too long or "
		    "has blanks or control characters");
	}
	if (key[strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789")] != '\0') {	/* the signer's rule, said here */
		creds_free(c);
		return status_set(st, ST_CONFIG, "AWS_ACCESS_KEY_ID '%.24s' is "
		    "not an access key id (letters and digits only, like "
		    "AKIAIOSFODNN7EXAMPLE)", key);
	}
	c->from = CREDS_ENV;
	return ST_OK;
}

/* The string member `name` of o, or NULL. */
static const char *
creds_member(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Wipes json-c's own copy of a secret member before the object is freed. */
static void
creds_wipe_member(struct json_object *o, const char *name)
{
	struct json_object *v;
	const char *s;

	if (json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string) &&
	    (s = json_object_get_string(v)) != NULL)
		OPENSSL_cleanse((char *)(uintptr_t)s, strlen(s));
}

int
creds_parse_role(struct creds *c, const char *role, const char *json,
    size_t len, struct status *st)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	const char *code, *key, *secret, *token, *exp;
	int rc;

	creds_free(c);
	if (len > CAP_IMDS_BODY || len > INT32_MAX)
		return status_set(st, ST_UNAVAIL, "instance role '%s': "
		    "credentials document too long", role);
	if ((tok = json_tokener_new()) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		rc = status_set(st, ST_UNAVAIL, "instance role '%s': the "
		    "credentials document from instance metadata is not a JSON "
		    "object", role);
		goto out;
	}
	code = creds_member(o, "Code");
	if (code == NULL || strcmp(code, "Success") != 0) {
		rc = status_set(st, ST_NOPERM, "instance role '%s': instance "
		    "metadata has no credentials for it (Code '%.64s'); check "
		    "the instance profile", role, code ? code : "(none)");
		goto out;
	}
	key = creds_member(o, "AccessKeyId");
	secret = creds_member(o, "SecretAccessKey");
	token = creds_member(o, "Token");
	exp = creds_member(o, "Expiration");
	if (key == NULL || secret == NULL || token == NULL || exp == NULL ||
	    key[0] == '\0' || secret[0] == '\0' || token[0] == '\0') {
		rc = status_set(st, ST_UNAVAIL, "instance role '%s': the "
		    "credentials document lacks AccessKeyId, SecretAccessKey, "
		    "Token or Expiration", role);
		goto out;
	}
	if (utc_parse_iso(exp, &c->expiration) != 0) {
		rc = status_set(st, ST_UNAVAIL, "instance role '%s': bad "
		    "Expiration '%.40s' in the credentials document", role,
		    exp);
		goto out;
	}
	if (creds_set(c->access_key, sizeof(c->access_key), key) != 0 ||
	    creds_set(c->secret_key, sizeof(c->secret_key), secret) != 0 ||
	    creds_set(c->token, sizeof(c->token), token) != 0) {
		rc = status_set(st, ST_UNAVAIL, "instance role '%s': a "
		    "credential in the document is too long or not printable",
		    role);
		goto out;
	}
	text_copy(c->role, role, sizeof(c->role));
	c->from = CREDS_ROLE;
	rc = ST_OK;
out:
	if (rc != ST_OK)
		creds_free(c);
	if (o != NULL) {
		creds_wipe_member(o, "SecretAccessKey");
		creds_wipe_member(o, "Token");
		json_object_put(o);
	}
	json_tokener_free(tok);
	return rc;
}

/* An IAM role name: 1-64 of [A-Za-z0-9+=,.@_-]. */
static int
creds_role_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("+=,.@_-", s[i]) != NULL))
			return 0;
	return 1;
}

/* Reads the instance role's credentials from IMDS. */
static int
creds_fetch_role(struct creds *c, struct imds *m, int64_t deadline,
    struct status *st)
{
	char *buf, role[CREDS_CAP_ROLE], item[256];
	unsigned long fetches = c->fetches;
	long code;
	size_t n;
	int rc;

	/* one IMDS reply: on the heap, too large for a frame */
	if ((buf = malloc(CAP_IMDS_BODY)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	if ((rc = imds_get(m, CREDS_ROLE_ITEM, deadline, buf, CAP_IMDS_BODY,
	    &code, st)) != ST_OK) {
		rc = status_wrap(st, "instance role");
		goto out;
	}
	if (code == 404) {
		rc = status_set(st, ST_NOPERM, "no AWS credentials: "
		    "AWS_ACCESS_KEY_ID is not set and the instance has no IAM "
		    "role (instance profile); attach a role allowed "
		    "ec2:DescribeTags (docs/iam.md)");
		goto out;
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	text_trim(buf);
	if (!creds_role_name_ok(buf)) {
		rc = status_set(st, ST_UNAVAIL, "instance metadata sent a "
		    "malformed role name '%.80s'", buf);
		goto out;
	}
	text_copy(role, buf, sizeof(role));
	if (snprintf(item, sizeof(item), "%s%s", CREDS_ROLE_ITEM, role) >=
	    (int)sizeof(item)) {
		rc = status_set(st, ST_SOFTWARE, "role item too long");
		goto out;
	}
	rc = imds_get(m, item, deadline, buf, CAP_IMDS_BODY, &code, st);
	if (rc == ST_OK && code == 404)
		rc = status_set(st, ST_NOPERM, "instance role '%s': instance "
		    "metadata has no credentials for it (404)", role);
	else if (rc == ST_OK)
		rc = creds_parse_role(c, role, buf, strlen(buf), st);
	else
		status_wrap(st, "instance role '%s'", role);
	c->fetches = fetches + 1;
out:
	OPENSSL_cleanse(buf, CAP_IMDS_BODY);
	free(buf);
	return rc;
}

int
creds_load(struct creds *c, struct imds *m, int64_t deadline,
    struct status *st)
{
	int rc;

	if ((rc = creds_from_env(c, getenv("AWS_ACCESS_KEY_ID"),
	    getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"),
	    st)) != ST_OK)
		return rc;
	if (c->from == CREDS_ENV)
		return ST_OK;
	if (m == NULL)
		return status_set(st, ST_NOPERM, "no AWS credentials: set "
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (instance "
		    "metadata is off, so there is no instance role)");
	return creds_fresh(c, m, deadline, st);
}

int
creds_need_refresh(const struct creds *c, time_t now)
{
	if (c->from == CREDS_NONE)
		return 1;
	if (c->from != CREDS_ROLE)
		return 0;
	return c->expiration - now < CREDS_REFRESH_S;
}

int
creds_fresh(struct creds *c, struct imds *m, int64_t deadline,
    struct status *st)
{
	time_t now = time(NULL);
	int rc;

	if (!creds_need_refresh(c, now))
		return ST_OK;
	if (c->from == CREDS_ENV)
		return ST_OK;
	if (m == NULL)
		return status_set(st, ST_SOFTWARE, "role credentials without "
		    "instance metadata");
	if ((rc = creds_fetch_role(c, m, deadline, st)) != ST_OK)
		return rc;
	if (c->expiration <= time(NULL)) {
		char role[CREDS_CAP_ROLE];

		text_copy(role, c->role, sizeof(role));
		creds_free(c);
		return status_set(st, ST_NOPERM, "instance role '%s': "
		    "instance metadata serves credentials that have already "
		    "expired; is the system clock right (chrony)?", role);
	}
	return ST_OK;
}

void
creds_sigv4(const struct creds *c, struct sigv4_cred *out)
{
	out->access_key = c->access_key;
	out->secret_key = c->secret_key;
	out->session_token = c->token[0] ? c->token : NULL;
}

const char *
creds_source(const struct creds *c, char *buf, size_t len)
{
	if (c->from == CREDS_ENV)
		snprintf(buf, len, "credentials from the environment%s",
		    c->token[0] ? " (with a session token)" : "");
	else if (c->from == CREDS_ROLE)
		snprintf(buf, len, "credentials of the instance role '%s'",
		    c->role);
	else
		snprintf(buf, len, "no credentials");
	return buf;
}
