#include "aws/http.h"

/*
 * CURLOPT_PROTOCOLS is deprecated since libcurl 7.85 but is the only way
 * to limit protocols on the older libcurl of RHEL 9 (7.76) and Ubuntu
 * 22.04 (7.81), where the same binary runs (http_protocols).
 */
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "base/mono.h"
#include "base/text.h"

#define HTTP_HOST_LEN     256	/* a DNS name, with room */
#define HTTP_RESOLVE_ADDRS 8	/* addresses kept from one lookup */
#define HTTP_RESOLVE_LEN  (HTTP_HOST_LEN + 16 + HTTP_RESOLVE_ADDRS * 48)
#define HTTP_RESOLVE_KEEP_MS 60000	/* as libcurl's own DNS cache */
#define HTTP_RESOLVE_SLOTS 2		/* the target and a proxy */

/*
 * One name lookup, run by getaddrinfo in a detached thread (see
 * http_resolve).  Shared by that thread and the struct http that waits for
 * it; the last of the two to let go frees it.
 */
struct http_lookup {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;			/* 2: the thread and the waiter */
	int done;
	int err;			/* getaddrinfo's result */
	int sys_errno;			/* for EAI_SYSTEM */
	struct addrinfo *res;
	char host[HTTP_HOST_LEN];
	char port[8];
};

struct http_resolved {
	char key[HTTP_HOST_LEN + 8];	/* "host:port" */
	char line[HTTP_RESOLVE_LEN];	/* "host:port:addr,..." */
	int64_t at;			/* mono_ms of the lookup */
};

struct http {
	CURL *curl;
	unsigned long count;
	struct http_lookup *pending;	/* a lookup that has not answered */
	struct http_resolved cache[HTTP_RESOLVE_SLOTS];
};

