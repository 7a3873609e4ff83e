#include "checks/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "aws/http.h"
#include "base/event.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/text.h"

#define HEALTH_SHOWN_MAX 8	/* distinct progress lines per run */
#define HEALTH_KEY_LEN 64

/* The outcome of one round (every target, up to the first failure). */
struct health_try {
	int ok;
	const struct health_target *t;	/* the failing (or last) target */
	char what[CAP_MSG];		/* "503 'starting'", "connect: ..." */
	char key[HEALTH_KEY_LEN];	/* the kind of outcome, for progress */
	int cut;			/* timed out because the deadline came */
};

struct health_run {
	const struct health_conf *c;
	char url[CAP_URL];		/* health_http's, across redirects */
	struct http_resp resp;		/* health_http's */
	char from[CAP_URL], to[CAP_URL];	/* health_redirect's origins */
	char sockdir[CAP_PATH];		/* health_unix_trusted's */
	struct health_target t[HEALTH_MAX_URLS + HEALTH_MAX_TCP];
	size_t n;
	struct health_codes codes;
	const char *headers[HTTP_MAX_HEADERS];
	struct http *http;
	unsigned long rounds, passes;
	long streak;
	struct health_try last;		/* the last round */
	struct health_try fail;		/* the last failed round */
	char shown[HEALTH_SHOWN_MAX][HEALTH_KEY_LEN];
	size_t nshown;
};

/* ------------------------------------------------------------------ */
/* parsers */

int
health_ms_parse(const char *s, long min_ms, long max_ms, long *ms)
{
	long v = 0, mult = 1000;
	int digits = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (digits >= 9)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (digits == 0)
		return -1;
	if (strncmp(s, "ms", 2) == 0) {
		mult = 1;
		s += 2;
	} else if (*s == 's')
		s++;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0' || v > max_ms / mult || v * mult < min_ms)
		return -1;
	*ms = v * mult;
	return 0;
}

static void
health_codes_set(struct health_codes *c, long code)
{
	c->bits[code / 64] |= (uint64_t)1 << (code % 64);
}

int
health_codes_match(const struct health_codes *c, long code)
{
	if (code < 0 || code >= 64 * (long)(sizeof(c->bits) /
	    sizeof(c->bits[0])))
		return 0;
	return (c->bits[code / 64] >> (code % 64)) & 1;
}

int
health_codes_parse(const char *spec, struct health_codes *out,
    struct status *st)
{
	char buf[HEALTH_STATUS_LEN], *tok, *save = NULL;
	long code, i;
	int any = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(spec) >= sizeof(buf))
		return status_set(st, ST_CONFIG, "status = '%s' is too long",
		    spec);
	text_copy(buf, spec, sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strlen(tok) == 3 && tok[0] >= '1' && tok[0] <= '5' &&
		    (tok[1] == 'x' || tok[1] == 'X') &&
		    (tok[2] == 'x' || tok[2] == 'X')) {
			for (i = 0; i < 100; i++)
				health_codes_set(out, (tok[0] - '0') * 100 + i);
		} else if (strlen(tok) == 3 &&
		    text_long(tok, 100, 599, &code) == 0)
			health_codes_set(out, code);
		else
			return status_set(st, ST_CONFIG, "status = '%s': "
			    "expected codes such as 200, 200,204 or 2xx",
			    spec);
		any = 1;
	}
	if (!any)
		return status_set(st, ST_CONFIG, "status is empty: expected "
		    "codes such as 200, 200,204 or 2xx");
	return ST_OK;
}

