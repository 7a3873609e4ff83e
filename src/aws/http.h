/*
 * http.h: the one wrapper around libcurl.
 *
 * Rules every request keeps:
 * - protocols limited to those the caller allows (http and/or https);
 * - redirects are never followed: libcurl would send the caller's headers
 *   (tokens, [health] header.NAME) to whatever origin a reply names; a 3xx
 *   reply comes back with its resolved Location (resp->location) for the
 *   caller to judge (health.c follows same-origin ones only);
 * - every host name is looked up by http.c itself, bounded by the request's
 *   total_ms, and handed to libcurl as a CURLOPT_RESOLVE entry: libcurl's
 *   own resolver, which waits for a stuck getaddrinfo when a transfer ends,
 *   never runs (the proxy, if any, is chosen here too, for the same reason);
 * - TLS peer and host verification are always on (a CA file may be given);
 * - proxies from the environment are ignored when no_proxy is set (IMDS:
 *   the token MUST never go through a proxy);
 * - connect and total timeouts come from the caller's deadline;
 * - the reply is capped in the write callback: a larger reply is an error,
 *   never a truncated success; its header and trailer lines together are
 *   capped in the header callback (CAP_HTTP_HEADERS);
 * - every buffer that held a reply is wiped before it is freed (IMDS
 *   replies carry role credentials);
 * - every curl_easy_setopt result is checked.
 */
#ifndef CDGATE_HTTP_H
#define CDGATE_HTTP_H

#include <stddef.h>

#include "base/caps.h"
#include "base/status.h"

#define HTTP_PROTO_HTTP  0x1
#define HTTP_PROTO_HTTPS 0x2
#define HTTP_MAX_HEADERS 16

struct http;	/* one connection cache; not thread-safe */

struct http_req {
	const char *method;		/* "GET", "PUT", "POST" */
	const char *url;
	const char *headers[HTTP_MAX_HEADERS];	/* "Name: value", NULL-ended */
	const char *body;		/* may be NULL */
	size_t bodylen;
	size_t cap;			/* largest reply body accepted */
	long connect_ms;		/* 0: same as total_ms */
	long total_ms;			/* > 0 */
	int protocols;			/* HTTP_PROTO_* */
	int no_proxy;
	const char *ca_file;		/* NULL: the system store */
	const char *unix_socket;	/* NULL: TCP */
	int max_redirs;			/* always 0: never followed (http_do) */
};

struct http_resp {
	long status;		/* 0 when no reply */
	char *body;		/* malloc'd, NUL-terminated; caller frees */
	size_t len;
	char content_type[128];
	int timed_out;		/* transport error was a timeout */
	int oversize;		/* the reply (or its headers) was over a cap */
	int cert_error;		/* TLS: the server's certificate was refused */
	char location[CAP_URL];	/* 3xx: the absolute redirect target, or "" */
};

/* Initialises libcurl once per process (before any thread). */
int http_global_init(struct status *st);
struct http *http_new(struct status *st);
void http_free(struct http *h);
/*
 * Performs one request.  ST_OK when a reply (any status) arrived within the
 * caps; ST_UNAVAIL with a message for connection errors, timeouts and
 * oversized replies; ST_OSERR when the reply cannot be stored (no memory),
 * which callers MUST NOT retry.  resp->body must be freed with
 * http_resp_free.
 */
int http_do(struct http *h, const struct http_req *req,
    struct http_resp *resp, struct status *st);
void http_resp_free(struct http_resp *resp);
/*
 * The origin of an http(s) URL, "scheme://host:port" (lowercased, the
 * default port filled in), for comparing a redirect's target with the
 * first URL; -1 when the URL does not parse or does not fit.
 */
int http_origin(const char *url, char *out, size_t len);
/* Number of requests performed through h (for request economy tests). */
unsigned long http_count(const struct http *h);

#endif