struct http_sink {
	char *buf;
	size_t len, cap, alloc;
	int over;		/* the reply is over the cap */
	int nomem;		/* no memory for the reply */
	size_t hlen;		/* header and trailer bytes so far */
	int hover;		/* ...over CAP_HTTP_HEADERS */
	int sock_errno;		/* why the last socket() failed, or 0 */
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

static void http_lookup_unref(struct http_lookup *l);

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	/* never joined: a stuck lookup thread is left to the exit */
	if (h->pending != NULL)
		http_lookup_unref(h->pending);
	/* libcurl never started a resolver of its own (CURLOPT_RESOLVE), so
	 * this joins no thread */
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

/*
 * Counts every header and trailer line of a reply (libcurl hands trailers
 * of a chunked body to this callback too): past CAP_HTTP_HEADERS the
 * transfer is aborted.  libcurl's own limits depend on its version (no
 * total for headers before 8.3): with 7.88, endless trailers took 1 GB.
 */
static size_t
http_header(char *data, size_t size, size_t n, void *user)
{
	struct http_sink *s = user;
	size_t add = size * n;

	(void)data;
	if (add > CAP_HTTP_HEADERS || s->hlen + add > CAP_HTTP_HEADERS) {
		s->hover = 1;
		return 0;	/* aborts the transfer */
	}
	s->hlen += add;
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

/* ------------------------------------------------------------------ */
/* name lookups and proxies, bounded by the request's time */

static void
http_lookup_unref(struct http_lookup *l)
{
	int last;

	pthread_mutex_lock(&l->mu);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (!last)
		return;
	if (l->res != NULL)
		freeaddrinfo(l->res);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void *
http_lookup_run(void *arg)
{
	struct http_lookup *l = arg;
	struct addrinfo hints, *res = NULL;
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	err = getaddrinfo(l->host, l->port, &hints, &res);
	pthread_mutex_lock(&l->mu);
	l->err = err;
	l->sys_errno = errno;
	l->res = res;
	l->done = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	http_lookup_unref(l);
	return NULL;
}

/* A lookup running in a new detached thread, or NULL. */
static struct http_lookup *
http_lookup_start(const char *host, const char *port)
{
	struct http_lookup *l;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t t;
	sigset_t all, old;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	text_copy(l->host, host, sizeof(l->host));
	text_copy(l->port, port, sizeof(l->port));
	l->refs = 2;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* as mono.c */
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	/* signals (SIGTERM: proc.c) stay with the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, &ta, http_lookup_run, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&ta);
	if (rc != 0) {
		l->refs = 1;
		http_lookup_unref(l);
		return NULL;
	}
	return l;
}

/* 1 when the lookup answered by until (mono_ms), 0 when not. */
static int
http_lookup_wait(struct http_lookup *l, int64_t until)
{
	struct timespec ts;
	int done;

	ts.tv_sec = (time_t)(until / 1000);
	ts.tv_nsec = (long)(until % 1000) * 1000000L;
	pthread_mutex_lock(&l->mu);
	while (!l->done &&
	    pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
		;
	done = l->done;
	pthread_mutex_unlock(&l->mu);
	return done;
}

/* "host:port:addr,..." for CURLOPT_RESOLVE from a lookup's answer. */
static int
http_resolve_line(const struct http_lookup *l, char *out, size_t len)
{
	const struct addrinfo *a;
	char addr[INET6_ADDRSTRLEN];
	size_t o;
	int n = 0, w;

	w = snprintf(out, len, "%s:%s:", l->host, l->port);
	if (w < 0 || (size_t)w >= len)
		return -1;
	o = (size_t)w;
	for (a = l->res; a != NULL && n < HTTP_RESOLVE_ADDRS; a = a->ai_next) {
		if (a->ai_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    (const void *)a->ai_addr)->sin_addr, addr,
			    sizeof(addr));
		else if (a->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    (const void *)a->ai_addr)->sin6_addr, addr,
			    sizeof(addr));
		else
			continue;
		w = snprintf(out + o, len - o, a->ai_family == AF_INET6 ?
		    "%s[%s]" : "%s%s", n > 0 ? "," : "", addr);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
		n++;
	}
	return n > 0 ? 0 : -1;
}

/* 1 for a numeric address (libcurl looks nothing up for it). */
static int
http_host_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char v6[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	if (inet_pton(AF_INET, host, buf) == 1)
		return 1;
	if (n < 3 || host[0] != '[' || n - 2 >= sizeof(v6))
		return 0;
	memcpy(v6, host + 1, n - 2);
	v6[n - 2] = '\0';
	if (strchr(v6, '%') != NULL)	/* a zone: [fe80::1%25eth0] */
		*strchr(v6, '%') = '\0';
	return inet_pton(AF_INET6, v6, buf) == 1;
}

/*
 * Looks host up (unless numeric) within until and appends its
 * CURLOPT_RESOLVE entry to *list.  getaddrinfo runs in a detached thread
 * that is never waited for past until: a resolver that never answers
 * (resolv.conf's timeout times attempts: a minute) leaves the thread
 * behind, and a later request for the same name waits for that same
 * lookup instead of starting another.  The answer is kept for 60 s, as
 * libcurl keeps its own.
 */
static int
http_resolve(struct http *h, const char *host, const char *port,
    int64_t until, struct curl_slist **list, struct status *st)
{
	struct http_resolved *slot = &h->cache[0];
	struct http_lookup *l;
	struct curl_slist *nl;
	char key[HTTP_HOST_LEN + 8], line[HTTP_RESOLVE_LEN];
	const char *why;
	int64_t t0 = mono_ms();
	size_t i;
	int rc;

	if (http_host_numeric(host))
		return ST_OK;
	for (i = 0; host[i] != '\0'; i++)
		if ((unsigned char)host[i] >= 0x80)
			return status_set(st, ST_UNAVAIL, "host name '%s' is "
			    "not ASCII; write it in its xn-- form", host);
	snprintf(key, sizeof(key), "%s:%s", host, port);
	for (i = 0; i < HTTP_RESOLVE_SLOTS; i++) {
		if (strcmp(h->cache[i].key, key) == 0 &&
		    t0 - h->cache[i].at < HTTP_RESOLVE_KEEP_MS)
			goto add;
		if (h->cache[i].at < slot->at)
			slot = &h->cache[i];
	}
	if (h->pending != NULL && (strcmp(h->pending->host, host) != 0 ||
	    strcmp(h->pending->port, port) != 0)) {
		http_lookup_unref(h->pending);	/* left to its thread */
		h->pending = NULL;
	}
	if (h->pending == NULL &&
	    (h->pending = http_lookup_start(host, port)) == NULL)
		return status_set(st, ST_OSERR, "cannot start a name lookup "
		    "of '%s'", host);
	l = h->pending;
	if (!http_lookup_wait(l, until))
		return status_set(st, ST_UNAVAIL, "name lookup of '%s' did not "
		    "answer within %.1fs", host, (double)(until > t0 ?
		    until - t0 : 0) / 1000.0);
	h->pending = NULL;
	if (l->err != 0) {
		why = l->err == EAI_SYSTEM ? strerror(l->sys_errno) :
		    gai_strerror(l->err);
		rc = status_set(st, ST_UNAVAIL, "cannot resolve '%s': %s",
		    host, why);
		http_lookup_unref(l);
		return rc;
	}
	rc = http_resolve_line(l, line, sizeof(line));
	http_lookup_unref(l);
	if (rc != 0)
		return status_set(st, ST_UNAVAIL, "cannot resolve '%s': no "
		    "address", host);
	text_copy(slot->line, line, sizeof(slot->line));
	text_copy(slot->key, key, sizeof(slot->key));
	slot->at = t0;
	i = (size_t)(slot - h->cache);
add:
	if ((nl = curl_slist_append(*list, h->cache[i].line)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	*list = nl;
	return ST_OK;
}

/*
 * The scheme, host (lowercased; IPv6 in brackets) and port of a URL, read
 * as libcurl reads it (scheme://[userinfo@]host[:port][/?#...]); not
 * libcurl's URL API, which the link-time stub (tools/curl-stub.c) lacks.
 * proxy: the URL may lack a scheme (http, as libcurl takes it), and the
 * port defaults as libcurl's do for proxies (1080, https: 443).  0, or -1.
 */
static int
http_url_parts(const char *url, int proxy, char scheme[16],
    char host[HTTP_HOST_LEN], char port[8])
{
	const char *sep = strstr(url, "://"), *auth, *end, *at, *h, *colon;
	size_t sl, hl, i;

	if (sep == NULL && !proxy)
		return -1;
	sl = sep != NULL ? (size_t)(sep - url) : 4;
	if (sl == 0 || sl >= 16)
		return -1;
	memcpy(scheme, sep != NULL ? url : "http", sl);
	scheme[sl] = '\0';
	for (i = 0; i < sl; i++)
		if (scheme[i] >= 'A' && scheme[i] <= 'Z')
			scheme[i] = (char)(scheme[i] - 'A' + 'a');
	auth = sep != NULL ? sep + 3 : url;
	end = auth + strcspn(auth, "/?#");
	for (at = auth, h = auth; at < end; at++)
		if (*at == '@')
			h = at + 1;
	if (*h == '[') {
		if ((colon = memchr(h, ']', (size_t)(end - h))) == NULL)
			return -1;
		colon++;
		if (colon < end && *colon != ':')
			return -1;
	} else
		colon = memchr(h, ':', (size_t)(end - h));
	hl = (size_t)((colon != NULL && colon < end ? colon : end) - h);
	if (hl == 0 || hl >= HTTP_HOST_LEN)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	for (i = 0; i < hl; i++)
		if (host[i] >= 'A' && host[i] <= 'Z')
			host[i] = (char)(host[i] - 'A' + 'a');
	if (colon != NULL && colon < end && colon + 1 < end) {
		if ((size_t)(end - colon - 1) >= 6 ||
		    strspn(colon + 1, "0123456789") < (size_t)(end - colon - 1))
			return -1;
		/* as a number: "080" is libcurl's port 80 */
		snprintf(port, 8, "%ld", strtol(colon + 1, NULL, 10));
	} else if (proxy)
		text_copy(port, strcmp(scheme, "https") == 0 ? "443" : "1080",
		    8);
	else if (strcmp(scheme, "https") == 0)
		text_copy(port, "443", 8);
	else if (strcmp(scheme, "http") == 0)
		text_copy(port, "80", 8);
	else
		return -1;
	return 0;
}

/* 1 when host matches an entry of a no_proxy list, as libcurl reads it. */
static int
http_noproxy(const char *host, const char *list)
{
	size_t hl = strlen(host), n;
	const char *p = list, *tok;

	if (strcmp(list, "*") == 0)
		return 1;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		tok = p;
		n = strcspn(p, ", \t");
		p += n;
		if (n > 0 && tok[0] == '.') {
			tok++;
			n--;
		}
		if (n == 0)
			continue;
		if ((n == hl && strncasecmp(tok, host, n) == 0) ||
		    (hl > n && host[hl - n - 1] == '.' &&
		    strncasecmp(host + hl - n, tok, n) == 0))
			return 1;
	}
	return 0;
}

/*
 * The proxy libcurl would take from the environment for this scheme and
 * host (its order: scheme_proxy, SCHEME_PROXY but never HTTP_PROXY,
 * all_proxy, ALL_PROXY; no_proxy, NO_PROXY), into out; "" for none.
 * -1 when the value does not fit.
 */
static int
http_env_proxy(const char *scheme, const char *host, char *out, size_t len)
{
	char name[32];
	const char *v;
	size_t i;

	out[0] = '\0';
	if (((v = getenv("no_proxy")) != NULL ||
	    (v = getenv("NO_PROXY")) != NULL) && http_noproxy(host, v))
		return 0;
	snprintf(name, sizeof(name), "%s_proxy", scheme);
	v = getenv(name);
	if (v == NULL && strcmp(scheme, "http") != 0) {
		for (i = 0; name[i] != '\0'; i++)
			if (name[i] >= 'a' && name[i] <= 'z')
				name[i] = (char)(name[i] - 'a' + 'A');
		v = getenv(name);
	}
	if (v == NULL && (v = getenv("all_proxy")) == NULL)
		v = getenv("ALL_PROXY");
	if (v == NULL)
		return 0;
	return text_copy(out, v, len) < len ? 0 : -1;
}

/*
 * Where the request goes, decided here rather than by libcurl: the proxy
 * (proxy; "" for none) and a CURLOPT_RESOLVE entry for every name libcurl
 * would look up, each looked up within until.
 *
 * Why: libcurl's threaded resolver (the default build of 7.76..8.x) runs
 * getaddrinfo in a thread of its own, which a transfer that times out
 * during the lookup and curl_easy_cleanup wait for (joined; only 7.87's
 * CURLOPT_QUICK_EXIT spares the cleanup, not the end of the transfer).  A
 * resolver that never answers then held a hook for resolv.conf's timeout
 * times attempts, past its deadline.  With every name in its DNS cache,
 * libcurl starts no lookup at all, on any version.
 */
static int
http_route(struct http *h, const struct http_req *req, char *proxy,
    size_t plen, struct curl_slist **list, int64_t until, struct status *st)
{
	char scheme[16], host[HTTP_HOST_LEN], port[8];
	char pscheme[16], phost[HTTP_HOST_LEN], pport[8];
	int rc;

	proxy[0] = '\0';
	if (req->unix_socket != NULL ||
	    http_url_parts(req->url, 0, scheme, host, port) != 0)
		return ST_OK;	/* no name; or libcurl refuses the URL */
	if (!req->no_proxy &&
	    http_env_proxy(scheme, host, proxy, plen) != 0)
		return status_set(st, ST_UNAVAIL, "the proxy variable for %s "
		    "is too long", scheme);
	if (proxy[0] != '\0') {
		if (http_url_parts(proxy, 1, pscheme, phost, pport) != 0)
			return status_set(st, ST_UNAVAIL, "the proxy '%.100s' "
			    "from the environment is not a URL", proxy);
		if ((rc = http_resolve(h, phost, pport, until, list, st)) !=
		    ST_OK)
			return status_wrap(st, "proxy");
		/* the proxy looks the host up, but for socks4:// and
		 * socks5://, where libcurl does */
		if (strcmp(pscheme, "socks4") != 0 &&
		    strcmp(pscheme, "socks5") != 0)
			return ST_OK;
	}
	return http_resolve(h, host, port, until, list, st);
}

/* ------------------------------------------------------------------ */
/* one request */

/*
 * Opens libcurl's sockets, close-on-exec, and keeps why one could not be
 * opened: libcurl reports only "couldn't connect", and CURLINFO_OS_ERRNO
 * does not cover socket() on every version, yet a socket refused for want
 * of descriptors or memory is a system error, not a service to retry.
 */
static curl_socket_t
http_opensocket(void *user, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http_sink *s = user;
	curl_socket_t fd;

	(void)purpose;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd == CURL_SOCKET_BAD)
		s->sock_errno = errno;
	return fd;
}

static int
http_setup(CURL *c, const struct http_req *req, long total_ms,
    const char *proxy, struct curl_slist *resolve, struct http_sink *sink,
    struct curl_slist **hdrs, char *errbuf, struct status *st)
{
	size_t i;
	int rc = ST_OK;

	curl_easy_reset(c);
	SETOPT(c, CURLOPT_URL, req->url);
	if ((rc = http_protocols(c, req->protocols, st)) != ST_OK)
		goto out;
	/* never followed here: libcurl would send the caller's headers to
	 * the origin a reply names (resp->location; health.c) */
	SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(c, CURLOPT_WRITEFUNCTION, http_write);
	SETOPT(c, CURLOPT_WRITEDATA, sink);
	SETOPT(c, CURLOPT_HEADERFUNCTION, http_header);
	SETOPT(c, CURLOPT_HEADERDATA, sink);
	SETOPT(c, CURLOPT_OPENSOCKETFUNCTION, http_opensocket);
	SETOPT(c, CURLOPT_OPENSOCKETDATA, sink);
	SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(c, CURLOPT_TIMEOUT_MS, total_ms > 0 ? total_ms : 1L);
	SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_ms > 0 &&
	    req->connect_ms < total_ms ? req->connect_ms :
	    (total_ms > 0 ? total_ms : 1L));
	SETOPT(c, CURLOPT_USERAGENT, "cdgate/0.1");
	SETOPT(c, CURLOPT_ACCEPT_ENCODING, NULL);
	if (req->no_proxy) {
		SETOPT(c, CURLOPT_PROXY, "");
		SETOPT(c, CURLOPT_NOPROXY, "*");
	} else {
		/* the proxy http_route chose, or "" for none; an empty
		 * NOPROXY: libcurl reads no variable of its own, so it looks
		 * up only the names http_route did */
		SETOPT(c, CURLOPT_PROXY, proxy);
		SETOPT(c, CURLOPT_NOPROXY, "");
	}
	if (resolve != NULL)
		SETOPT(c, CURLOPT_RESOLVE, resolve);
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

/*
 * A certificate problem: retrying does not heal it (the CA file, or the
 * endpoint, is wrong).  CURLE_PEER_FAILED_VERIFICATION is also what
 * 7.62+ answers for an untrusted chain (the old CURLE_SSL_CACERT, 60).
 */
static int
http_cert_error(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_ISSUER_ERROR ||
	    cc == CURLE_SSL_CRL_BADFILE || cc == CURLE_SSL_INVALIDCERTSTATUS ||
	    cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

int
http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
    struct status *st)
{
	char errbuf[CURL_ERROR_SIZE] = "", proxy[CAP_URL];
	struct curl_slist *hdrs = NULL, *resolve = NULL;
	struct http_sink sink = { NULL, 0, req->cap, 0, 0, 0, 0, 0, 0 };
	const char *ct = NULL, *loc = NULL;
	int64_t t0 = mono_ms();
	long total, oserr = 0;
	CURLcode cc;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if ((rc = http_route(h, req, proxy, sizeof(proxy), &resolve,
	    t0 + (req->total_ms > 0 ? req->total_ms : 1), st)) != ST_OK)
		goto out;
	/* the lookup's time comes out of the request's */
	total = req->total_ms - (long)(mono_ms() - t0);
	if ((rc = http_setup(h->curl, req, total > 0 ? total : 1, proxy,
	    resolve, &sink, &hdrs, errbuf, st)) != ST_OK)
		goto out;
	h->count++;
	cc = curl_easy_perform(h->curl);
	if (sink.hover) {
		resp->oversize = 1;
		rc = status_set(st, ST_UNAVAIL, "reply headers larger than %d "
		    "bytes", CAP_HTTP_HEADERS);
		goto out;
	}
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
		resp->cert_error = http_cert_error(cc);
		/* a socket refused for want of descriptors or memory is the
		 * system's failure (71), never a service to retry */
		if (sink.sock_errno != 0)
			oserr = sink.sock_errno;
		else if (curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO,
		    &oserr) != CURLE_OK)
			oserr = 0;
		rc = status_sys((int)oserr, ST_UNAVAIL);
		status_set(st, rc, "%s%s", errbuf[0] ? errbuf :
		    curl_easy_strerror(cc), rc == ST_OSERR ? " (the system is "
		    "out of descriptors or memory)" : "");
		goto out;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->status >= 300 && resp->status <= 399 &&
	    curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &loc) ==
	    CURLE_OK && loc != NULL && strlen(loc) < sizeof(resp->location))
		text_copy(resp->location, loc, sizeof(resp->location));
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
	curl_slist_free_all(resolve);
	/* the lists must not outlive this call inside the handle */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_RESOLVE, NULL);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
	return rc;
}

int
http_origin(const char *url, char *out, size_t len)
{
	char scheme[16], host[HTTP_HOST_LEN], port[8];
	int n;

	if (http_url_parts(url, 0, scheme, host, port) != 0 ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		return -1;
	n = snprintf(out, len, "%s://%s:%s", scheme, host, port);
	return n < 0 || (size_t)n >= len ? -1 : 0;
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
