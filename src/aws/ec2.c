#include "aws/ec2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "base/backoff.h"
#include "base/mono.h"
#include "aws/sigv4.h"
#include "base/text.h"

#define EC2_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define EC2_MIN_ATTEMPT_MS 200	/* the last attempt gets at least this */

/* --- pure parts --- */

int
ec2_region_ok(const char *r)
{
	size_t n = strlen(r), i;

	if (n < 3 || n >= CAP_REGION || r[0] == '-' || r[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') ||
		    (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
			return 0;
	return 1;
}

int
ec2_domain_ok(const char *d)
{
	size_t n = strlen(d), i;

	if (n < 3 || n >= EC2_CAP_DOMAIN || d[0] == '.' || d[0] == '-' ||
	    d[n - 1] == '.' || strstr(d, "..") != NULL ||
	    strchr(d, '.') == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') ||
		    (d[i] >= '0' && d[i] <= '9') || d[i] == '-' ||
		    d[i] == '.'))
			return 0;
	return 1;
}

/* 1 for a dotted quad in 127.0.0.0/8. */
static int
ec2_is_loopback4(const char *h)
{
	long part;
	int parts = 0;
	const char *p = h;
	char *end;

	if (strncmp(h, "127.", 4) != 0)
		return 0;
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			return 0;
		part = strtol(p, &end, 10);
		if (part > 255 || end - p > 3)
			return 0;
		parts++;
		p = end;
		if (*p == '.' && parts < 4)
			p++;
		else if (*p != '\0')
			return 0;
	}
	return parts == 4;
}

/* Checks an [IPv6] or DNS host; host is lowercased. */
static int
ec2_host_ok(char *host)
{
	size_t n = strlen(host), i;

	if (n == 0)
		return 0;
	if (host[0] == '[') {
		if (n < 4 || host[n - 1] != ']')
			return 0;
		for (i = 1; i < n - 1; i++)
			if (strchr("0123456789abcdefABCDEF:.", host[i]) == NULL)
				return 0;
		return 1;
	}
	if (host[0] == '.' || host[0] == '-' || strstr(host, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (host[i] >= 'A' && host[i] <= 'Z')
			host[i] = (char)(host[i] - 'A' + 'a');
		if (!((host[i] >= 'a' && host[i] <= 'z') ||
		    (host[i] >= '0' && host[i] <= '9') || host[i] == '-' ||
		    host[i] == '.'))
			return 0;
	}
	return 1;
}

int
ec2_parse_endpoint(const char *url, const char *source,
    struct ec2_endpoint *ep, struct status *st)
{
	char host[EC2_CAP_HOST], port[8] = "";
	const char *p, *auth, *end, *colon;
	size_t hl;
	long pn = 0;
	int https;

	memset(ep, 0, sizeof(*ep));
	ep->source = source;
	if (strncasecmp(url, "https://", 8) == 0)
		https = 1;
	else if (strncasecmp(url, "http://", 7) == 0)
		https = 0;
	else
		return status_set(st, ST_CONFIG, "%s '%s': expected "
		    "https://HOST[:PORT]", source, url);
	auth = url + (https ? 8 : 7);
	end = auth + strcspn(auth, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0)
		return status_set(st, ST_CONFIG, "%s '%s': expected "
		    "https://HOST[:PORT] with no path, query or fragment",
		    source, url);
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return status_set(st, ST_CONFIG, "%s '%s': user information "
		    "is not allowed in the URL", source, url);
	if (auth[0] == '[') {
		p = memchr(auth, ']', (size_t)(end - auth));
		colon = (p != NULL && p + 1 < end && p[1] == ':') ? p + 1 :
		    NULL;
		if (p == NULL || (p + 1 < end && colon == NULL))
			return status_set(st, ST_CONFIG, "%s '%s': bad IPv6 "
			    "address", source, url);
	} else
		colon = memchr(auth, ':', (size_t)(end - auth));
	hl = (size_t)((colon ? colon : end) - auth);
	if (hl == 0 || hl >= sizeof(host) - 8)
		return status_set(st, ST_CONFIG, "%s '%s': bad host", source,
		    url);
	memcpy(host, auth, hl);
	host[hl] = '\0';
	if (!ec2_host_ok(host))
		return status_set(st, ST_CONFIG, "%s '%s': bad host", source,
		    url);
	if (colon != NULL) {
		if ((size_t)(end - colon - 1) >= sizeof(port) ||
		    end - colon - 1 == 0)
			return status_set(st, ST_CONFIG, "%s '%s': bad port",
			    source, url);
		memcpy(port, colon + 1, (size_t)(end - colon - 1));
		port[end - colon - 1] = '\0';
		if (strspn(port, "0123456789") != strlen(port) ||
		    text_long(port, 1, 65535, &pn) != 0)
			return status_set(st, ST_CONFIG, "%s '%s': bad port",
			    source, url);
	}
	ep->https = https;
	ep->loopback = strcmp(host, "localhost") == 0 ||
	    strcmp(host, "[::1]") == 0 || ec2_is_loopback4(host);
	if (!https && !ep->loopback)
		return status_set(st, ST_CONFIG, "%s '%s': plain http is only "
		    "allowed for a loopback host (tests); use https://",
		    source, url);
	if (pn == (https ? 443 : 80))
		pn = 0;
	if (pn != 0 && snprintf(ep->host, sizeof(ep->host), "%s:%ld", host,
	    pn) >= (int)sizeof(ep->host))
		return status_set(st, ST_CONFIG, "%s: host too long", source);
	if (pn == 0)
		text_copy(ep->host, host, sizeof(ep->host));
	if (snprintf(ep->url, sizeof(ep->url), "%s://%s/",
	    https ? "https" : "http", ep->host) >= (int)sizeof(ep->url))
		return status_set(st, ST_CONFIG, "%s: URL too long", source);
	return ST_OK;
}

int
ec2_resolve_endpoint(const char *url_ec2, const char *url_any,
    const char *region, const char *domain, struct ec2_endpoint *ep,
    struct status *st)
{
	char url[CAP_URL];

	if (url_ec2 != NULL && url_ec2[0] != '\0')
		return ec2_parse_endpoint(url_ec2, "AWS_ENDPOINT_URL_EC2", ep,
		    st);
	if (url_any != NULL && url_any[0] != '\0')
		return ec2_parse_endpoint(url_any, "AWS_ENDPOINT_URL", ep, st);
	if (!ec2_region_ok(region))
		return status_set(st, ST_CONFIG, "region '%s' is not a region "
		    "name", region);
	if (domain == NULL || domain[0] == '\0')
		domain = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" :
		    "amazonaws.com";
	if (!ec2_domain_ok(domain))
		return status_set(st, ST_CONFIG, "services/domain '%s' is not "
		    "a domain name", domain);
	if (snprintf(url, sizeof(url), "https://ec2.%s.%s", region,
	    domain) >= (int)sizeof(url))
		return status_set(st, ST_CONFIG, "endpoint too long");
	return ec2_parse_endpoint(url, "the region", ep, st);
}

static int
ec2_code_in(const char *code, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(code, *list) == 0)
			return 1;
	return 0;
}

enum ec2_class
ec2_classify(long status, const char *code)
{
	static const char *const throttle[] = {
		"RequestLimitExceeded", "Throttling", "ThrottlingException",
		"ThrottledException", "RequestThrottled",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException", "BandwidthLimitExceeded",
		"LimitExceededException", "SlowDown", "EC2ThrottledException",
		"PriorRequestNotComplete", NULL
	};
	static const char *const transient[] = {
		"RequestTimeout", "RequestTimeoutException", "InternalError",
		"InternalFailure", "ServiceUnavailable", "Unavailable", NULL
	};
	static const char *const auth[] = {
		"AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch",
		"IncompleteSignature", "MissingAuthenticationToken",
		"InvalidAccessKeyId", "ExpiredToken", "ExpiredTokenException",
		NULL
	};

	if (code == NULL)
		code = "";
	if (status >= 200 && status <= 299)
		return EC2_C_OK;
	if (ec2_code_in(code, throttle))
		return EC2_C_THROTTLE;
	if (strcmp(code, "UnauthorizedOperation") == 0)
		return EC2_C_DENIED;
	if (strcmp(code, "RequestExpired") == 0)
		return EC2_C_EXPIRED;
	if (ec2_code_in(code, auth))
		return EC2_C_AUTH;
	if (ec2_code_in(code, transient))
		return EC2_C_TRANSIENT;
	if (status == 429)
		return EC2_C_THROTTLE;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return EC2_C_TRANSIENT;
	return EC2_C_OTHER;
}

int
ec2_filter_escape(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src != '\0'; src++) {
		if (strchr("*?\\", *src) != NULL) {
			if (o + 1 >= len)
				goto full;
			dst[o++] = '\\';
		}
		if (o + 1 >= len)
			goto full;
		dst[o++] = *src;
	}
	dst[o] = '\0';
	return 0;
full:
	if (len > 0)
		dst[0] = '\0';
	return -1;
}

