/*
 * sigv4.h: AWS Signature Version 4 for one HTTP request, on OpenSSL.
 *
 * Pure: no network, no globals, no exit; one allocation per call, its
 * working buffers (some 12 KiB, too large for a frame).  The caller gives
 * the request exactly as it will be sent; sigv4_sign returns the canonical
 * request, the string to sign, the Authorization value and the headers the
 * caller MUST add to the request before sending it.
 *
 * Not libcurl's CURLOPT_AWS_SIGV4 (see docs/dev/aws.md): it cannot sign a
 * session token and signs differently from one libcurl version to another.
 */
#ifndef CDGATE_SIGV4_H
#define CDGATE_SIGV4_H

#include <stddef.h>

#include "base/caps.h"
#include "base/status.h"

/* Input caps: longer input is refused with ST_USAGE. */
#define SIGV4_CAP_METHOD       16     /* "POST", bytes + NUL */
#define SIGV4_CAP_PATH         1024   /* path as sent, bytes + NUL */
#define SIGV4_CAP_QUERY        2048   /* raw query string, bytes + NUL */
#define SIGV4_CAP_QUERY_PARAMS 64     /* name=value pairs in the query */
#define SIGV4_CAP_HEADERS      32     /* headers, with the two we may add */
#define SIGV4_CAP_HEADER_NAME  64     /* one header name, bytes + NUL */
#define SIGV4_CAP_HEADER_VALUE 4096   /* one header value (a session token) */
#define SIGV4_CAP_HEADER_BYTES 8192   /* all names and values, added ones too */
#define SIGV4_CAP_SERVICE      32     /* "ec2", bytes + NUL */
#define SIGV4_CAP_ACCESS_KEY   128    /* access key id, bytes + NUL */
#define SIGV4_CAP_SECRET       128    /* secret access key, bytes + NUL */
#define SIGV4_CAP_BODY         CAP_HTTP_BODY   /* body, bytes */
#define SIGV4_CAP_DATE         17     /* "YYYYMMDDTHHMMSSZ" + NUL */
/* Output caps: derived from the input caps so that valid input fits. */
#define SIGV4_CAP_SIGNED_HEADERS (SIGV4_CAP_HEADERS * SIGV4_CAP_HEADER_NAME)
#define SIGV4_CAP_SCOPE        (SIGV4_CAP_DATE + CAP_REGION + \
                                SIGV4_CAP_SERVICE + 16)
#define SIGV4_CAP_CREQ         (SIGV4_CAP_METHOD + 3 * SIGV4_CAP_PATH + \
                                3 * SIGV4_CAP_QUERY + \
                                SIGV4_CAP_HEADER_BYTES + \
                                2 * SIGV4_CAP_HEADERS + \
                                SIGV4_CAP_SIGNED_HEADERS + 80)
#define SIGV4_CAP_STS          (32 + SIGV4_CAP_DATE + SIGV4_CAP_SCOPE + 65)
#define SIGV4_CAP_AUTHZ        (64 + SIGV4_CAP_ACCESS_KEY + SIGV4_CAP_SCOPE + \
                                SIGV4_CAP_SIGNED_HEADERS + 65)
#define SIGV4_ADD_MAX          2      /* X-Amz-Date, X-Amz-Security-Token */

struct sigv4_cred {
	const char *access_key;
	const char *secret_key;
	const char *session_token;	/* NULL or "" for long-term keys */
};

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_req {
	const char *method;		/* "POST" */
	/*
	 * As sent, starting with '/' ("/" for EC2), and normalised: no '.',
	 * '..' or empty segment (but a trailing '/'); anything else is refused
	 * unless normalize_path is set, since AWS would sign the normalised
	 * form.  Each byte outside A-Za-z0-9-_.~/ is percent-encoded once, so
	 * "%20" signs as "%2520", as botocore does.
	 */
	const char *path;
	/*
	 * 1: sign the normalised form of path (RFC 3986 dot segments removed
	 * and empty segments dropped, a trailing '/' kept: what AWS computes
	 * for every service but S3, and botocore's normalize_url_path), while
	 * the caller sends path as given.  0 (EC2, which always sends "/"):
	 * refuse a path that is not normalised already.
	 */
	int normalize_path;
	/*
	 * As sent, after '?'; NULL or "" if none.  Each name and value is
	 * percent-decoded ('+' stays a plus: send a space as %20) and
	 * re-encoded; a bad escape is refused.
	 */
	const char *query;
	/*
	 * Every header that will be sent and signed; MUST include Host (with
	 * its port when not the scheme's default).  X-Amz-Date may be given
	 * (it MUST then equal amz_date); X-Amz-Security-Token MUST NOT be
	 * given together with cred->session_token.
	 */
	const struct sigv4_header *headers;
	size_t nheaders;
	const unsigned char *body;	/* may be NULL when bodylen is 0 */
	size_t bodylen;
	const char *region;		/* "us-east-1" */
	const char *service;		/* "ec2" */
	const char *amz_date;		/* "YYYYMMDDTHHMMSSZ", UTC */
};

struct sigv4_out {
	char creq[SIGV4_CAP_CREQ];	/* canonical request */
	char sts[SIGV4_CAP_STS];	/* string to sign */
	char authz[SIGV4_CAP_AUTHZ];	/* value of the Authorization header */
	/*
	 * Headers the caller MUST send besides req->headers and Authorization:
	 * X-Amz-Date (unless given) and X-Amz-Security-Token (when the
	 * credentials have a token).  Names are static strings; values point
	 * into req->amz_date and cred->session_token, so they live as long as
	 * those do.
	 */
	struct sigv4_header add[SIGV4_ADD_MAX];
	size_t nadd;
};

/*
 * Signs req with cred.  Returns ST_OK and fills out, or ST_USAGE (bad or
 * oversized input), ST_SOFTWARE (a bug) or ST_OSERR (out of memory, in
 * this module or in OpenSSL) with a message in st; out then holds empty
 * strings and no headers.
 */
int sigv4_sign(const struct sigv4_req *req, const struct sigv4_cred *cred,
    struct sigv4_out *out, struct status *st);

/* Flags for sigv4_uri_encode. */
#define SIGV4_KEEP_SLASH 1	/* leave '/' as is (paths) */

/*
 * Percent-encodes src[0..srclen) into dst as AWS specifies (RFC 3986):
 * A-Z a-z 0-9 - _ . ~ stay, every other byte becomes %XX with uppercase
 * hex (space is %20, never '+').  Returns 0, or -1 if the result and its
 * NUL do not fit in dstlen (dst is then "" when dstlen > 0).
 */
int sigv4_uri_encode(char *dst, size_t dstlen, const char *src,
    size_t srclen, unsigned flags);

/*
 * Appends "name=value" (after a '&' when *len > 0) to the
 * application/x-www-form-urlencoded body buf, both parts encoded as
 * sigv4_uri_encode does, which is what AWS Query APIs accept.  *len is
 * strlen(buf) on entry and is updated.  Returns 0, or -1 if it does not
 * fit in cap (buf and *len are then unchanged).
 */
int sigv4_form_add(char *buf, size_t cap, size_t *len, const char *name,
    const char *value);

#endif