/* Printable ASCII or UTF-8, no blanks, no controls. */
static int
health_word_ok(const char *w)
{
	const unsigned char *p = (const unsigned char *)w;

	for (; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return 0;
	return text_utf8_valid(w, strlen(w));
}

static int
health_http_parse(const char *w, struct health_target *t, struct status *st)
{
	const char *auth = strstr(w, "://") + 3;
	size_t alen = strcspn(auth, "/?#");

	if (alen == 0)
		return status_set(st, ST_CONFIG, "url '%s' has no host", w);
	if (memchr(auth, '@', alen) != NULL)
		return status_set(st, ST_CONFIG, "url '%s' holds credentials, "
		    "which would be printed; send them with header.NAME = "
		    "value instead", w);
	t->kind = HEALTH_HTTP;
	t->https = strncmp(w, "https:", 6) == 0;
	text_copy(t->url, w, sizeof(t->url));
	return ST_OK;
}

static int
health_unix_parse(const char *w, struct health_target *t, struct status *st)
{
	const char *sock = w + 5, *colon = strchr(sock, ':');
	const char *path = colon != NULL ? colon + 1 : "/";
	size_t slen = colon != NULL ? (size_t)(colon - sock) : strlen(sock);
	struct sockaddr_un sun;
	int n;

	if (sock[0] != '/' || path[0] != '/')
		return status_set(st, ST_CONFIG, "url '%s': expected "
		    "unix:/SOCKET or unix:/SOCKET:/PATH", w);
	if (slen >= sizeof(sun.sun_path))
		return status_set(st, ST_CONFIG, "url '%s': socket path longer "
		    "than %zu bytes", w, sizeof(sun.sun_path) - 1);
	memcpy(t->sock, sock, slen);
	t->sock[slen] = '\0';
	n = snprintf(t->url, sizeof(t->url), "http://%s%s", HEALTH_UNIX_HOST,
	    path);
	if (n < 0 || (size_t)n >= sizeof(t->url))
		return status_set(st, ST_CONFIG, "url '%s' is too long", w);
	t->kind = HEALTH_UNIX;
	return ST_OK;
}

int
health_url_parse(const char *w, struct health_target *t, struct status *st)
{
	memset(t, 0, sizeof(*t));
	if (w[0] == '\0' || strlen(w) >= sizeof(t->name))
		return status_set(st, ST_CONFIG, "url is empty or too long");
	if (!health_word_ok(w))
		return status_set(st, ST_CONFIG, "url '%s' holds control "
		    "characters", w);
	text_copy(t->name, w, sizeof(t->name));
	if (strncmp(w, "http://", 7) == 0 || strncmp(w, "https://", 8) == 0)
		return health_http_parse(w, t, st);
	if (strncmp(w, "unix:", 5) == 0)
		return health_unix_parse(w, t, st);
	return status_set(st, ST_CONFIG, "url '%s': expected http://, "
	    "https:// or unix:/SOCKET:/PATH", w);
}

int
health_tcp_parse(const char *w, struct health_target *t, struct status *st)
{
	const char *colon = strrchr(w, ':'), *host = w;
	struct in6_addr a6;
	struct in_addr a4;
	size_t hlen;
	long port;

	memset(t, 0, sizeof(*t));
	if (colon == NULL || strlen(w) >= sizeof(t->name) ||
	    text_long(colon + 1, 1, 65535, &port) != 0 ||
	    !health_word_ok(w))
		return status_set(st, ST_CONFIG, "tcp '%s': expected ADDRESS:"
		    "PORT such as 127.0.0.1:5432 or [::1]:5432", w);
	hlen = (size_t)(colon - w);
	if (hlen >= 2 && w[0] == '[' && w[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(t->addr))
		return status_set(st, ST_CONFIG, "tcp '%s': expected an IP "
		    "address before the port", w);
	memcpy(t->addr, host, hlen);
	t->addr[hlen] = '\0';
	if (strcmp(t->addr, "localhost") == 0)
		text_copy(t->addr, "127.0.0.1", sizeof(t->addr));
	if (inet_pton(AF_INET, t->addr, &a4) != 1 &&
	    (host == w || inet_pton(AF_INET6, t->addr, &a6) != 1))
		return status_set(st, ST_CONFIG, "tcp '%s': expected an IP "
		    "address (names are not resolved; IPv6 in brackets)", w);
	text_copy(t->name, w, sizeof(t->name));
	t->kind = HEALTH_TCP;
	t->port = (int)port;
	return ST_OK;
}

/* health_list_parse into t, or into one (t NULL: validate only). */
static int
health_list_into(const char *what, const char *list,
    int (*parse)(const char *, struct health_target *, struct status *),
    struct health_target *t, struct health_target *one, size_t *n,
    size_t max, struct status *st)
{
	char buf[CAP_VALUE], *tok, *save = NULL;
	size_t start = *n;
	int rc;

	if (strlen(list) >= sizeof(buf))
		return status_set(st, ST_CONFIG, "%s: list too long", what);
	text_copy(buf, list, sizeof(buf));
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (*n - start >= max)
			return status_set(st, ST_CONFIG, "%s: more than %zu "
			    "entries", what, max);
		if ((rc = parse(tok, t != NULL ? &t[*n] : one, st)) != ST_OK)
			return rc;
		(*n)++;
	}
	if (*n == start)
		return status_set(st, ST_CONFIG, "%s: expected one or more "
		    "entries", what);
	return ST_OK;
}

int
health_list_parse(const char *what, const char *list,
    int (*parse)(const char *, struct health_target *, struct status *),
    struct health_target *t, size_t *n, size_t max, struct status *st)
{
	struct health_target *one = NULL;	/* a target is ~8 KiB */
	int rc;

	if (t == NULL && (one = malloc(sizeof(*one))) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	rc = health_list_into(what, list, parse, t, one, n, max, st);
	free(one);
	return rc;
}

int
health_header_make(const char *name, const char *value, char *out,
    size_t len, struct status *st)
{
	const unsigned char *p;
	int n;

	if (name[0] == '\0')
		return status_set(st, ST_CONFIG, "header. needs a name, as in "
		    "header.Host = app.example");
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~",
		    *p) != NULL))
			return status_set(st, ST_CONFIG, "header '%s': not a "
			    "valid header name", name);
	if (value[0] == '\0')
		return status_set(st, ST_CONFIG, "header '%s' needs a value",
		    name);
	for (p = (const unsigned char *)value; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return status_set(st, ST_CONFIG, "header '%s': control "
			    "characters in the value", name);
	n = snprintf(out, len, "%s: %s", name, value);
	if (n < 0 || (size_t)n >= len)
		return status_set(st, ST_CONFIG, "header '%s' is too long",
		    name);
	return ST_OK;
}

