#include "checks/drain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/event.h"
#include "base/mono.h"
#include "base/out.h"
#include "base/text.h"

int
drain_ports_parse(const char *list, uint16_t *ports, size_t *n, size_t max,
    struct status *st)
{
	char buf[CAP_VALUE], *tok, *save = NULL;
	long v;

	*n = 0;
	if (strlen(list) >= sizeof(buf))
		return status_set(st, ST_CONFIG, "ports: list too long");
	text_copy(buf, list, sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (text_long(tok, 1, 65535, &v) != 0)
			return status_set(st, ST_CONFIG, "ports: '%s' is not a "
			    "port from 1 to 65535", tok);
		if (*n >= max)
			return status_set(st, ST_CONFIG, "ports: more than %zu "
			    "ports", max);
		ports[(*n)++] = (uint16_t)v;
	}
	if (*n == 0)
		return status_set(st, ST_CONFIG, "ports: expected one or more "
		    "ports, such as 80 443");
	return ST_OK;
}

/* A run of exactly `want` hex digits at *i (want <= 8 gives a value). */
static int
drain_hex(const char *p, size_t len, size_t *i, size_t want, unsigned *v)
{
	size_t k;
	unsigned x = 0;
	int d;

	for (k = 0; k < want; k++) {
		if (*i + k >= len || (d = text_hexval(p[*i + k])) < 0)
			return -1;
		x = want <= 8 ? x * 16 + (unsigned)d : 0;
	}
	if (*i + k < len && text_hexval(p[*i + k]) >= 0)
		return -1;	/* longer than want */
	*i += k;
	if (v != NULL)
		*v = x;
	return 0;
}

static int
drain_blanks(const char *p, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && p[*i] == ' ')
		(*i)++;
	return *i > start ? 0 : -1;
}

/* "0100007F:1F90": an 8- or 32-digit address, ':', a 4-digit port. */
static int
drain_endpoint(const char *p, size_t len, size_t *i, unsigned *port)
{
	size_t j = *i;

	while (j < len && text_hexval(p[j]) >= 0)
		j++;
	if ((j - *i != 8 && j - *i != 32) ||
	    drain_hex(p, len, i, j - *i, NULL) != 0)
		return -1;
	if (*i >= len || p[*i] != ':')
		return -1;
	(*i)++;
	return drain_hex(p, len, i, 4, port);
}

int
drain_parse_line(const char *p, size_t len, struct drain_sock *s)
{
	size_t i = 0, digits = 0;

	while (i < len && p[i] == ' ')
		i++;
	while (i < len && p[i] >= '0' && p[i] <= '9' && digits < 12) {
		i++;
		digits++;
	}
	if (digits == 0 || i >= len || p[i++] != ':')
		return -1;
	if (drain_blanks(p, len, &i) != 0 ||
	    drain_endpoint(p, len, &i, &s->lport) != 0 ||
	    drain_blanks(p, len, &i) != 0 ||
	    drain_endpoint(p, len, &i, &s->rport) != 0 ||
	    drain_blanks(p, len, &i) != 0 ||
	    drain_hex(p, len, &i, 2, &s->state) != 0)
		return -1;
	return i == len || p[i] == ' ' ? 0 : -1;
}

static int
drain_header(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] == ' ')
		i++;
	return len - i >= 2 && p[i] == 's' && p[i + 1] == 'l' ? 0 : -1;
}

static int
drain_match(const struct drain_scan *s, const struct drain_sock *k)
{
	size_t i;

	if (k->state != DRAIN_ESTABLISHED)
		return 0;
	for (i = 0; i < s->nports; i++)
		if (s->ports[i] == k->lport)
			return 1;
	return 0;
}