void
ec2_backoff_params(const char *env, long *base, long *cap)
{
	long n;

	*base = EC2_BACKOFF_BASE_MS;
	*cap = EC2_BACKOFF_CAP_MS;
	if (env != NULL && env[0] != '\0' && text_long(env, 1, 60000, &n) == 0) {
		*base = n;
		*cap = n * (EC2_BACKOFF_CAP_MS / EC2_BACKOFF_BASE_MS);
	}
}

int64_t
ec2_poll_delay(int attempt)
{
	long base, cap;
	int64_t c;

	ec2_backoff_params(getenv(EC2_TEST_BACKOFF), &base, &cap);
	c = backoff_ceiling(attempt, base, cap / 2);
	return c / 2 + mono_jitter(c - c / 2);
}

/* --- the client --- */

/* An environment variable, or NULL when unset or empty. */
static const char *
ec2_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static int
ec2_region(struct ec2 *e, int64_t deadline, struct status *st)
{
	const char *v;
	long code;
	int rc;

	if ((v = ec2_env("AWS_REGION")) != NULL)
		e->region_source = "AWS_REGION";
	else if ((v = ec2_env("AWS_DEFAULT_REGION")) != NULL)
		e->region_source = "AWS_DEFAULT_REGION";
	if (v != NULL) {
		if (!ec2_region_ok(v))
			return status_set(st, ST_CONFIG, "%s '%s' is not a "
			    "region name (like us-east-1)", e->region_source,
			    v);
		text_copy(e->region, v, sizeof(e->region));
		return ST_OK;
	}
	if (e->imds == NULL)
		return status_set(st, ST_CONFIG, "no AWS region: set AWS_REGION "
		    "(instance metadata is off)");
	e->region_source = "instance metadata";
	if ((rc = imds_get_line(e->imds, "meta-data/placement/region",
	    deadline, e->region, sizeof(e->region), &code, st)) != ST_OK)
		return status_wrap(st, "region");
	if (!ec2_region_ok(e->region))
		return status_set(st, ST_UNAVAIL, "instance metadata sent a "
		    "malformed region '%s'", e->region);
	return ST_OK;
}