/* ------------------------------------------------------------------ */
/* one attempt */

static void
health_fail_what(struct health_try *r, const char *key, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
health_fail_what(struct health_try *r, const char *key, const char *fmt, ...)
{
	va_list ap;

	r->ok = 0;
	va_start(ap, fmt);
	if (vsnprintf(r->what, sizeof(r->what), fmt, ap) < 0)
		text_copy(r->what, "(no message)", sizeof(r->what));
	va_end(ap);
	text_copy(r->key, key, sizeof(r->key));
}

/* A key for an error text: digits dropped ("after 12 ms" varies). */
static void
health_error_key(const char *msg, char *key, size_t len)
{
	size_t o = 0;

	key[o++] = 'e';
	for (; *msg != '\0' && o + 1 < len; msg++)
		if (!(*msg >= '0' && *msg <= '9'))
			key[o++] = *msg;
	key[o] = '\0';
}

/* A short, cleaned excerpt of a body, blank runs squeezed to one space. */
static void
health_excerpt(const char *body, size_t len, char *ex, size_t exlen)
{
	char sq[HEALTH_EXCERPT * 4];
	size_t i, o = 0;
	int blank = 1;

	for (i = 0; i < len && o < sizeof(sq); i++) {
		if (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
		    body[i] == '\n') {
			if (!blank)
				sq[o++] = ' ';
			blank = 1;
			continue;
		}
		sq[o++] = body[i];
		blank = 0;
	}
	text_clean(ex, exlen, sq, o);
	text_trim(ex);
}

static void
health_judge(const struct health_conf *cfg, const struct health_run *run,
    const struct http_resp *resp, struct health_try *r)
{
	char ex[HEALTH_EXCERPT], key[HEALTH_KEY_LEN];

	health_excerpt(resp->body, resp->len, ex, sizeof(ex));
	if (!health_codes_match(&run->codes, resp->status)) {
		snprintf(key, sizeof(key), "s%ld", resp->status);
		if (resp->status >= 300 && resp->status < 400 &&
		    cfg->redirects == 0)
			health_fail_what(r, key, "%ld, a redirect (not "
			    "followed: follow_redirects = no)", resp->status);
		else if (ex[0] == '\0')
			health_fail_what(r, key, "%ld with an empty body",
			    resp->status);
		else
			health_fail_what(r, key, "%ld '%s'", resp->status, ex);
		return;
	}
	if (cfg->body[0] != '\0' && (resp->len == 0 ||
	    memmem(resp->body, resp->len, cfg->body,
	    strlen(cfg->body)) == NULL)) {
		snprintf(key, sizeof(key), "b%ld", resp->status);
		if (ex[0] == '\0')
			health_fail_what(r, key, "%ld with an empty body, "
			    "without '%.40s'", resp->status, cfg->body);
		else
			health_fail_what(r, key, "%ld without '%.40s' in the "
			    "body '%s'", resp->status, cfg->body, ex);
		return;
	}
	r->ok = 1;
	snprintf(r->what, sizeof(r->what), "%ld", resp->status);
	text_copy(r->key, "ok", sizeof(r->key));
}

/*
 * 1 when a redirect (resp) is to be followed to resp->location, into url;
 * 0 when not (r says why, or the reply is judged as it is).  Only to the
 * url's own origin (scheme, host and port): the header.NAME values (API
 * keys, tokens) must never reach another host, nor leave TLS.  libcurl's
 * CURLOPT_UNRESTRICTED_AUTH covers only Authorization, so http.c follows
 * no redirect itself.
 */
static int
health_redirect(struct health_run *run, const struct health_target *t,
    const struct http_resp *resp, long hops, char *url, size_t len,
    struct health_try *r)
{
	const struct health_conf *cfg = run->c;
	char *from = run->from, *to = run->to, key[HEALTH_KEY_LEN];

	if (cfg->redirects == 0 || resp->status < 300 ||
	    resp->status > 399 || resp->location[0] == '\0')
		return 0;
	snprintf(key, sizeof(key), "r%ld", resp->status);
	if (hops >= cfg->redirects) {
		health_fail_what(r, key, "Maximum (%ld) redirects followed, "
		    "the last to '%.200s'", cfg->redirects,
		    resp->location);
		return 0;
	}
	if (http_origin(t->url, from, sizeof(run->from)) != 0 ||
	    http_origin(resp->location, to, sizeof(run->to)) != 0 ||
	    strcmp(from, to) != 0) {
		if (t->https && strncmp(resp->location, "https:", 6) != 0)
			health_fail_what(r, key, "%ld to '%.200s' not "
			    "followed: it leaves https", resp->status,
			    resp->location);
		else
			health_fail_what(r, key, "%ld to '%.200s' not "
			    "followed: another origin than the url's (only "
			    "its own scheme, host and port get the request "
			    "headers)", resp->status, resp->location);
		return 0;
	}
	text_copy(url, resp->location, len);
	return 1;
}

/*
 * A unix: socket answers for the service only if nobody else could have
 * put it there: not a link, and owned by root or the running user, in a
 * directory that is not writable by group or others unless it is sticky
 * (others can then not replace a socket they do not own); or, in a
 * directory only root or the running user can write, owned by anyone (the
 * service's own user: only they could have let it create it).  1 when it
 * can be trusted or does not exist (the connection then says so); else 0
 * with the reason in r, a failed round.
 */
static int
health_unix_trusted(struct health_run *run, const struct health_target *t,
    struct health_try *r)
{
	char *dir = run->sockdir, *slash;
	struct stat sb, db;
	int mine, dir_mine, open_dir;

	if (lstat(t->sock, &sb) == -1)
		return 1;
	if (S_ISLNK(sb.st_mode) || !S_ISSOCK(sb.st_mode)) {
		health_fail_what(r, "untrusted", "'%s' is %s, not a socket; "
		    "links are refused, use the real path", t->sock,
		    S_ISLNK(sb.st_mode) ? "a symbolic link" : "another file");
		return 0;
	}
	text_copy(dir, t->sock, sizeof(run->sockdir));
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	if (stat(dir, &db) == -1) {
		health_fail_what(r, "untrusted", "cannot stat the socket's "
		    "directory '%s': %s", dir, strerror(errno));
		return 0;
	}
	mine = sb.st_uid == 0 || sb.st_uid == geteuid();
	dir_mine = db.st_uid == 0 || db.st_uid == geteuid();
	open_dir = (db.st_mode & (S_IWGRP | S_IWOTH)) != 0;
	if (open_dir && !(db.st_mode & S_ISVTX))
		health_fail_what(r, "untrusted", "socket '%s' is in directory "
		    "'%s', writable by %s and not sticky: anyone there could "
		    "replace it; chmod go-w '%s'", t->sock, dir,
		    (db.st_mode & S_IWOTH) ? "everyone" : "its group", dir);
	else if (!mine && (open_dir || !dir_mine))
		health_fail_what(r, "untrusted", "socket '%s' is owned by uid "
		    "%lu, not root or the running user, in directory '%s' "
		    "%s", t->sock, (unsigned long)sb.st_uid, dir, open_dir ?
		    "that others can write (sticky)" : "not owned by root "
		    "or the running user either");
	else
		return 1;
	return 0;
}

/* ST_OK with the outcome in r; anything else ends the check. */
static int
health_http(struct check_ctx *g, struct health_run *run,
    const struct health_target *t, long ms, int cut, struct health_try *r)
{
	struct http_req req;
	struct http_resp *resp = &run->resp;
	char key[HEALTH_KEY_LEN], *url = run->url;
	int64_t until = mono_ms() + ms;
	long hops;
	int rc;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	text_copy(url, t->url, sizeof(run->url));
	req.url = url;
	memcpy(req.headers, run->headers, sizeof(req.headers));
	req.cap = HEALTH_BODY_CAP;
	/* the same origin throughout: no redirect changes the scheme */
	req.protocols = t->https ? HTTP_PROTO_HTTPS : HTTP_PROTO_HTTP;
	req.no_proxy = 1;
	req.ca_file = run->c->ca_file[0] ? run->c->ca_file : NULL;
	req.unix_socket = t->kind == HEALTH_UNIX ? t->sock : NULL;
	if (t->kind == HEALTH_UNIX && !health_unix_trusted(run, t, r))
		return ST_OK;
	for (hops = 0;; hops++) {
		/* one request_timeout for the request and its redirects */
		req.total_ms = hops == 0 ? ms : (long)mono_left(until);
		if (req.total_ms <= 0)
			req.total_ms = 1;
		rc = http_do(run->http, &req, resp, &g->st);
		if (rc != ST_OK || !health_redirect(run, t, resp, hops,
		    url, sizeof(run->url), r))
			break;
		http_resp_free(resp);
	}
	if (rc == ST_OK && r->what[0] != '\0')
		;	/* a redirect not followed: r says why */
	else if (rc == ST_OK)
		health_judge(run->c, run, resp, r);
	else if (rc == ST_UNAVAIL && resp->timed_out) {
		health_fail_what(r, "timeout", "no reply within %.1fs%s",
		    (double)ms / 1000.0, cut ? " (cut at the deadline)" :
		    " (request_timeout)");
		r->cut = cut;
	}
	else if (rc == ST_UNAVAIL) {
		health_error_key(g->st.msg, key, sizeof(key));
		health_fail_what(r, key, "%s", g->st.msg);
	}
	http_resp_free(resp);
	if (rc != ST_OK && rc != ST_UNAVAIL)
		return status_wrap(&g->st, "health '%.100s'", t->name);
	status_clear(&g->st);
	return ST_OK;
}

/* Connects and closes; ST_OK with the outcome in r, or ST_OSERR. */
static int
health_tcp(struct check_ctx *g, const struct health_target *t, long ms, int cut,
    struct health_try *r)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl, el = sizeof(int);
	struct pollfd pfd;
	int64_t until = mono_ms() + ms;
	int fd, err = 0, n;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, t->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)t->port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, t->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)t->port);
		sl = sizeof(*s6);
	} else
		return status_set(&g->st, ST_SOFTWARE, "tcp '%s': bad address",
		    t->name);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return status_set(&g->st, ST_OSERR, "tcp '%s': socket: %s",
		    t->name, strerror(errno));
	if (connect(fd, (struct sockaddr *)&ss, sl) == -1) {
		err = errno;
		while (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			n = poll(&pfd, 1, (int)mono_left(until));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				err = n == 0 ? ETIMEDOUT : errno;
				break;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &el) == -1)
				err = errno;
		}
	}
	close(fd);
	if (err == ETIMEDOUT) {
		health_fail_what(r, "timeout", "no connection within %.1fs%s",
		    (double)ms / 1000.0, cut ? " (cut at the deadline)" :
		    " (request_timeout)");
		r->cut = cut;
	} else if (err != 0)
		health_fail_what(r, strerror(err), "connect: %s",
		    strerror(err));
	else {
		r->ok = 1;
		text_copy(r->what, "connected", sizeof(r->what));
		text_copy(r->key, "ok", sizeof(r->key));
	}
	return ST_OK;
}