int
drain_scan_lines(struct drain_scan *s, const char *buf, size_t len,
    struct status *st)
{
	const char *p = buf, *end = buf + len, *nl;
	struct drain_sock k;
	size_t n;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > DRAIN_LINE_CAP)
			return status_set(st, ST_OSERR, "line %lu is longer "
			    "than %d bytes", s->lines + 1, DRAIN_LINE_CAP);
		if (s->lines >= DRAIN_MAX_LINES)
			return status_set(st, ST_OSERR, "more than %d sockets",
			    DRAIN_MAX_LINES);
		if (s->lines == 0 ? drain_header(p, n) != 0 :
		    drain_parse_line(p, n, &k) != 0)
			return status_set(st, ST_OSERR, "line %lu is not in "
			    "the expected format", s->lines + 1);
		if (s->lines > 0 && drain_match(s, &k))
			s->count++;
		s->lines++;
		p += n + (nl != NULL);
	}
	return ST_OK;
}

/* Reads fd to the end in chunks, feeding whole lines. */
static int
drain_read(int fd, struct drain_scan *s, char *buf, struct status *st)
{
	size_t have = 0, whole;
	const char *nl;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + have, DRAIN_CHUNK - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return status_set(st, ST_OSERR, "%s", strerror(errno));
		if (n == 0)
			return have > 0 ? drain_scan_lines(s, buf, have, st) :
			    ST_OK;
		have += (size_t)n;
		nl = memrchr(buf, '\n', have);
		whole = nl != NULL ? (size_t)(nl - buf) + 1 : 0;
		if (whole > 0 && drain_scan_lines(s, buf, whole, st) != ST_OK)
			return st->code;
		memmove(buf, buf + whole, have - whole);
		have -= whole;
		if (have > DRAIN_LINE_CAP)
			return status_set(st, ST_OSERR, "line %lu is longer "
			    "than %d bytes", s->lines + 1, DRAIN_LINE_CAP);
	}
}

int
drain_count_file(const char *path, int absent_ok, const uint16_t *ports,
    size_t nports, unsigned long *count, struct status *st)
{
	struct drain_scan s = { ports, nports, 0, 0 };
	char *buf = NULL;
	int fd, rc;

	*count = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && absent_ok)
			return ST_OK;
		return status_set(st, ST_OSERR, "drain: cannot read '%s': %s; "
		    "the drain check needs /proc mounted", path,
		    strerror(errno));
	}
	if ((buf = malloc(DRAIN_CHUNK)) == NULL) {
		rc = status_set(st, ST_OSERR, "drain: out of memory");
		goto out;
	}
	if ((rc = drain_read(fd, &s, buf, st)) != ST_OK) {
		status_wrap(st, "drain: '%s'", path);
		goto out;
	}
	if (s.lines == 0) {
		rc = status_set(st, ST_OSERR, "drain: '%s' is empty (no "
		    "header line)", path);
		goto out;
	}
	*count = s.count;
out:
	free(buf);
	close(fd);
	return rc;
}

int
drain_count_proc(const char *path, int absent_ok, const uint16_t *ports,
    size_t nports, unsigned long *count, struct status *st)
{
	unsigned long prev = 0, cur, most = 0;
	int i, rc;

	for (i = 0; i < DRAIN_PROC_READS; i++) {
		if ((rc = drain_count_file(path, absent_ok, ports, nports, &cur,
		    st)) != ST_OK)
			return rc;
		if (i > 0 && cur == prev) {
			*count = cur;
			return ST_OK;
		}
		most = cur > most ? cur : most;
		prev = cur;
	}
	*count = most;
	return ST_OK;
}

/* ------------------------------------------------------------------ */
/* sock_diag */

/*
 * Per port p, 20 bytes, on the kernel's rules (inet_diag_bc_audit): every
 * jump target lies on the chain of `yes` jumps from the start, and a run
 * ends accepted at exactly the end, refused 4 bytes past it.
 *   S_GE p (yes: next op; no: next port)   sport >= p
 *   S_LE p (yes: next op; no: next port)   sport <= p
 *   JMP    (yes: next port; no: the end)   accept
 * The last port's "next port" is the refusal.
 */
