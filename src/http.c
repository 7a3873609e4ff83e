#include "http.h"

/*
 * CURLOPT_PROTOCOLS is deprecated since libcurl 7.85 but is the only way
 * to limit protocols on the older libcurl of RHEL 9 (7.76) and Ubuntu
 * 22.04 (7.81), where the same binary runs (http_protocols).
 */
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

struct http {
	CURL *curl;
	unsigned long count;
};

struct http_sink {
	char *buf;
	size_t len, cap, alloc;
	int over;		/* the reply is over the cap */
	int nomem;		/* no memory for the reply */
};

int
http_global_init(struct status *st)
{
	static int done;

	if (done)
		return ST_OK;
	/*
	 * libcurl would append every TLS session's secrets to the file this
	 * names (read once, here): whoever reads it could decrypt the signed
	 * EC2 requests and their session token.  Never honoured.
	 */
	unsetenv("SSLKEYLOGFILE");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return status_set(st, ST_OSERR, "cannot initialise libcurl");
	done = 1;
	return ST_OK;
}

struct http *
http_new(struct status *st)
{
	struct http *h;

	if (http_global_init(st) != ST_OK)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		status_set(st, ST_OSERR, "out of memory");
		return NULL;
	}
	if ((h->curl = curl_easy_init()) == NULL) {
		free(h);
		status_set(st, ST_OSERR, "cannot create a libcurl handle");
		return NULL;
	}
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

unsigned long
http_count(const struct http *h)
{
	return h->count;
}

static size_t
http_write(char *data, size_t size, size_t n, void *user)
{
	struct http_sink *s = user;
	size_t add = size * n, want;
	char *nb;

	if (s->len + add > s->cap) {
		s->over = 1;
		return 0;	/* aborts the transfer */
	}
	if (s->len + add + 1 > s->alloc) {
		want = s->alloc ? s->alloc : 1024;
		while (want < s->len + add + 1)
			want *= 2;
		if (want > s->cap + 1)
			want = s->cap + 1;
		/* not realloc: the old block may hold role credentials, and
		 * it is wiped before it is freed */
		if ((nb = malloc(want)) == NULL) {
			s->nomem = 1;
			return 0;	/* aborts the transfer */
		}
		if (s->buf != NULL) {
			memcpy(nb, s->buf, s->len);
			OPENSSL_cleanse(s->buf, s->alloc);
			free(s->buf);
		}
		s->buf = nb;
		s->alloc = want;
	}
	memcpy(s->buf + s->len, data, add);
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

#define SETOPT(h, opt, val) do {					\
	if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {		\
		rc = status_set(st, ST_SOFTWARE, "libcurl refused option " \
		    #opt);						\
		goto out;						\
	}								\
} while (0)

/*
 * Limits the protocols of the request and of any redirect.  libcurl before
 * 7.85 has no *_PROTOCOLS_STR and answers CURLE_UNKNOWN_OPTION: then the
 * bitmask options, which every libcurl 7.x and 8.x still honours.
 */
static int
http_protocols(CURL *c, unsigned int which, struct status *st)
{
	const char *str = (which & HTTP_PROTO_HTTP) ?
	    ((which & HTTP_PROTO_HTTPS) ? "http,https" : "http") : "https";
	long mask = ((which & HTTP_PROTO_HTTP) ? CURLPROTO_HTTP : 0) |
	    ((which & HTTP_PROTO_HTTPS) || !(which & HTTP_PROTO_HTTP) ?
	    CURLPROTO_HTTPS : 0);
	CURLcode a, b;

	a = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, str);
	b = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, str);
	if (a == CURLE_UNKNOWN_OPTION || b == CURLE_UNKNOWN_OPTION) {
		a = curl_easy_setopt(c, CURLOPT_PROTOCOLS, mask);
		b = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, mask);
	}
	if (a != CURLE_OK || b != CURLE_OK)
		return status_set(st, ST_SOFTWARE, "libcurl refused to limit "
		    "protocols to %s", str);
	return ST_OK;
}

static int
http_setup(CURL *c, const struct http_req *req, struct http_sink *sink,
    struct curl_slist **hdrs, char *errbuf, struct status *st)
{
	size_t i;
	int rc = ST_OK;

