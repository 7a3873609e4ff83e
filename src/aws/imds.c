#include "aws/imds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/backoff.h"
#include "base/mono.h"
#include "base/text.h"

#define IMDS_MIN_ATTEMPT_MS 100	/* the last attempt gets at least this */

int
imds_init(struct imds *m, struct status *st)
{
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
	size_t n, i;

	memset(m, 0, sizeof(*m));
	if (dis != NULL && strcasecmp(dis, "true") == 0)
		m->disabled = 1;
	if (ep != NULL && ep[0] != '\0') {
		n = strlen(ep);
		/* printable ASCII only: no blank, control or 8-bit byte */
		for (i = 0; i < n && ep[i] > ' ' && ep[i] < 0x7f; i++)
			;
		if (n >= 200 || strncmp(ep, "http://", 7) != 0 || n <= 7 ||
		    i < n || strpbrk(ep, "?#@") != NULL)
			return status_set(st, ST_CONFIG,
			    "AWS_EC2_METADATA_SERVICE_ENDPOINT '%s' is not a "
			    "plain http:// URL", ep);
		text_copy(m->base, ep, sizeof(m->base));
		while ((n = strlen(m->base)) > 8 && m->base[n - 1] == '/')
			m->base[n - 1] = '\0';
	} else if (mode != NULL && strcasecmp(mode, "IPv6") == 0)
		text_copy(m->base, IMDS_DEFAULT_V6, sizeof(m->base));
	else if (mode != NULL && mode[0] != '\0' &&
	    strcasecmp(mode, "IPv4") != 0)
		return status_set(st, ST_CONFIG,
		    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE '%s': expected "
		    "IPv4 or IPv6", mode);
	else
		text_copy(m->base, IMDS_DEFAULT, sizeof(m->base));
	if ((m->http = http_new(st)) == NULL)
		return st->code;
	return ST_OK;
}

void
imds_free(struct imds *m)
{
	http_free(m->http);
	m->http = NULL;
	OPENSSL_cleanse(m->token, sizeof(m->token));
	m->have_token = 0;
}

unsigned long
imds_requests(const struct imds *m)
{
	return m->http ? http_count(m->http) : 0;
}

/*
 * One request; ST_OK with resp, or ST_UNAVAIL.  Not inlined: its URL and
 * header buffers would join imds_get's reply in one frame over 4 KiB.
 */
static int __attribute__((noinline))
imds_once(struct imds *m, const char *method, const char *item,
    int64_t deadline, struct http_resp *resp, struct status *st)
{
	char url[CAP_URL], hdr[CAP_TOKEN + 64];
	struct http_req req;
	int64_t left = mono_left(deadline);
	int rc;

	if (snprintf(url, sizeof(url), "%s/latest/%s", m->base, item) >=
	    (int)sizeof(url))
		return status_set(st, ST_SOFTWARE, "metadata URL too long");
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.cap = CAP_IMDS_BODY;
	req.total_ms = left < IMDS_ATTEMPT_MS ? (long)left : IMDS_ATTEMPT_MS;
	req.connect_ms = IMDS_CONNECT_MS;
	req.protocols = HTTP_PROTO_HTTP;
	req.no_proxy = 1;
	if (strcmp(method, "PUT") == 0) {
		if (snprintf(hdr, sizeof(hdr),
		    "X-aws-ec2-metadata-token-ttl-seconds: %d",
		    IMDS_TOKEN_TTL) >= (int)sizeof(hdr))
			return status_set(st, ST_SOFTWARE, "header too long");
	} else if (snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s",
	    m->token) >= (int)sizeof(hdr))
		return status_set(st, ST_SOFTWARE, "header too long");
	req.headers[0] = hdr;
	if (req.total_ms <= 0)
		return status_set(st, ST_UNAVAIL, "no time left");
	rc = http_do(m->http, &req, resp, st);
	OPENSSL_cleanse(hdr, sizeof(hdr));
	return rc;
}

static int
imds_retryable(const struct http_resp *r, int rc)
{
	if (rc != ST_OK)	/* a connection error or a timeout; not an
				 * oversized reply, a bug or no memory */
		return rc == ST_UNAVAIL && !r->oversize;
	return r->status == 429 || (r->status >= 500 && r->status <= 599);
}