size_t
drain_diag_bytecode(const uint16_t *ports, size_t nports, uint8_t *bc)
{
	struct inet_diag_bc_op op[5];
	size_t i, len = nports * DRAIN_BC_PORT, at, left;

	for (i = 0; i < nports; i++) {
		at = i * DRAIN_BC_PORT;
		left = len - at;	/* bytes from this port's first op */
		memset(op, 0, sizeof(op));
		op[0].code = INET_DIAG_BC_S_GE;
		op[0].yes = 8;
		op[0].no = (unsigned short)(i + 1 < nports ? DRAIN_BC_PORT :
		    left + 4);
		op[1].no = ports[i];
		op[2].code = INET_DIAG_BC_S_LE;
		op[2].yes = 8;
		op[2].no = (unsigned short)(op[0].no - 8);
		op[3].no = ports[i];
		op[4].code = INET_DIAG_BC_JMP;
		op[4].yes = 4;
		op[4].no = (unsigned short)(left - 16);
		memcpy(bc + at, op, sizeof(op));
	}
	return len;
}

static int
drain_diag_keep(struct drain_diag *d, uint64_t cookie, struct status *st)
{
	uint64_t *p;
	size_t cap;

	if (d->ncookies == d->cap) {
		cap = d->cap ? d->cap * 2 : 64;
		if ((p = realloc(d->cookies, cap * sizeof(*p))) == NULL)
			return status_set(st, ST_OSERR, "out of memory");
		d->cookies = p;
		d->cap = cap;
	}
	d->cookies[d->ncookies++] = cookie;
	return ST_OK;
}

/* One SOCK_DIAG_BY_FAMILY message: its payload, plen bytes. */
static int
drain_diag_socket(struct drain_diag *d, const uint8_t *payload, size_t plen,
    struct status *st)
{
	struct inet_diag_msg m;
	unsigned port;
	size_t i;

	if (plen < sizeof(m))
		return status_set(st, ST_OSERR, "a socket message of %zu bytes "
		    "is too short", plen + NLMSG_HDRLEN);
	if (++d->msgs > DRAIN_MAX_LINES)
		return status_set(st, ST_OSERR, "more than %d sockets",
		    DRAIN_MAX_LINES);
	memcpy(&m, payload, sizeof(m));
	if (m.idiag_state != DRAIN_ESTABLISHED)
		return ST_OK;
	port = ntohs(m.id.idiag_sport);
	for (i = 0; i < d->nports; i++)
		if (d->ports[i] == port)
			return drain_diag_keep(d, (uint64_t)m.id.idiag_cookie[1]
			    << 32 | m.id.idiag_cookie[0], st);
	return ST_OK;
}

/* NLMSG_DONE (an int: 0, or a dump cut short) or NLMSG_ERROR. */
static int
drain_diag_end(struct drain_diag *d, int type, const uint8_t *payload,
    size_t plen, struct status *st)
{
	struct nlmsgerr e;
	int code = 0;

	if (type == NLMSG_ERROR) {
		if (plen < sizeof(e))
			return status_set(st, ST_OSERR, "an error message of "
			    "%zu bytes is too short", plen + NLMSG_HDRLEN);
		memcpy(&e, payload, sizeof(e));
		code = e.error < 0 ? e.error : -EPROTO;
	} else if (plen >= sizeof(code)) {
		memcpy(&code, payload, sizeof(code));
	}
	d->done = 1;
	d->error = code >= 0 ? 0 : code > -4096 ? -code : EPROTO;
	return ST_OK;
}

/*
 * Walked by offset, each header copied out: the datagram may sit at any
 * alignment, and the last message may lack its padding.
 */
int
drain_diag_feed(struct drain_diag *d, const void *buf, size_t len,
    struct status *st)
{
	const uint8_t *p = buf;
	struct nlmsghdr h;
	size_t off = 0, plen;
	int rc;