/* Every target in order, up to the first failure. */
static int
health_round(struct check_ctx *g, struct health_run *run)
{
	struct health_try *r = &run->last;
	int64_t left;
	long ms;
	size_t i;
	int rc, cut;

	run->rounds++;
	for (i = 0; i < run->n; i++) {
		memset(r, 0, sizeof(*r));
		r->t = &run->t[i];
		left = mono_left(g->deadline);
		cut = left < run->c->request_ms;
		ms = cut ? (long)left : run->c->request_ms;
		if (ms <= 0) {
			health_fail_what(r, "timeout", "no time left for a "
			    "request");
			return ST_OK;
		}
		rc = run->t[i].kind == HEALTH_TCP ?
		    health_tcp(g, &run->t[i], ms, cut, r) :
		    health_http(g, run, &run->t[i], ms, cut, r);
		if (rc != ST_OK || !r->ok)
			return rc;
	}
	return ST_OK;
}

/* ------------------------------------------------------------------ */
/* the check */

static int
health_setup(struct check_ctx *g, struct health_run *run)
{
	const struct health_conf *c = run->c;
	size_t i;

	if (c->url[0] != '\0' && health_list_parse("url",
	    c->url, health_url_parse, run->t, &run->n, HEALTH_MAX_URLS,
	    &g->st) != ST_OK)
		return status_wrap(&g->st, "health");
	if (c->tcp[0] != '\0' && health_list_parse("tcp",
	    c->tcp, health_tcp_parse, run->t, &run->n, HEALTH_MAX_TCP,
	    &g->st) != ST_OK)
		return status_wrap(&g->st, "health");
	if (run->n == 0)
		return status_set(&g->st, ST_CONFIG, "health: [health] needs "
		    "a url or a tcp");
	if (health_codes_parse(c->status, &run->codes, &g->st) != ST_OK)
		return status_wrap(&g->st, "health");
	for (i = 0; i < c->nheaders && i + 1 < HTTP_MAX_HEADERS; i++)
		run->headers[i] = c->headers[i];
	if (c->ca_file[0] != '\0' && access(c->ca_file, R_OK))
		return status_set(&g->st, ST_CONFIG, "health: ca_file '%s' "
		    "cannot be read: %s; fix [health] ca_file",
		    c->ca_file, strerror(errno));
	if (c->url[0] != '\0' && (run->http = http_new(&g->st)) ==
	    NULL)
		return g->st.code;
	return ST_OK;
}

