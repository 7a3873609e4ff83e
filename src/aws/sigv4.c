/*
 * sigv4.c: AWS Signature Version 4, as botocore's SigV4Auth computes it.
 *
 * Rules this module keeps:
 * - It MUST stay pure: no network, no globals, no exit; every failure
 *   returns a status code with a message.  Its one allocation is the
 *   working buffers of each call (struct work), too large for a frame.
 * - Every input MUST be checked against its SIGV4_CAP_* before use, and
 *   every output MUST be written through a bounded buffer; output that
 *   does not fit is an error, never a truncated signature.
 * - The secret, "AWS4" + secret and every derived key (kDate, kRegion,
 *   kService, kSigning) MUST be wiped with OPENSSL_cleanse before return,
 *   on every path, and MUST NOT appear in a message.
 * - The session token MUST be signed: it is put in the canonical headers
 *   as x-amz-security-token before the signature is computed, and is
 *   handed back in out->add for the caller to send.
 * - What is signed MUST be what is sent: the path is encoded as given, not
 *   normalised (a path AWS would normalise is refused, unless the caller
 *   asks for normalize_path, AWS's own rule), the body is hashed
 *   byte for byte, header values are only trimmed as SigV4 specifies, and
 *   values that cannot be sent (CR, LF, other controls) are refused.
 * - Canonical form: method; path with every byte but A-Za-z0-9-_.~/
 *   percent-encoded once (botocore's quote(path, safe='/~')); query pairs
 *   percent-decoded ('+' is a literal plus), re-encoded with the unreserved
 *   set and sorted by name then value; header names lowercased and stably
 *   sorted, values trimmed with inner blank runs collapsed, repeated names
 *   joined with ',' in the order given; signed-header list; SHA-256 of the
 *   body in lowercase hex.
 */
#include "aws/sigv4.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/caps.h"
#include "base/status.h"
#include "base/text.h"

#define SHA256_LEN 32
#define SHA256_HEX (2 * SHA256_LEN + 1)
#define QUERY_POOL (3 * SIGV4_CAP_QUERY + 2 * SIGV4_CAP_QUERY_PARAMS)

static const char hexdig[] = "0123456789ABCDEF";
static const char hexlow[] = "0123456789abcdef";

/* A bounded string builder: once full, it stays full and says so. */
struct sb {
	char *buf;
	size_t cap, len;
	int full;
};

struct hdr {
	char name[SIGV4_CAP_HEADER_NAME];	/* lowercased */
	const char *value;			/* as given, untrimmed */
};

struct qparam {
	size_t name, value;			/* offsets into the pool */
};

/*
 * The working buffers of one signature, some 12 KiB: allocated once per
 * sigv4_sign call, since no function frame may exceed 4 KiB (the programs
 * run under a 128 KiB stack).
 */
struct work {
	char signed_buf[SIGV4_CAP_SIGNED_HEADERS];
	struct hdr h[SIGV4_CAP_HEADERS];
	char norm[SIGV4_CAP_PATH];		/* canon_path */
	char poolbuf[QUERY_POOL];		/* canon_query */
	struct qparam prm[SIGV4_CAP_QUERY_PARAMS];
	char raw[SIGV4_CAP_QUERY];		/* query_part */
};

static void
sb_init(struct sb *b, char *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->full = 0;
	buf[0] = '\0';
}

static void
sb_addn(struct sb *b, const char *s, size_t n)
{
	if (b->full || n >= b->cap - b->len) {
		b->full = 1;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void
sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

static void
sb_encode(struct sb *b, const char *src, size_t n, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)src;
	char pct[3];
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_unreserved(p[i]) ||
		    (p[i] == '/' && (flags & SIGV4_KEEP_SLASH))) {
			sb_addn(b, src + i, 1);
			continue;
		}
		pct[0] = '%';
		pct[1] = hexdig[p[i] >> 4];
		pct[2] = hexdig[p[i] & 15];
		sb_addn(b, pct, 3);
	}
}

int
sigv4_uri_encode(char *dst, size_t dstlen, const char *src, size_t srclen,
    unsigned flags)
{
	struct sb b;

	if (dstlen == 0)
		return -1;
	sb_init(&b, dst, dstlen);
	sb_encode(&b, src, srclen, flags);
	if (b.full) {
		dst[0] = '\0';
		return -1;
	}
	return 0;
}