	if (len > DRAIN_DIAG_BUF)
		return status_set(st, ST_OSERR, "a reply of %zu bytes is too "
		    "large", len);
	if (d->done)
		return status_set(st, ST_OSERR, "a reply after the end of the "
		    "dump");
	if (len < sizeof(h))
		return status_set(st, ST_OSERR, "a reply of %zu bytes is too "
		    "short", len);
	while (len - off >= sizeof(h)) {
		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off)
			break;
		if (h.nlmsg_seq != d->seq)
			return status_set(st, ST_OSERR, "a reply to another "
			    "request (sequence %u, not %u)",
			    (unsigned)h.nlmsg_seq, (unsigned)d->seq);
		if (d->done)
			return status_set(st, ST_OSERR, "a message after the "
			    "end of the dump");
		plen = h.nlmsg_len - NLMSG_HDRLEN;
		switch (h.nlmsg_type) {
		case NLMSG_DONE:
		case NLMSG_ERROR:
			rc = drain_diag_end(d, h.nlmsg_type, p + off +
			    NLMSG_HDRLEN, plen, st);
			break;
		case SOCK_DIAG_BY_FAMILY:
			rc = drain_diag_socket(d, p + off + NLMSG_HDRLEN, plen,
			    st);
			break;
		default:
			rc = status_set(st, ST_OSERR, "a message of unknown "
			    "type %u", (unsigned)h.nlmsg_type);
		}
		if (rc != ST_OK)
			return rc;
		off += NLMSG_ALIGN(h.nlmsg_len);
		off = off < len ? off : len;
	}
	if (off != len)
		return status_set(st, ST_OSERR, "%zu bytes left over after the "
		    "last whole message", len - off);
	return ST_OK;
}

static int
drain_cookie_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

unsigned long
drain_diag_distinct(struct drain_diag *d)
{
	unsigned long n = 0;
	size_t i;

	if (d->ncookies > 1)
		qsort(d->cookies, d->ncookies, sizeof(*d->cookies),
		    drain_cookie_cmp);
	for (i = 0; i < d->ncookies; i++)
		if (i == 0 || d->cookies[i] != d->cookies[i - 1])
			n++;
	return n;
}

static int
drain_diag_request(int fd, int family, const uint16_t *ports, size_t nports,
    uint32_t seq, int *err)
{
	uint8_t msg[NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)) +
	    NLA_HDRLEN + DRAIN_BC_MAX];
	struct nlmsghdr h;
	struct inet_diag_req_v2 r;
	struct nlattr a;
	struct sockaddr_nl to;
	size_t bclen, at = NLMSG_LENGTH(sizeof(r));

	memset(msg, 0, sizeof(msg));
	bclen = drain_diag_bytecode(ports, nports, msg + at + NLA_HDRLEN);
	memset(&h, 0, sizeof(h));
	h.nlmsg_len = (uint32_t)(at + NLA_HDRLEN + bclen);
	h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h.nlmsg_seq = seq;
	memset(&r, 0, sizeof(r));
	r.sdiag_family = (uint8_t)family;
	r.sdiag_protocol = IPPROTO_TCP;
	r.idiag_states = 1u << DRAIN_ESTABLISHED;
	memset(&a, 0, sizeof(a));
	a.nla_type = INET_DIAG_REQ_BYTECODE;
	a.nla_len = (uint16_t)(NLA_HDRLEN + bclen);
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + NLMSG_HDRLEN, &r, sizeof(r));
	memcpy(msg + at, &a, sizeof(a));
	memset(&to, 0, sizeof(to));
	to.nl_family = AF_NETLINK;
	while (sendto(fd, msg, h.nlmsg_len, 0, (struct sockaddr *)&to,
	    sizeof(to)) == -1) {
		if (errno != EINTR) {
			*err = errno;
			return -1;
		}
	}
	return 0;
}