	curl_easy_reset(c);
	SETOPT(c, CURLOPT_URL, req->url);
	if ((rc = http_protocols(c, req->protocols, st)) != ST_OK)
		goto out;
	SETOPT(c, CURLOPT_FOLLOWLOCATION, req->max_redirs > 0 ? 1L : 0L);
	if (req->max_redirs > 0)
		SETOPT(c, CURLOPT_MAXREDIRS, (long)req->max_redirs);
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(c, CURLOPT_WRITEFUNCTION, http_write);
	SETOPT(c, CURLOPT_WRITEDATA, sink);
	SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(c, CURLOPT_TIMEOUT_MS, req->total_ms > 0 ? req->total_ms : 1L);
	SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_ms > 0 &&
	    req->connect_ms < req->total_ms ? req->connect_ms :
	    (req->total_ms > 0 ? req->total_ms : 1L));
	SETOPT(c, CURLOPT_USERAGENT, "cdgate/0.1");
	SETOPT(c, CURLOPT_ACCEPT_ENCODING, NULL);
	if (req->no_proxy) {
		SETOPT(c, CURLOPT_PROXY, "");
		SETOPT(c, CURLOPT_NOPROXY, "*");
	}
	if (req->ca_file != NULL)
		SETOPT(c, CURLOPT_CAINFO, req->ca_file);
	if (req->unix_socket != NULL)
		SETOPT(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (strcmp(req->method, "GET") != 0) {
		SETOPT(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		SETOPT(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(req->body ? req->bodylen : 0));
		if (strcmp(req->method, "POST") != 0)
			SETOPT(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	/* no Expect: 100-continue round trip, and no default content type
	 * unless the caller names one */
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (strcmp(req->method, "POST") != 0)
		*hdrs = curl_slist_append(*hdrs, "Content-Type:");
	for (i = 0; i < HTTP_MAX_HEADERS && req->headers[i] != NULL; i++)
		*hdrs = curl_slist_append(*hdrs, req->headers[i]);
	if (*hdrs == NULL) {
		rc = status_set(st, ST_OSERR, "out of memory");
		goto out;
	}
	SETOPT(c, CURLOPT_HTTPHEADER, *hdrs);
out:
	return rc;
}

int
http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
    struct status *st)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct http_sink sink = { NULL, 0, req->cap, 0, 0, 0 };
	const char *ct = NULL;
	CURLcode cc;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if ((rc = http_setup(h->curl, req, &sink, &hdrs, errbuf, st)) != ST_OK)
		goto out;
	h->count++;
	cc = curl_easy_perform(h->curl);
	if (sink.over) {
		resp->oversize = 1;
		/* the status line came before the body: say it too */
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
		if (resp->status > 0)
			rc = status_set(st, ST_UNAVAIL, "reply larger than %zu "
			    "bytes (HTTP %ld)", req->cap, resp->status);
		else
			rc = status_set(st, ST_UNAVAIL, "reply larger than %zu "
			    "bytes", req->cap);
		goto out;
	}
	if (sink.nomem) {
		rc = status_set(st, ST_OSERR, "out of memory for a reply");
		goto out;
	}
	if (cc != CURLE_OK) {
		resp->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
		rc = status_set(st, ST_UNAVAIL, "%s", errbuf[0] ? errbuf :
		    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &ct) ==
	    CURLE_OK && ct != NULL)
		text_copy(resp->content_type, ct, sizeof(resp->content_type));
	if (sink.buf == NULL && (sink.buf = calloc(1, 1)) == NULL) {
		rc = status_set(st, ST_OSERR, "out of memory");
		goto out;
	}
	resp->body = sink.buf;
	resp->len = sink.len;
	sink.buf = NULL;
	rc = ST_OK;
out:
	if (sink.buf != NULL)
		OPENSSL_cleanse(sink.buf, sink.alloc);
	free(sink.buf);
	/* the copies of the headers hold tokens and signatures */
	for (struct curl_slist *p = hdrs; p != NULL; p = p->next)
		OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(hdrs);
	/* the header list must not outlive this call inside the handle */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
	return rc;
}

void
http_resp_free(struct http_resp *resp)
{
	if (resp->body != NULL)		/* replies may hold credentials */
		OPENSSL_cleanse(resp->body, resp->len);
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}