static int
ec2_endpoint(struct ec2 *e, int64_t deadline, struct status *st)
{
	const char *u1 = ec2_env("AWS_ENDPOINT_URL_EC2");
	const char *u2 = ec2_env("AWS_ENDPOINT_URL");
	char domain[EC2_CAP_DOMAIN] = "";
	long code;
	int rc;

	if (u1 == NULL && u2 == NULL && e->imds != NULL) {
		if ((rc = imds_get_line(e->imds, "meta-data/services/domain",
		    deadline, domain, sizeof(domain), &code, st)) != ST_OK)
			return status_wrap(st, "services/domain");
		if (domain[0] != '\0' && !ec2_domain_ok(domain))
			return status_set(st, ST_UNAVAIL, "instance metadata "
			    "sent a malformed services/domain '%s'", domain);
	}
	if ((rc = ec2_resolve_endpoint(u1, u2, e->region, domain, &e->ep,
	    st)) != ST_OK)
		return rc;
	if (u1 == NULL && u2 == NULL)
		e->ep.source = domain[0] ? "region and services/domain" :
		    "region";
	return ST_OK;
}

int
ec2_open(struct ec2 *e, struct imds *m, int64_t deadline, struct status *st)
{
	const char *ca = ec2_env("AWS_CA_BUNDLE");
	int rc;

	memset(e, 0, sizeof(*e));
	e->imds = m;
	ec2_backoff_params(getenv(EC2_TEST_BACKOFF), &e->base_ms, &e->cap_ms);
	if (ca != NULL && (ca[0] != '/' ||
	    text_copy(e->ca_file, ca, sizeof(e->ca_file)) >=
	    sizeof(e->ca_file)))
		return status_set(st, ST_CONFIG, "AWS_CA_BUNDLE '%s' is not "
		    "an absolute path", ca);
	if ((rc = ec2_region(e, deadline, st)) != ST_OK ||
	    (rc = ec2_endpoint(e, deadline, st)) != ST_OK)
		return rc;
	if ((rc = creds_load(&e->creds, m, deadline, st)) != ST_OK)
		return rc;
	if ((e->http = http_new(st)) == NULL) {
		creds_free(&e->creds);
		return st->code;
	}
	return ST_OK;
}