/*
 * Sends a request, retrying transient failures until the deadline.
 * ST_OK with a final reply in resp (any status but 429/5xx).
 */
static int
imds_request(struct imds *m, const char *method, const char *item,
    int64_t deadline, struct http_resp *resp, struct status *st)
{
	int attempt = 0, rc, cut, last_timed_out = 0;
	int64_t t0 = mono_ms();
	unsigned long sent;
	char last[CAP_MSG] = "";

	for (;;) {
		memset(resp, 0, sizeof(*resp));
		/* an attempt the deadline cuts short */
		cut = mono_left(deadline) < IMDS_ATTEMPT_MS;
		sent = imds_requests(m);
		rc = imds_once(m, method, item, deadline, resp, st);
		if (!imds_retryable(resp, rc)) {
			if (rc != ST_OK)
				status_wrap(st, "instance metadata '%s' %s "
				    "/latest/%s", m->base, method, item);
			return rc;
		}
		if (rc == ST_OK) {
			snprintf(last, sizeof(last), "HTTP %ld", resp->status);
			last_timed_out = 0;
			http_resp_free(resp);
		} else if (!(cut && last[0] != '\0' && (resp->timed_out ||
		    imds_requests(m) == sent))) {
			text_copy(last, st->msg, sizeof(last));
			last_timed_out = resp->timed_out;
		}
		/* else the deadline cut it short, or left no time for it: keep
		 * the earlier, more telling reason (HTTP 500) */
		attempt++;
		/* full jitter, cut to leave one more attempt */
		if (backoff_sleep(mono_jitter(backoff_ceiling(attempt,
		    IMDS_BACKOFF_BASE_MS, IMDS_BACKOFF_CAP_MS)), deadline,
		    IMDS_MIN_ATTEMPT_MS) != 0)
			break;
	}
	resp->timed_out = last_timed_out;	/* of the reason given */
	return status_set(st, ST_UNAVAIL, "instance metadata '%s' did not "
	    "answer %s /latest/%s: %s (%d attempts in %.1fs)", m->base, method,
	    item, last, attempt, (double)(mono_ms() - t0) / 1000.0);
}

/* Not inlined: its reply would join imds_get's in one frame over 4 KiB. */
static int __attribute__((noinline))
imds_token(struct imds *m, int64_t deadline, struct status *st)
{
	struct http_resp r;
	int rc;

	if ((rc = imds_request(m, "PUT", "api/token", deadline, &r, st)) !=
	    ST_OK) {
		if (r.timed_out)
			status_wrap(st, "no IMDSv2 token (a container more "
			    "hops away than the token's hop limit?)");
		return rc;
	}
	m->tokens++;
	if (r.status == 403)
		rc = status_set(st, ST_UNAVAIL, "instance metadata '%s' is "
		    "disabled (403 on the token request); enable it, or set "
		    "[gate] imds = no off EC2", m->base);
	else if (r.status != 200)
		rc = status_set(st, ST_UNAVAIL, "instance metadata '%s' "
		    "refused a token: HTTP %ld", m->base, r.status);
	else if (r.len == 0 || r.len >= sizeof(m->token) ||
	    strpbrk(r.body, "\r\n") != NULL || !text_utf8_valid(r.body, r.len))
		rc = status_set(st, ST_UNAVAIL, "instance metadata '%s' sent "
		    "a malformed token (%zu bytes)", m->base, r.len);
	else {
		memcpy(m->token, r.body, r.len + 1);
		m->have_token = 1;
	}
	http_resp_free(&r);	/* wipes the body */
	return rc;
}