/* One datagram into buf: its length, or -1 with *err. */
static ssize_t
drain_diag_recv(int fd, uint8_t *buf, int *err)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&p, 1, DRAIN_DIAG_WAIT_MS);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			*err = r == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		n = recv(fd, buf, DRAIN_DIAG_BUF, MSG_TRUNC | MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			*err = errno;
		return n;
	}
}

int
drain_count_diag(int family, const uint16_t *ports, size_t nports,
    unsigned long *count, int *unavailable, struct status *st)
{
	static uint32_t seq;
	struct drain_diag d;
	uint8_t *buf = NULL;
	ssize_t n;
	int fd, err = 0, rc = ST_OK;

	*count = 0;
	*unavailable = 0;
	memset(&d, 0, sizeof(d));
	d.ports = ports;
	d.nports = nports;
	d.seq = ++seq;
	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		    errno == ENOBUFS)
			return status_set(st, ST_OSERR, "drain: cannot open a "
			    "sock_diag socket: %s", strerror(errno));
		*unavailable = errno;
		return ST_OK;
	}
	if ((buf = malloc(DRAIN_DIAG_BUF)) == NULL) {
		rc = status_set(st, ST_OSERR, "drain: out of memory");
		goto out;
	}
	if (drain_diag_request(fd, family, ports, nports, d.seq, &err) != 0) {
		rc = status_set(st, ST_OSERR, "drain: cannot send the sock_diag "
		    "request: %s", strerror(err));
		goto out;
	}
	while (!d.done) {
		if ((n = drain_diag_recv(fd, buf, &err)) == -1) {
			rc = status_set(st, ST_OSERR, "drain: no sock_diag "
			    "reply: %s", strerror(err));
			goto out;
		}
		if ((rc = drain_diag_feed(&d, buf, (size_t)n, st)) != ST_OK) {
			status_wrap(st, "drain: sock_diag");
			goto out;
		}
	}
	if (d.error != 0)
		*unavailable = d.error;
	else
		*count = drain_diag_distinct(&d);
out:
	free(d.cookies);
	free(buf);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the check */

static int
drain_count_family(struct check_ctx *g, const struct drain_conf *c, int family,
    unsigned long *n)
{
	static int told[2];
	const char *path = family == AF_INET ? DRAIN_PROC_TCP :
	    DRAIN_PROC_TCP6;
	int rc, why;

	if ((rc = drain_count_diag(family, c->ports, c->nports, n,
	    &why, &g->st)) != ST_OK || why == 0)
		return rc;
	if (!told[family == AF_INET6]) {
		out_info("drain: counting from %s (no sock_diag dump: %s)",
		    path, strerror(why));
		told[family == AF_INET6] = 1;
	}
	return drain_count_proc(path, family == AF_INET6, c->ports,
	    c->nports, n, &g->st);
}

static int
drain_count(struct check_ctx *g, const struct drain_conf *c, unsigned long *n)
{
	unsigned long v4, v6;
	int rc;

	if ((rc = drain_count_family(g, c, AF_INET, &v4)) != ST_OK ||
	    (rc = drain_count_family(g, c, AF_INET6, &v6)) != ST_OK)
		return rc;
	*n = v4 + v6;
	return ST_OK;
}

static void
drain_port_list(const struct drain_conf *c, char *out, size_t len)
{
	size_t i, used = 0;
	int k;

	out[0] = '\0';
	for (i = 0; i < c->nports; i++) {
		k = snprintf(out + used, len - used, "%s%u", i ? " " : "",
		    (unsigned)c->ports[i]);
		if (k < 0 || (size_t)k >= len - used)
			break;
		used += (size_t)k;
	}
}

