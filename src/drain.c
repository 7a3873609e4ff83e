#include "drain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "mono.h"
#include "out.h"
#include "text.h"

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

/* ------------------------------------------------------------------ */
/* the check */

static int
drain_count(struct gate *g, unsigned long *n)
{
	const struct config *c = &g->cfg;
	unsigned long v4, v6;
	int rc;

	if ((rc = drain_count_file(DRAIN_PROC_TCP, 0, c->drain_ports,
	    c->ndrain_ports, &v4, &g->st)) != ST_OK)
		return rc;
	if ((rc = drain_count_file(DRAIN_PROC_TCP6, 1, c->drain_ports,
	    c->ndrain_ports, &v6, &g->st)) != ST_OK)
		return rc;
	*n = v4 + v6;
	return ST_OK;
}

static void
drain_port_list(const struct config *c, char *out, size_t len)
{
	size_t i, used = 0;
	int k;

	out[0] = '\0';
	for (i = 0; i < c->ndrain_ports; i++) {
		k = snprintf(out + used, len - used, "%s%u", i ? " " : "",
		    (unsigned)c->drain_ports[i]);
		if (k < 0 || (size_t)k >= len - used)
			break;
		used += (size_t)k;
	}
}

static int
drain_deadline(struct gate *g, unsigned long n, const char *ports)
{
	if (g->cfg.drain_on_timeout == DRAIN_FAIL)
		return status_set(&g->st, ST_TIMEOUT, "drain: %lu connection%s "
		    "still established on local port%s %s after %lds; stop "
		    "the clients, raise timeout, or set [drain] on_timeout = "
		    "pass", n, n == 1 ? "" : "s", g->cfg.ndrain_ports == 1 ?
		    "" : "s", ports, g->timeout);
	out_info("drain: WARNING: %lu connection%s still established on "
	    "port%s %s at the deadline (%lds); going on (on_timeout = pass)",
	    n, n == 1 ? "" : "s", g->cfg.ndrain_ports == 1 ? "" : "s", ports,
	    g->timeout);
	gate_note(g, "drain: %lu connection%s left open at the deadline", n,
	    n == 1 ? "" : "s");
	return ST_OK;
}

int
drain_check(struct gate *g)
{
	char ports[DRAIN_MAX_PORTS * 6 + 1];
	unsigned long n, shown;
	int64_t report;
	int rc;

	drain_port_list(&g->cfg, ports, sizeof(ports));
	if ((rc = drain_count(g, &n)) != ST_OK)
		return rc;
	out_info("drain: %lu established connection%s on local port%s %s",
	    n, n == 1 ? "" : "s", g->cfg.ndrain_ports == 1 ? "" : "s", ports);
	shown = n;
	report = mono_ms() + DRAIN_REPORT_MS;
	while (n > 0) {
		if (mono_left(g->deadline) == 0)
			return drain_deadline(g, n, ports);
		if ((rc = gate_wait(g, NULL, DRAIN_POLL_MS)) != ST_OK)
			return rc;
		if ((rc = drain_count(g, &n)) != ST_OK)
			return rc;
		if (n > 0 && n != shown && mono_ms() >= report) {
			out_info("drain: %lu still established after %.0fs", n,
			    gate_elapsed(g));
			shown = n;
			report = mono_ms() + DRAIN_REPORT_MS;
		}
	}
	out_info("drain: no established connections left (%.1fs)",
	    gate_elapsed(g));
	gate_note(g, "drained (port%s %s)", g->cfg.ndrain_ports == 1 ? "" :
	    "s", ports);
	return ST_OK;
}