void
ec2_close(struct ec2 *e)
{
	http_free(e->http);
	e->http = NULL;
	creds_free(&e->creds);
}

void
ec2_describe(const struct ec2 *e, char *buf, size_t len)
{
	char cs[CREDS_CAP_ROLE + 64];

	snprintf(buf, len, "region %s (%s), endpoint %s (%s), %s", e->region,
	    e->region_source, e->ep.url, e->ep.source,
	    creds_source(&e->creds, cs, sizeof(cs)));
}

/* Who is refused, for permission messages. */
static const char *
ec2_who(const struct ec2 *e, char *buf, size_t len)
{
	if (e->creds.from == CREDS_ROLE)
		snprintf(buf, len, "the instance role '%s'", e->creds.role);
	else
		snprintf(buf, len, "AWS_ACCESS_KEY_ID");
	return buf;
}

/* The message for a reply that is not retried; kept short (a verdict). */
static int
ec2_refused(struct ec2 *e, const char *action, enum ec2_class cls,
    long status, const char *code, const char *msg, struct status *st)
{
	char who[CREDS_CAP_ROLE + 64];

	ec2_who(e, who, sizeof(who));
	switch (cls) {
	case EC2_C_DENIED:
		return status_set(st, ST_NOPERM, "EC2 denied %s "
		    "(UnauthorizedOperation): %s lacks ec2:%s; allow it in "
		    "its IAM policy (docs/iam.md)", action, who, action);
	case EC2_C_EXPIRED:
		return status_set(st, ST_NOPERM, "EC2 refused %s "
		    "(RequestExpired): clock skew, the system clock is over "
		    "15 minutes off; fix time sync (chronyc tracking)", action);
	case EC2_C_AUTH:
		if (strcmp(code, "SignatureDoesNotMatch") == 0)
			return status_set(st, ST_NOPERM, "EC2 refused the "
			    "signature of %s (SignatureDoesNotMatch): wrong "
			    "secret key for %s, or the request was altered on "
			    "the way", action, who);
		if (strcmp(code, "InvalidClientTokenId") == 0)
			return status_set(st, ST_NOPERM, "EC2 does not know "
			    "the access key or session token "
			    "(InvalidClientTokenId) of %s: revoked, expired "
			    "or from another partition", who);
		return status_set(st, ST_NOPERM, "EC2 could not validate "
		    "the credentials (%s) of %s for %s; check them", code,
		    who, action);
	default:
		return status_set(st, ST_UNAVAIL, "EC2 %s failed: HTTP %ld "
		    "%s%s%.100s", action, status, code[0] ? code : "(no EC2 "
		    "error code)", msg[0] ? ": " : "", msg);
	}
}