/* A progress line for an outcome not shown before. */
static void
health_show(struct health_run *run, long need)
{
	const struct health_try *r = &run->last;
	size_t i;

	for (i = 0; i < run->nshown; i++)
		if (strcmp(run->shown[i], r->key) == 0)
			return;
	if (run->nshown >= HEALTH_SHOWN_MAX)
		return;
	text_copy(run->shown[run->nshown++], r->key, HEALTH_KEY_LEN);
	if (r->ok)
		out_info("health: passed (%ld of %ld in a row, attempt %lu)",
		    run->streak, need, run->rounds);
	else
		out_info("health: '%.100s': %s (attempt %lu)", r->t->name,
		    r->what, run->rounds);
}

static int
health_fail(struct check_ctx *g, struct health_run *run, long need)
{
	const struct health_try *r = &run->fail;
	char tail[96] = "";

	if (r->t == NULL)	/* every attempt passed, too few of them */
		return status_set(&g->st, ST_TIMEOUT, "health: %ld of %ld "
		    "consecutive successes within %lds (%lu attempts); lower "
		    "successes or interval, or raise timeout", run->streak,
		    need, g->timeout, run->rounds);
	if (run->passes > 0 && need > 1)
		snprintf(tail, sizeof(tail), " (passed %lu times, never %ld "
		    "in a row)", run->passes, need);
	return status_set(&g->st, ST_TIMEOUT, "health '%.100s': %s after %lu "
	    "attempt%s in %.1fs%s", r->t->name, r->what, run->rounds,
	    run->rounds == 1 ? "" : "s", check_elapsed(g), tail);
}