/* imds_get, and with text 0 imds_get_bytes; *len the body's length. */
static int
imds_fetch(struct imds *m, const char *item, int64_t deadline, char *buf,
    size_t cap, int text, size_t *len, long *code, struct status *st)
{
	struct http_resp r;
	int rc, fresh;

	*code = 0;
	*len = 0;
	buf[0] = '\0';
	if (m->disabled)
		return status_set(st, ST_UNAVAIL, "instance metadata is "
		    "disabled by AWS_EC2_METADATA_DISABLED; unset it, or set "
		    "[gate] imds = no off EC2");
	for (fresh = 0; fresh < 2; fresh++) {
		if (!m->have_token &&
		    (rc = imds_token(m, deadline, st)) != ST_OK)
			return rc;
		if ((rc = imds_request(m, "GET", item, deadline, &r, st)) !=
		    ST_OK)
			return rc;
		if (r.status != 401)
			break;
		http_resp_free(&r);
		m->have_token = 0;	/* expired or revoked: one fresh one */
	}
	if (r.status == 401)
		return status_set(st, ST_UNAVAIL, "instance metadata '%s' "
		    "refused a fresh token for '%s' (401)", m->base, item);
	*code = r.status;
	if (r.status == 403)
		rc = status_set(st, ST_UNAVAIL, "instance metadata '%s' is "
		    "disabled (403)", m->base);
	else if (r.status != 200 && r.status != 404)
		rc = status_set(st, ST_UNAVAIL, "instance metadata '%s' "
		    "answered HTTP %ld for '%s'", m->base, r.status, item);
	else if (r.len >= cap)
		rc = status_set(st, ST_UNAVAIL, "instance metadata item '%s' "
		    "is too long (%zu bytes)", item, r.len);
	else if (text && r.status == 200 && (memchr(r.body, '\0', r.len) !=
	    NULL || !text_utf8_valid(r.body, r.len)))
		rc = status_set(st, ST_UNAVAIL, "instance metadata item '%s' "
		    "is not valid text", item);
	else {
		memcpy(buf, r.body, r.len + 1);
		*len = r.len;
		rc = ST_OK;
	}
	http_resp_free(&r);	/* wipes the body: it may hold credentials */
	return rc;
}

int
imds_get(struct imds *m, const char *item, int64_t deadline, char *buf,
    size_t cap, long *code, struct status *st)
{
	size_t len;

	return imds_fetch(m, item, deadline, buf, cap, 1, &len, code, st);
}

int
imds_get_bytes(struct imds *m, const char *item, int64_t deadline, char *buf,
    size_t cap, size_t *len, long *code, struct status *st)
{
	return imds_fetch(m, item, deadline, buf, cap, 0, len, code, st);
}

int
imds_instance_id_ok(const char *id)
{
	size_t n = strlen(id), i;

	if ((n != 2 + 8 && n != 2 + 17) || strncmp(id, "i-", 2) != 0)
		return 0;
	for (i = 2; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

int
imds_get_line(struct imds *m, const char *item, int64_t deadline, char *out,
    size_t len, long *code, struct status *st)
{
	char *buf;
	int rc;

	out[0] = '\0';
	/* a whole IMDS reply, not len: a 404's body (IMDS sends an HTML
	 * page) is longer than any line; on the heap, too large for a frame
	 * (this also runs in the watch thread, so no static buffer) */
	if ((buf = malloc(CAP_IMDS_BODY)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	if ((rc = imds_get(m, item, deadline, buf, CAP_IMDS_BODY, code,
	    st)) == ST_OK && *code == 200) {
		text_trim(buf);
		if (strlen(buf) >= len)
			rc = status_set(st, ST_UNAVAIL, "instance metadata "
			    "item '%s' is too long", item);
		else
			text_copy(out, buf, len);
	}
	free(buf);
	return rc;
}

int
imds_instance_id(struct imds *m, int64_t deadline, char *out, size_t len,
    struct status *st)
{
	char line[IMDS_LINE];
	long code;
	int rc;

	if ((rc = imds_get_line(m, "meta-data/instance-id", deadline, line,
	    sizeof(line), &code, st)) != ST_OK)
		return rc;
	if (code != 200)
		return status_set(st, ST_UNAVAIL, "instance metadata has no "
		    "instance-id (HTTP %ld)", code);
	if (!imds_instance_id_ok(line) || strlen(line) >= len)
		return status_set(st, ST_UNAVAIL, "instance metadata sent a "
		    "malformed instance id '%.40s'", line);
	text_copy(out, line, len);
	return ST_OK;
}