/* Formats the attempt's time as YYYYMMDDTHHMMSSZ. */
static int
ec2_amz_date(char out[SIGV4_CAP_DATE], struct status *st)
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, SIGV4_CAP_DATE, "%Y%m%dT%H%M%SZ", &tm) == 0)
		return status_set(st, ST_OSERR, "cannot format the time");
	return ST_OK;
}

struct ec2_lines {
	char host[EC2_CAP_HOST + 8];
	char date[SIGV4_CAP_DATE + 16];
	char token[SIGV4_CAP_HEADER_VALUE + 32];
	char authz[SIGV4_CAP_AUTHZ + 32];
	struct sigv4_out sig;
};

/* Signs one attempt (the caller refreshed the credentials) and sends it;
 * ST_OK when any reply arrived. */
static int
ec2_send(struct ec2 *e, const char *body, size_t bodylen, int64_t deadline,
    struct ec2_lines *l, struct http_resp *resp, struct status *st)
{
	struct sigv4_header hdrs[3];
	struct sigv4_req sr;
	struct sigv4_cred cred;
	struct http_req req;
	char amz[SIGV4_CAP_DATE];
	int64_t left = mono_left(deadline);
	size_t i, nh = 0;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (left <= 0)	/* never a request past the deadline (fuzz_ec2) */
		return status_set(st, ST_UNAVAIL, "no time left before the "
		    "deadline");
	if ((rc = ec2_amz_date(amz, st)) != ST_OK)
		return rc;
	hdrs[0].name = "Host";
	hdrs[0].value = e->ep.host;
	hdrs[1].name = "Content-Type";
	hdrs[1].value = EC2_CONTENT_TYPE;
	hdrs[2].name = "X-Amz-Date";
	hdrs[2].value = amz;
	memset(&sr, 0, sizeof(sr));
	sr.method = "POST";
	sr.path = "/";
	sr.headers = hdrs;
	sr.nheaders = 3;
	sr.body = (const unsigned char *)body;
	sr.bodylen = bodylen;
	sr.region = e->region;
	sr.service = "ec2";
	sr.amz_date = amz;
	creds_sigv4(&e->creds, &cred);
	if ((rc = sigv4_sign(&sr, &cred, &l->sig, st)) != ST_OK)
		return status_wrap(st, "signing");
	memset(&req, 0, sizeof(req));
	if (snprintf(l->host, sizeof(l->host), "Host: %s", e->ep.host) >=
	    (int)sizeof(l->host) ||
	    snprintf(l->date, sizeof(l->date), "X-Amz-Date: %s", amz) >=
	    (int)sizeof(l->date) ||
	    snprintf(l->authz, sizeof(l->authz), "Authorization: %s",
	    l->sig.authz) >= (int)sizeof(l->authz))
		return status_set(st, ST_SOFTWARE, "EC2 request header too "
		    "long");
	req.headers[nh++] = l->host;
	req.headers[nh++] = "Content-Type: " EC2_CONTENT_TYPE;
	req.headers[nh++] = l->date;
	for (i = 0; i < l->sig.nadd; i++) {
		if (strcasecmp(l->sig.add[i].name, "X-Amz-Security-Token") != 0)
			continue;	/* X-Amz-Date is sent above */
		if (snprintf(l->token, sizeof(l->token), "%s: %s",
		    l->sig.add[i].name, l->sig.add[i].value) >=
		    (int)sizeof(l->token))
			return status_set(st, ST_SOFTWARE, "session token "
			    "header too long");
		req.headers[nh++] = l->token;
	}
	req.headers[nh++] = l->authz;
	req.method = "POST";
	req.url = e->ep.url;
	req.body = body;
	req.bodylen = bodylen;
	req.cap = CAP_HTTP_BODY;
	req.total_ms = left < EC2_ATTEMPT_MS ? (long)left : EC2_ATTEMPT_MS;
	req.connect_ms = EC2_CONNECT_MS;
	req.protocols = e->ep.https ? HTTP_PROTO_HTTPS : HTTP_PROTO_HTTP;
	req.no_proxy = e->ep.loopback;
	req.ca_file = e->ca_file[0] ? e->ca_file : NULL;
	e->requests++;
	return http_do(e->http, &req, resp, st);
}