/* The wait before the next round: the interval after a pass, else a
 * backoff that doubles up to interval_max, with jitter. */
static int64_t
health_next(const struct health_conf *c, const struct health_run *run,
    int64_t *backoff)
{
	int64_t d;

	if (run->last.ok) {
		*backoff = c->interval_ms;
		return c->interval_ms;
	}
	d = *backoff;
	*backoff = d * 2 > c->interval_max_ms ?
	    c->interval_max_ms : d * 2;
	if (*backoff < c->interval_ms)
		*backoff = c->interval_ms;
	return d / 2 + mono_jitter(d / 2);
}

/*
 * The wait is cut so that a last attempt starts HEALTH_FINAL_MS (or one
 * request_timeout, if shorter) before the deadline: a service that comes
 * up during a long backoff is still seen.  -1: no time for another one.
 */
static int64_t
health_wait_ms(const struct check_ctx *g, const struct health_run *run,
    int64_t wait)
{
	int64_t left = mono_left(g->deadline);
	int64_t reserve = run->c->request_ms < HEALTH_FINAL_MS ?
	    run->c->request_ms : HEALTH_FINAL_MS;

	if (left <= reserve)
		return -1;
	return wait < left - reserve ? wait : left - reserve;
}

static void
health_plan(const struct health_run *run, long need)
{
	char more[32] = "";

	if (run->n > 1)
		snprintf(more, sizeof(more), " and %zu more", run->n - 1);
	out_info("health: checking '%.100s'%s; status %s%s%.40s%s; %ld in a "
	    "row", run->t[0].name, more, run->c->status,
	    run->c->body[0] ? ", body has '" : "", run->c->body,
	    run->c->body[0] ? "'" : "", need);
}