int
sigv4_form_add(char *buf, size_t cap, size_t *len, const char *name,
    const char *value)
{
	struct sb b;

	if (cap == 0 || *len >= cap)
		return -1;
	b.buf = buf;
	b.cap = cap;
	b.len = *len;
	b.full = 0;
	if (b.len > 0)
		sb_add(&b, "&");
	sb_encode(&b, name, strlen(name), 0);
	sb_add(&b, "=");
	sb_encode(&b, value, strlen(value), 0);
	if (b.full) {
		buf[*len] = '\0';
		return -1;
	}
	*len = b.len;
	return 0;
}

static void
hex_lower(char *dst, const unsigned char *md, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = hexlow[md[i] >> 4];
		dst[2 * i + 1] = hexlow[md[i] & 15];
	}
	dst[2 * n] = '\0';
}

/* dst gets SHA256_HEX bytes.  Returns 0 or -1. */
static int
sha256_hex(char *dst, const void *data, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != SHA256_LEN)
		return -1;
	hex_lower(dst, md, mdlen);
	return 0;
}

/* out gets SHA256_LEN bytes.  Returns 0 or -1. */
static int
hmac256(unsigned char *out, const void *key, size_t keylen,
    const void *msg, size_t msglen)
{
	unsigned int outlen = 0;

	if (keylen > (size_t)INT_MAX)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out,
	    &outlen) == NULL || outlen != SHA256_LEN)
		return -1;
	return 0;
}