/* Test-only (ec2.h): the fixed retry interval in ms, 0 when unset. */
static int64_t
ec2_fixed_ms(void)
{
	const char *v = getenv(EC2_TEST_FIXED_RETRY);
	long n;

	if (v == NULL || v[0] == '\0' || text_long(v, 1, 60000, &n) != 0)
		return 0;
	return n;
}

/*
 * One action, retried as the rules say.  ST_OK with a 2xx reply in resp
 * (the caller frees it), or a failure.
 */
static int
ec2_call(struct ec2 *e, const char *action, const char *body,
    size_t bodylen, int64_t deadline, struct http_resp *resp,
    struct status *st)
{
	struct ec2_lines *l;
	char code[EC2XML_CAP_CODE], msg[CAP_MSG], last[96] = "";
	enum ec2_class cls;
	int64_t t0 = mono_ms(), d;
	int attempt, rc, cut;
	unsigned long sent;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	for (attempt = 0;; attempt++) {
		/*
		 * Role credentials before each attempt: they may expire while
		 * retries back off.  A failure here is final, not retried as
		 * a transport error: instance metadata retried on its own.
		 */
		if ((rc = creds_fresh(&e->creds, e->imds, deadline, st)) !=
		    ST_OK)
			goto out;
		cut = mono_left(deadline) < EC2_ATTEMPT_MS;
		sent = e->requests;
		rc = ec2_send(e, body, bodylen, deadline, l, resp, st);
		OPENSSL_cleanse(l, sizeof(*l));
		if (rc != ST_OK && resp->oversize) {
			status_wrap(st, "EC2 %s at %s", action, e->ep.url);
			goto out;
		}
		/* a certificate does not heal by retrying: at once */
		if (rc != ST_OK && resp->cert_error) {
			text_copy(msg, st->msg, sizeof(msg));
			if (e->ca_file[0] != '\0')
				rc = status_set(st, ST_UNAVAIL, "EC2 %s at %s: "
				    "TLS certificate refused: %.160s (not "
				    "retried; check that AWS_CA_BUNDLE '%.100s' "
				    "holds the issuer of the endpoint's "
				    "certificate, and the endpoint)", action,
				    e->ep.url, msg, e->ca_file);
			else
				rc = status_set(st, ST_UNAVAIL, "EC2 %s at %s: "
				    "TLS certificate refused: %.160s (not "
				    "retried; the system's CA store does not "
				    "trust it: set AWS_CA_BUNDLE to a CA file "
				    "that does, or check the endpoint)", action,
				    e->ep.url, msg);
			goto out;
		}
		if (rc != ST_OK && rc != ST_UNAVAIL)
			goto out;
		if (rc != ST_OK) {
			/* an attempt the deadline cut short (or left no time
			 * for) keeps the earlier, more telling reason (HTTP
			 * 503 RequestLimitExceeded) */
			if (!(cut && last[0] != '\0' && (resp->timed_out ||
			    e->requests == sent)))
				snprintf(last, sizeof(last), "%.80s", st->msg);
		} else {
			if (ec2xml_error(resp->body, resp->len, code,
			    sizeof(code), msg, sizeof(msg), NULL, 0) != 0)
				code[0] = msg[0] = '\0';
			cls = ec2_classify(resp->status, code);
			if (cls == EC2_C_OK)
				goto out;
			if (cls != EC2_C_THROTTLE && cls != EC2_C_TRANSIENT) {
				rc = ec2_refused(e, action, cls, resp->status,
				    code, msg, st);
				http_resp_free(resp);
				goto out;
			}
			snprintf(last, sizeof(last), "HTTP %ld%s%s",
			    resp->status, code[0] ? " " : "", code);
			http_resp_free(resp);
		}
		text_copy(e->last_retry, last, sizeof(e->last_retry));
		if ((d = ec2_fixed_ms()) == 0)
			d = mono_jitter(backoff_ceiling(attempt, e->base_ms,
			    e->cap_ms));
		if (backoff_sleep(d, deadline, EC2_MIN_ATTEMPT_MS) != 0)
			break;
		e->retries++;
	}
	rc = status_set(st, ST_UNAVAIL, "EC2 %s at %s did not succeed before "
	    "the deadline: %d attempts in %.1fs, the last: %s", action,
	    e->ep.url, attempt + 1, (double)(mono_ms() - t0) / 1000.0, last);
out:
	free(l);
	return rc;
}