static int
health_loop(struct check_ctx *g, struct health_run *run)
{
	long need = run->c->successes;
	int64_t backoff = run->c->interval_ms;
	int64_t beat = mono_ms() + CHECK_HEARTBEAT_MS, wait;
	int rc;

	for (;;) {
		if ((rc = health_round(g, run)) != ST_OK)
			return rc;
		run->streak = run->last.ok ? run->streak + 1 : 0;
		run->passes += run->last.ok ? 1 : 0;
		/* the verdict names the last failure, unless that one was
		 * only cut short by the deadline: the one before says more */
		if (!run->last.ok && !(run->last.cut && run->fail.t != NULL))
			run->fail = run->last;
		if (run->streak >= need)
			return ST_OK;
		health_show(run, need);
		if (mono_left(g->deadline) == 0)
			return health_fail(g, run, need);
		if (mono_ms() >= beat) {
			out_info("health: still waiting after %.0fs of %lds, "
			    "%lu attempts", check_elapsed(g), g->timeout,
			    run->rounds);
			beat = mono_ms() + CHECK_HEARTBEAT_MS;
		}
		if ((wait = health_wait_ms(g, run, health_next(run->c, run,
		    &backoff))) < 0)
			return health_fail(g, run, need);
		if ((rc = check_wait(g, NULL, wait)) != ST_OK)
			return rc;
	}
}

static int
health_run_check(struct check_ctx *g, const void *conf)
{
	struct health_run *run;
	int rc;

	if ((run = calloc(1, sizeof(*run))) == NULL)
		return status_set(&g->st, ST_OSERR, "health: out of memory");
	run->c = conf;
	if ((rc = health_setup(g, run)) != ST_OK)
		goto out;
	health_plan(run, run->c->successes);
	if ((rc = health_loop(g, run)) != ST_OK)
		goto out;
	out_info("health: ok, %zu target%s passed %ld time%s in a row "
	    "(%lu attempts, %.1fs)", run->n, run->n == 1 ? "" : "s",
	    run->streak, run->streak == 1 ? "" : "s", run->rounds,
	    check_elapsed(g));
	check_note(g, "health ok, %lu attempt%s", run->rounds,
	    run->rounds == 1 ? "" : "s");
out:
	http_free(run->http);
	free(run);
	return rc;
}

/* ------------------------------------------------------------------ */
/* its configuration: [health] */

/* A [health] list (url, tcp): validated by health.c's grammar. */
static int
health_key_list(struct inifile *f, const char *k, const char *v,
    int (*parse)(const char *, struct health_target *, struct status *),
    size_t max, char *out, size_t len)
{
	struct status st;
	size_t n = 0;

	if (strlen(v) >= len)
		return inifile_error(f, "%s: too long", k);
	if (health_list_parse(k, v, parse, NULL, &n, max, &st) != ST_OK)
		return inifile_error(f, "%s", st.msg);
	text_copy(out, v, len);
	return 0;
}

static int
health_key_ms(struct inifile *f, const char *k, const char *v, long *out)
{
	if (health_ms_parse(v, HEALTH_MS_MIN, HEALTH_MS_MAX, out) != 0)
		return inifile_error(f, "%s = '%s': expected seconds (5, 5s) "
		    "or milliseconds (500ms) from %dms to %ds", k, v,
		    HEALTH_MS_MIN, HEALTH_MS_MAX / 1000);
	return 0;
}