/* 1 if s is 1..cap-1 bytes long and every byte is in the given set. */
static int
token_ok(const char *s, size_t cap, int (*ok)(unsigned char))
{
	size_t n, i;

	if (s == NULL)
		return 0;
	n = strnlen(s, cap);
	if (n == 0 || n >= cap)
		return 0;
	for (i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
c_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static int
c_scope(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int
c_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

static int
c_visible(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* RFC 9110 tchar */
static int
c_tchar(unsigned char c)
{
	return c_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int
c_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
date_ok(const char *d)
{
	static const char form[] = "ddddddddTddddddZ";
	size_t i;

	if (d == NULL || strnlen(d, SIGV4_CAP_DATE) != SIGV4_CAP_DATE - 1)
		return 0;
	for (i = 0; i < SIGV4_CAP_DATE - 1; i++) {
		if (form[i] == 'd' ? (d[i] < '0' || d[i] > '9') : d[i] != form[i])
			return 0;
	}
	return 1;
}

static int
check_scalars(const struct sigv4_req *req, const struct sigv4_cred *cred,
    struct status *st)
{
	if (!token_ok(req->method, SIGV4_CAP_METHOD, c_upper))
		return status_set(st, ST_USAGE, "sigv4: method '%.20s' is not "
		    "an uppercase token", req->method ? req->method : "");
	if (!token_ok(req->region, CAP_REGION, c_scope))
		return status_set(st, ST_USAGE, "sigv4: bad region '%.40s'",
		    req->region ? req->region : "");
	if (!token_ok(req->service, SIGV4_CAP_SERVICE, c_scope))
		return status_set(st, ST_USAGE, "sigv4: bad service '%.40s'",
		    req->service ? req->service : "");
	if (!date_ok(req->amz_date))
		return status_set(st, ST_USAGE,
		    "sigv4: date '%.40s' is not YYYYMMDDTHHMMSSZ",
		    req->amz_date ? req->amz_date : "");
	if (!token_ok(cred->access_key, SIGV4_CAP_ACCESS_KEY, c_alnum))
		return status_set(st, ST_USAGE, "sigv4: bad access key id");
	if (!token_ok(cred->secret_key, SIGV4_CAP_SECRET, c_visible))
		return status_set(st, ST_USAGE, "sigv4: bad secret key");
	if (cred->session_token != NULL && cred->session_token[0] != '\0' &&
	    !token_ok(cred->session_token, SIGV4_CAP_HEADER_VALUE, c_visible))
		return status_set(st, ST_USAGE,
		    "sigv4: session token is too long or has bad bytes");
	if (req->bodylen > SIGV4_CAP_BODY ||
	    (req->body == NULL && req->bodylen > 0))
		return status_set(st, ST_USAGE, "sigv4: bad or oversized body");
	return ST_OK;
}

/*
 * Writes path[0..n) normalised into out (at least n + 1 bytes): dot
 * segments resolved, empty segments dropped, a trailing '/' kept when
 * anything is left; "/" at least.  path starts with '/'.
 */
static void
path_normalise(const char *path, size_t n, char *out)
{
	size_t o = 0, i, seg, len;

	for (seg = 1; seg <= n; seg = i + 1) {
		for (i = seg; i < n && path[i] != '/'; i++)
			;
		len = i - seg;
		if (len == 0 || (len == 1 && path[seg] == '.'))
			continue;
		if (len == 2 && path[seg] == '.' && path[seg + 1] == '.') {
			while (o > 0 && out[--o] != '/')
				;	/* drops the last "/segment" */
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, path + seg, len);
		o += len;
	}
	if (o == 0 || path[n - 1] == '/')
		out[o++] = '/';
	out[o] = '\0';
}

/*
 * Writes the canonical path.  The path MUST start with '/' and MUST be
 * normalised (no empty segment but a trailing one, no '.' or '..'), since
 * AWS signs the normalised form for every service but S3; with normalize
 * set, that form is computed instead.
 */
static int
canon_path(struct sb *b, const char *path, int normalize, char *norm,
    struct status *st)
{
	size_t n, i, seg;

	if (path == NULL || path[0] != '/' ||
	    (n = strnlen(path, SIGV4_CAP_PATH)) >= SIGV4_CAP_PATH)
		return status_set(st, ST_USAGE,
		    "sigv4: path is empty, relative or too long");
	for (i = 0; i < n; i++)
		if ((unsigned char)path[i] <= 0x20 || path[i] == 0x7f ||
		    path[i] == '?' || path[i] == '#')
			return status_set(st, ST_USAGE,
			    "sigv4: path '%s' has a byte that cannot be sent",
			    path);
	if (normalize) {
		path_normalise(path, n, norm);
		sb_encode(b, norm, strlen(norm), SIGV4_KEEP_SLASH);
		return ST_OK;
	}
	for (seg = 1; seg <= n; seg = i + 1) {
		for (i = seg; i < n && path[i] != '/'; i++)
			;
		if ((i == seg && i < n) ||
		    (i - seg == 1 && path[seg] == '.') ||
		    (i - seg == 2 && path[seg] == '.' && path[seg + 1] == '.'))
			return status_set(st, ST_USAGE,
			    "sigv4: path '%s' is not normalised", path);
	}
	sb_encode(b, path, n, SIGV4_KEEP_SLASH);
	return ST_OK;
}

/* Decodes s[0..n) and appends it, re-encoded and NUL-ended, to pool. */
static int
query_part(struct sb *pool, const char *s, size_t n, char *raw)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			raw[o++] = s[i];
			continue;
		}
		if (n - i < 3 || (hi = text_hexval(s[i + 1])) < 0 ||
		    (lo = text_hexval(s[i + 2])) < 0)
			return -1;
		raw[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	sb_encode(pool, raw, o, 0);
	sb_addn(pool, "", 0);
	if (pool->full)
		return -1;
	pool->len++;		/* keep the NUL as a separator */
	return 0;
}

static int
qparam_less(const char *pool, const struct qparam *a, const struct qparam *b)
{
	int c = strcmp(pool + a->name, pool + b->name);

	return c < 0 || (c == 0 && strcmp(pool + a->value, pool + b->value) < 0);
}

static int
canon_query(struct sb *b, const char *query, struct work *w,
    struct status *st)
{
	char *poolbuf = w->poolbuf;
	struct qparam *prm = w->prm, t;
	struct sb pool;
	size_t n, np = 0, i, j, end, eq;

	if (query == NULL || query[0] == '\0')
		return ST_OK;
	if ((n = strnlen(query, SIGV4_CAP_QUERY)) >= SIGV4_CAP_QUERY)
		return status_set(st, ST_USAGE, "sigv4: query is too long");
	for (i = 0; i < n; i++)
		if ((unsigned char)query[i] <= 0x20 || query[i] == 0x7f ||
		    query[i] == '#')
			return status_set(st, ST_USAGE,
			    "sigv4: query has a byte that cannot be sent");
	sb_init(&pool, poolbuf, sizeof(w->poolbuf));
	for (i = 0; i <= n; i = end + 1) {
		for (end = i; end < n && query[end] != '&'; end++)
			;
		if (end == i)
			continue;	/* "a=1&&b=2", a trailing '&' */
		if (np == SIGV4_CAP_QUERY_PARAMS)
			return status_set(st, ST_USAGE,
			    "sigv4: query has too many parameters");
		for (eq = i; eq < end && query[eq] != '='; eq++)
			;
		prm[np].name = pool.len;
		if (query_part(&pool, query + i, eq - i, w->raw) != 0)
			goto bad;
		prm[np].value = pool.len;
		if (query_part(&pool, query + eq + (eq < end),
		    end - eq - (eq < end), w->raw) != 0)
			goto bad;
		np++;
	}
	for (i = 1; i < np; i++) {
		t = prm[i];
		for (j = i; j > 0 && qparam_less(poolbuf, &t, &prm[j - 1]); j--)
			prm[j] = prm[j - 1];
		prm[j] = t;
	}
	for (i = 0; i < np; i++) {
		if (i > 0)
			sb_add(b, "&");
		sb_add(b, poolbuf + prm[i].name);
		sb_add(b, "=");
		sb_add(b, poolbuf + prm[i].value);
	}
	return ST_OK;
bad:
	return status_set(st, ST_USAGE,
	    "sigv4: query has a bad percent escape or is too long");
}

/* 0, or -1 if the value holds a byte that cannot be sent in a header. */
static int
header_value_ok(const char *v, size_t cap, size_t *len)
{
	size_t n = strnlen(v, cap), i;

	if (n >= cap)
		return -1;
	for (i = 0; i < n; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    v[i] == 0x7f)
			return -1;
	*len = n;
	return 0;
}

/* Appends v trimmed, with each inner run of blanks as one space. */
static void
sb_trimall(struct sb *b, const char *v)
{
	const char *p = v, *w;

	while (c_blank((unsigned char)*p))
		p++;
	while (*p != '\0') {
		for (w = p; *w != '\0' && !c_blank((unsigned char)*w); w++)
			;
		sb_addn(b, p, (size_t)(w - p));
		while (c_blank((unsigned char)*w))
			w++;
		if (*w != '\0')
			sb_add(b, " ");
		p = w;
	}
}

static int
trimmed_equal(const char *v, const char *want)
{
	char buf[SIGV4_CAP_DATE + 1];
	struct sb b;

	sb_init(&b, buf, sizeof(buf));
	sb_trimall(&b, v);
	return !b.full && strcmp(buf, want) == 0;
}

static int
add_header(struct hdr *h, size_t *nh, size_t *bytes, const char *name,
    const char *value, struct status *st)
{
	size_t n, vlen, i;

	if (*nh == SIGV4_CAP_HEADERS)
		return status_set(st, ST_USAGE, "sigv4: too many headers");
	if (name == NULL || value == NULL ||
	    !token_ok(name, SIGV4_CAP_HEADER_NAME, c_tchar))
		return status_set(st, ST_USAGE,
		    "sigv4: header name is missing, too long or not a token");
	n = strlen(name);
	if (header_value_ok(value, SIGV4_CAP_HEADER_VALUE, &vlen) != 0)
		return status_set(st, ST_USAGE,
		    "sigv4: header '%s' is too long or has a control byte",
		    name);
	if ((*bytes += n + vlen) > SIGV4_CAP_HEADER_BYTES)
		return status_set(st, ST_USAGE,
		    "sigv4: headers are too long in all");
	for (i = 0; i <= n; i++)
		h[*nh].name[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
		    (char)(name[i] - 'A' + 'a') : name[i];
	h[*nh].value = value;
	(*nh)++;
	return ST_OK;
}

/*
 * Collects the headers to sign into h (lowercased, stably sorted) and the
 * ones the caller must add into out->add.
 */
static int
collect_headers(const struct sigv4_req *req, const struct sigv4_cred *cred,
    struct hdr *h, size_t *nh, struct sigv4_out *out, struct status *st)
{
	struct hdr t;
	size_t i, j, bytes = 0;
	int host = 0, date = 0;
	int token = cred->session_token != NULL &&
	    cred->session_token[0] != '\0';

	if (req->nheaders > 0 && req->headers == NULL)
		return status_set(st, ST_USAGE, "sigv4: no header array");
	*nh = 0;
	for (i = 0; i < req->nheaders; i++) {
		if (add_header(h, nh, &bytes, req->headers[i].name,
		    req->headers[i].value, st) != ST_OK)
			return st->code;
		t = h[*nh - 1];
		if (strcmp(t.name, "host") == 0 && host++)
			return status_set(st, ST_USAGE,
			    "sigv4: header 'host' given twice");
		if (strcmp(t.name, "authorization") == 0)
			return status_set(st, ST_USAGE,
			    "sigv4: header 'authorization' cannot be signed");
		if (strcmp(t.name, "x-amz-security-token") == 0 && token)
			return status_set(st, ST_USAGE, "sigv4: header "
			    "'x-amz-security-token' given with a session token");
		if (strcmp(t.name, "x-amz-date") == 0 && (date++ ||
		    !trimmed_equal(t.value, req->amz_date)))
			return status_set(st, ST_USAGE, "sigv4: header "
			    "'x-amz-date' differs from the date to sign");
	}
	if (!host)
		return status_set(st, ST_USAGE, "sigv4: no 'host' header");
	if (!date) {
		out->add[out->nadd].name = "X-Amz-Date";
		out->add[out->nadd++].value = req->amz_date;
	}
	if (token) {
		out->add[out->nadd].name = "X-Amz-Security-Token";
		out->add[out->nadd++].value = cred->session_token;
	}
	for (i = 0; i < out->nadd; i++)
		if (add_header(h, nh, &bytes, out->add[i].name,
		    out->add[i].value, st) != ST_OK)
			return st->code;
	for (i = 1; i < *nh; i++) {	/* insertion sort: stable */
		t = h[i];
		for (j = i; j > 0 && strcmp(t.name, h[j - 1].name) < 0; j--)
			h[j] = h[j - 1];
		h[j] = t;
	}
	return ST_OK;
}

static void
canon_headers(struct sb *b, struct sb *signed_hdrs, const struct hdr *h,
    size_t nh)
{
	size_t i;

	for (i = 0; i < nh; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			sb_add(b, ",");
		} else {
			if (i > 0) {
				sb_add(b, "\n");
				sb_add(signed_hdrs, ";");
			}
			sb_add(b, h[i].name);
			sb_add(b, ":");
			sb_add(signed_hdrs, h[i].name);
		}
		sb_trimall(b, h[i].value);
	}
	sb_add(b, "\n");
}

/* Builds out->creq and the signed-header list. */
static int
canon_request(const struct sigv4_req *req, const struct sigv4_cred *cred,
    struct sigv4_out *out, struct work *w, struct sb *signed_hdrs,
    struct status *st)
{
	struct hdr *h = w->h;
	char bodyhash[SHA256_HEX];
	struct sb b;
	size_t nh;

	if (collect_headers(req, cred, h, &nh, out, st) != ST_OK)
		return st->code;
	sb_init(&b, out->creq, sizeof(out->creq));
	sb_add(&b, req->method);
	sb_add(&b, "\n");
	if (canon_path(&b, req->path, req->normalize_path, w->norm, st) !=
	    ST_OK)
		return st->code;
	sb_add(&b, "\n");
	if (canon_query(&b, req->query, w, st) != ST_OK)
		return st->code;
	sb_add(&b, "\n");
	canon_headers(&b, signed_hdrs, h, nh);
	sb_add(&b, "\n");
	sb_add(&b, signed_hdrs->buf);
	sb_add(&b, "\n");
	if (sha256_hex(bodyhash, req->bodylen > 0 ? (const void *)req->body :
	    (const void *)"", req->bodylen) != 0)
		return status_set(st, ST_OSERR, "sigv4: sha-256 failed "
		    "(out of memory?)");
	sb_add(&b, bodyhash);
	if (b.full || signed_hdrs->full)
		return status_set(st, ST_SOFTWARE,
		    "sigv4: canonical request does not fit");
	return ST_OK;
}

/* sig gets the hex signature of out->sts. */
static int
sign_sts(char *sig, const struct sigv4_req *req,
    const struct sigv4_cred *cred, const char *sts)
{
	unsigned char ksecret[4 + SIGV4_CAP_SECRET];
	unsigned char ka[SHA256_LEN], kb[SHA256_LEN], mac[SHA256_LEN];
	size_t slen = strlen(cred->secret_key);
	int rc = -1;

	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, cred->secret_key, slen);
	if (hmac256(ka, ksecret, 4 + slen, req->amz_date, 8) != 0 ||
	    hmac256(kb, ka, sizeof(ka), req->region,
	    strlen(req->region)) != 0 ||
	    hmac256(ka, kb, sizeof(kb), req->service,
	    strlen(req->service)) != 0 ||
	    hmac256(kb, ka, sizeof(ka), "aws4_request", 12) != 0 ||
	    hmac256(mac, kb, sizeof(kb), sts, strlen(sts)) != 0)
		goto out;
	hex_lower(sig, mac, sizeof(mac));
	rc = 0;
out:
	OPENSSL_cleanse(ksecret, sizeof(ksecret));
	OPENSSL_cleanse(ka, sizeof(ka));
	OPENSSL_cleanse(kb, sizeof(kb));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

static int
string_to_sign(const struct sigv4_req *req, struct sigv4_out *out,
    char *scope, size_t scopelen, struct status *st)
{
	char crhash[SHA256_HEX];
	struct sb b;

	sb_init(&b, scope, scopelen);
	sb_addn(&b, req->amz_date, 8);
	sb_add(&b, "/");
	sb_add(&b, req->region);
	sb_add(&b, "/");
	sb_add(&b, req->service);
	sb_add(&b, "/aws4_request");
	if (b.full)
		return status_set(st, ST_SOFTWARE, "sigv4: scope does not fit");
	if (sha256_hex(crhash, out->creq, strlen(out->creq)) != 0)
		return status_set(st, ST_OSERR, "sigv4: sha-256 failed "
		    "(out of memory?)");
	sb_init(&b, out->sts, sizeof(out->sts));
	sb_add(&b, "AWS4-HMAC-SHA256\n");
	sb_add(&b, req->amz_date);
	sb_add(&b, "\n");
	sb_add(&b, scope);
	sb_add(&b, "\n");
	sb_add(&b, crhash);
	if (b.full)
		return status_set(st, ST_SOFTWARE,
		    "sigv4: string to sign does not fit");
	return ST_OK;
}

static void
out_clear(struct sigv4_out *out)
{
	out->creq[0] = '\0';
	out->sts[0] = '\0';
	out->authz[0] = '\0';
	out->nadd = 0;
}

int
sigv4_sign(const struct sigv4_req *req, const struct sigv4_cred *cred,
    struct sigv4_out *out, struct status *st)
{
	char scope[SIGV4_CAP_SCOPE];
	char sig[SHA256_HEX];
	struct sb signed_hdrs, b;
	struct work *w = NULL;

	out_clear(out);
	if (req == NULL || cred == NULL)
		return status_set(st, ST_SOFTWARE, "sigv4: no request");
	if (check_scalars(req, cred, st) != ST_OK)
		goto fail;
	if ((w = malloc(sizeof(*w))) == NULL) {
		status_set(st, ST_OSERR, "sigv4: out of memory");
		goto fail;
	}
	sb_init(&signed_hdrs, w->signed_buf, sizeof(w->signed_buf));
	if (canon_request(req, cred, out, w, &signed_hdrs, st) != ST_OK ||
	    string_to_sign(req, out, scope, sizeof(scope), st) != ST_OK)
		goto fail;
	if (sign_sts(sig, req, cred, out->sts) != 0) {
		/* OpenSSL fails it only when it cannot allocate (or load
		 * its provider): a system error, not a bug of ours */
		status_set(st, ST_OSERR, "sigv4: hmac-sha-256 failed (out of "
		    "memory?)");
		goto fail;
	}
	sb_init(&b, out->authz, sizeof(out->authz));
	sb_add(&b, "AWS4-HMAC-SHA256 Credential=");
	sb_add(&b, cred->access_key);
	sb_add(&b, "/");
	sb_add(&b, scope);
	sb_add(&b, ", SignedHeaders=");
	sb_add(&b, w->signed_buf);
	sb_add(&b, ", Signature=");
	sb_add(&b, sig);
	if (b.full) {
		status_set(st, ST_SOFTWARE,
		    "sigv4: authorization does not fit");
		goto fail;
	}
	free(w);
	return ST_OK;
fail:
	free(w);
	out_clear(out);
	return st->code;
}