/* Appends name=value to the form; ST_OK or ST_SOFTWARE. */
static int
ec2_add(char *body, size_t *len, const char *name, const char *value,
    struct status *st)
{
	if (sigv4_form_add(body, EC2_CAP_BODY, len, name, value) != 0)
		return status_set(st, ST_SOFTWARE, "EC2 request too long");
	return ST_OK;
}

/* Action=...&Version=... into a new body. */
static char *
ec2_body(const char *action, size_t *len, struct status *st)
{
	char *body = malloc(EC2_CAP_BODY);

	*len = 0;
	if (body == NULL) {
		status_set(st, ST_OSERR, "out of memory");
		return NULL;
	}
	body[0] = '\0';
	if (ec2_add(body, len, "Action", action, st) != ST_OK ||
	    ec2_add(body, len, "Version", EC2_API_VERSION, st) != ST_OK) {
		free(body);
		return NULL;
	}
	return body;
}

/* The DescribeTags request body without NextToken. */
static int
ec2_describe_body(char *body, size_t *len, const char *iid,
    const char *const *keys, size_t nkeys, struct status *st)
{
	char name[64], esc[CAP_TAG_KEY_B * 2];
	size_t i;
	int rc;

	if ((rc = ec2_add(body, len, "Filter.1.Name", "resource-id", st)) !=
	    ST_OK ||
	    (rc = ec2_add(body, len, "Filter.1.Value.1", iid, st)) != ST_OK ||
	    (rc = ec2_add(body, len, "Filter.2.Name", "key", st)) != ST_OK)
		return rc;
	for (i = 0; i < nkeys; i++) {
		snprintf(name, sizeof(name), "Filter.2.Value.%zu", i + 1);
		if (ec2_filter_escape(esc, sizeof(esc), keys[i]) != 0)
			return status_set(st, ST_SOFTWARE, "tag key too long");
		if ((rc = ec2_add(body, len, name, esc, st)) != ST_OK)
			return rc;
	}
	snprintf(name, sizeof(name), "%d", EC2_MAX_RESULTS);
	return ec2_add(body, len, "MaxResults", name, st);
}

/* Keeps the page's items for iid and the asked keys, once each. */
static int
ec2_keep(const struct ec2xml_tag *page, size_t np, const char *iid,
    const char *const *keys, size_t nkeys, struct ec2xml_tag *out,
    size_t cap, size_t *n, struct status *st)
{
	size_t i, j, k;

	for (i = 0; i < np; i++) {
		if (strcmp(page[i].resource_id, iid) != 0)
			continue;
		for (k = 0; k < nkeys && strcmp(keys[k], page[i].key) != 0;
		    k++)
			;
		for (j = 0; j < *n && strcmp(out[j].key, page[i].key) != 0;
		    j++)
			;
		if (k == nkeys || j < *n)
			continue;
		if (*n >= cap)
			return status_set(st, ST_SOFTWARE, "too many tags");
		out[(*n)++] = page[i];
	}
	return ST_OK;
}