static int
health_key_more(struct inifile *f, struct health_conf *c, const char *k,
    const char *v)
{
	struct status st;
	int yes;

	if (strcmp(k, "follow_redirects") == 0) {
		if (text_long(v, 0, HEALTH_MAX_REDIRS, &c->redirects) ==
		    0)
			return 0;
		if (check_bool(f, k, v, &yes) != 0)
			return inifile_error(f, "follow_redirects = '%s': "
			    "expected yes, no or a count up to %d", v,
			    HEALTH_MAX_REDIRS);
		c->redirects = yes ? HEALTH_MAX_REDIRS : 0;
		return 0;
	}
	if (strcmp(k, "ca_file") == 0)
		return check_path(f, k, v, c->ca_file,
		    sizeof(c->ca_file));
	if (strncmp(k, "header.", 7) == 0) {
		if (c->nheaders >= HEALTH_MAX_HEADERS)
			return inifile_error(f, "more than %d header.NAME keys",
			    HEALTH_MAX_HEADERS);
		if (health_header_make(k + 7, v,
		    c->headers[c->nheaders],
		    sizeof(c->headers[0]), &st) != ST_OK)
			return inifile_error(f, "%s", st.msg);
		c->nheaders++;
		return 0;
	}
	return CHECK_KEY_NOT_MINE;
}

static int
health_key(void *conf, struct inifile *f, int where, const char *k,
    const char *v)
{
	struct health_conf *c = conf;
	struct health_codes codes;
	struct status st;

	if (where != CHECK_IN_SECTION)
		return CHECK_KEY_NOT_MINE;
	if (strcmp(k, "url") == 0)
		return health_key_list(f, k, v, health_url_parse,
		    HEALTH_MAX_URLS, c->url, sizeof(c->url));
	if (strcmp(k, "tcp") == 0)
		return health_key_list(f, k, v, health_tcp_parse,
		    HEALTH_MAX_TCP, c->tcp, sizeof(c->tcp));
	if (strcmp(k, "status") == 0) {
		if (health_codes_parse(v, &codes, &st) != ST_OK)
			return inifile_error(f, "%s", st.msg);
		text_copy(c->status, v, sizeof(c->status));
		return 0;
	}
	if (strcmp(k, "body") == 0) {
		text_copy(c->body, v, sizeof(c->body));
		return 0;
	}
	if (strcmp(k, "request_timeout") == 0)
		return health_key_ms(f, k, v, &c->request_ms);
	if (strcmp(k, "interval") == 0)
		return health_key_ms(f, k, v, &c->interval_ms);
	if (strcmp(k, "interval_max") == 0)
		return health_key_ms(f, k, v, &c->interval_max_ms);
	if (strcmp(k, "successes") == 0) {
		if (text_long(v, 1, HEALTH_MAX_SUCCESSES,
		    &c->successes) != 0)
			return inifile_error(f, "successes = '%s': expected a "
			    "count from 1 to %d", v, HEALTH_MAX_SUCCESSES);
		return 0;
	}
	return health_key_more(f, c, k, v);
}

static void
health_defaults(void *conf)
{
	struct health_conf *c = conf;

	text_copy(c->status, "200", sizeof(c->status));
	c->request_ms = HEALTH_REQUEST_MS;
	c->successes = 1;
	c->interval_ms = HEALTH_INTERVAL_MS;
	c->interval_max_ms = HEALTH_INTERVAL_MAX_MS;
}

static int
health_validate(const void *conf, int configured, const char *path,
    struct status *st)
{
	const struct health_conf *c = conf;

	if (configured && c->url[0] == '\0' && c->tcp[0] == '\0')
		return status_set(st, ST_CONFIG, "%s: [health] needs a url or "
		    "a tcp", path);
	return ST_OK;
}

const struct check_def check_health = {
	.name = "health",
	.section = "health",
	.keys = "url tcp status body header.NAME request_timeout successes "
	    "interval interval_max follow_redirects ca_file",
	.conf_size = sizeof(struct health_conf),
	.defaults = health_defaults,
	.key = health_key,
	.validate = health_validate,
	/* when configured: after the start, and before traffic */
	.default_events = CHECK_EVENT(EV_VALIDATE_SERVICE) |
	    CHECK_EVENT(EV_BEFORE_ALLOW_TRAFFIC),
	.default_if_configured = 1,
	.run = health_run_check,
};