static int
drain_deadline(struct check_ctx *g, const struct drain_conf *c, unsigned long n,
    const char *ports)
{
	if (c->on_timeout == DRAIN_FAIL)
		return status_set(&g->st, ST_TIMEOUT, "drain: %lu connection%s "
		    "still established on local port%s %s after %lds; stop "
		    "the clients, raise timeout, or set [drain] on_timeout = "
		    "pass", n, n == 1 ? "" : "s", c->nports == 1 ?
		    "" : "s", ports, g->timeout);
	out_info("drain: WARNING: %lu connection%s still established on "
	    "port%s %s at the deadline (%lds); going on (on_timeout = pass)",
	    n, n == 1 ? "" : "s", c->nports == 1 ? "" : "s", ports,
	    g->timeout);
	check_note(g, "drain: %lu connection%s left open at the deadline", n,
	    n == 1 ? "" : "s");
	return ST_OK;
}

static int
drain_run(struct check_ctx *g, const void *conf)
{
	const struct drain_conf *c = conf;
	char ports[DRAIN_MAX_PORTS * 6 + 1];
	unsigned long n, shown;
	int64_t report;
	int rc;

	drain_port_list(c, ports, sizeof(ports));
	if ((rc = drain_count(g, c, &n)) != ST_OK)
		return rc;
	out_info("drain: %lu established connection%s on local port%s %s",
	    n, n == 1 ? "" : "s", c->nports == 1 ? "" : "s", ports);
	shown = n;
	report = mono_ms() + DRAIN_REPORT_MS;
	while (n > 0) {
		if (mono_left(g->deadline) == 0)
			return drain_deadline(g, c, n, ports);
		if ((rc = check_wait(g, NULL, DRAIN_POLL_MS)) != ST_OK)
			return rc;
		if ((rc = drain_count(g, c, &n)) != ST_OK)
			return rc;
		if (n > 0 && n != shown && mono_ms() >= report) {
			out_info("drain: %lu still established after %.0fs", n,
			    check_elapsed(g));
			shown = n;
			report = mono_ms() + DRAIN_REPORT_MS;
		}
	}
	out_info("drain: no established connections left (%.1fs)",
	    check_elapsed(g));
	check_note(g, "drained (port%s %s)", c->nports == 1 ? "" :
	    "s", ports);
	return ST_OK;
}

/* ------------------------------------------------------------------ */
/* its configuration: [drain] */

static void
drain_defaults(void *conf)
{
	((struct drain_conf *)conf)->on_timeout = DRAIN_PASS;
}

static int
drain_key(void *conf, struct inifile *f, int where, const char *k,
    const char *v)
{
	struct drain_conf *c = conf;
	struct status st;

	if (where != CHECK_IN_SECTION)
		return CHECK_KEY_NOT_MINE;
	if (strcmp(k, "ports") == 0) {
		if (drain_ports_parse(v, c->ports, &c->nports, DRAIN_MAX_PORTS,
		    &st) != ST_OK)
			return inifile_error(f, "%s", st.msg);
		return 0;
	}
	if (strcmp(k, "on_timeout") == 0) {
		if (strcmp(v, "pass") == 0)
			c->on_timeout = DRAIN_PASS;
		else if (strcmp(v, "fail") == 0)
			c->on_timeout = DRAIN_FAIL;
		else
			return inifile_error(f, "on_timeout = '%s': expected "
			    "pass or fail", v);
		return 0;
	}
	return CHECK_KEY_NOT_MINE;
}

static int
drain_validate(const void *conf, int configured, const char *path,
    struct status *st)
{
	if (configured && ((const struct drain_conf *)conf)->nports == 0)
		return status_set(st, ST_CONFIG, "%s: [drain] needs ports, such "
		    "as ports = 80 443", path);
	return ST_OK;
}

const struct check_def check_drain = {
	.name = "drain",
	.section = "drain",
	.keys = "ports on_timeout",
	.conf_size = sizeof(struct drain_conf),
	.defaults = drain_defaults,
	.key = drain_key,
	.validate = drain_validate,
	/* once the load balancer has stopped sending new connections */
	.default_events = CHECK_EVENT(EV_AFTER_BLOCK_TRAFFIC),
	.default_if_configured = 1,
	.run = drain_run,
};