/* One DescribeTags page: on the heap, too large for a frame. */
struct ec2_page {
	struct ec2xml_tag tag[EC2_MAX_RESULTS];
	char next[EC2XML_CAP_NEXT_TOKEN];	/* "" on the first page */
};

int
ec2_describe_tags(struct ec2 *e, const char *iid, const char *const *keys,
    size_t nkeys, int64_t deadline, struct ec2xml_tag *out, size_t cap,
    size_t *n, struct status *st)
{
	struct ec2_page *pg = NULL;
	struct ec2xml_tag *page;
	struct http_resp resp;
	char *next, *body;
	size_t len, base, np;
	int pages, rc;

	*n = 0;
	if (!imds_instance_id_ok(iid) || nkeys == 0 || nkeys > EC2_CAP_KEYS)
		return status_set(st, ST_SOFTWARE, "DescribeTags: bad "
		    "arguments");
	if ((body = ec2_body("DescribeTags", &len, st)) == NULL)
		return st->code;
	if ((rc = ec2_describe_body(body, &len, iid, keys, nkeys, st)) !=
	    ST_OK)
		goto out;
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		rc = status_set(st, ST_OSERR, "out of memory");
		goto out;
	}
	page = pg->tag;
	next = pg->next;
	base = len;
	for (pages = 0;; pages++) {
		if (pages == EC2_CAP_PAGES) {
			rc = status_set(st, ST_UNAVAIL, "EC2 DescribeTags sent "
			    "more than %d pages for %zu keys", EC2_CAP_PAGES,
			    nkeys);
			goto out;
		}
		len = base;
		body[len] = '\0';
		if (next[0] != '\0' && (rc = ec2_add(body, &len, "NextToken",
		    next, st)) != ST_OK)
			goto out;
		if ((rc = ec2_call(e, "DescribeTags", body, len, deadline,
		    &resp, st)) != ST_OK)
			goto out;
		rc = ec2xml_describe_tags(resp.body, resp.len, page,
		    EC2_MAX_RESULTS, &np, next, sizeof(pg->next), st);
		http_resp_free(&resp);
		if (rc != ST_OK) {
			status_wrap(st, "EC2 DescribeTags at %s", e->ep.url);
			goto out;
		}
		if ((rc = ec2_keep(page, np, iid, keys, nkeys, out, cap, n,
		    st)) != ST_OK || next[0] == '\0')
			goto out;
	}
out:
	free(pg);
	free(body);
	if (rc != ST_OK)
		*n = 0;
	return rc;
}

int
ec2_create_tags(struct ec2 *e, const char *iid, const char *const *keys,
    const char *const *values, size_t n, int64_t deadline,
    struct status *st)
{
	struct http_resp resp;
	char name[64], *body;
	size_t len, i;
	int rc;

	if (!imds_instance_id_ok(iid) || n == 0 || n > CAP_TAGS)
		return status_set(st, ST_SOFTWARE, "CreateTags: bad arguments");
	if ((body = ec2_body("CreateTags", &len, st)) == NULL)
		return st->code;
	if ((rc = ec2_add(body, &len, "ResourceId.1", iid, st)) != ST_OK)
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "Tag.%zu.Key", i + 1);
		if ((rc = ec2_add(body, &len, name, keys[i], st)) != ST_OK)
			goto out;
		snprintf(name, sizeof(name), "Tag.%zu.Value", i + 1);
		if ((rc = ec2_add(body, &len, name, values[i], st)) != ST_OK)
			goto out;
	}
	if ((rc = ec2_call(e, "CreateTags", body, len, deadline, &resp, st)) !=
	    ST_OK)
		goto out;
	rc = ec2xml_create_tags(resp.body, resp.len, st);
	http_resp_free(&resp);
	if (rc != ST_OK)
		status_wrap(st, "EC2 CreateTags at %s", e->ep.url);
out:
	free(body);
	return rc;
}
