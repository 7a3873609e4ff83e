/*
 * test_health.c: the grammars of [health] (status specs, durations, url
 * and tcp words, lists, headers) and of [drain] (ports), and the
 * /proc/net/tcp and tcp6 parser of the drain check, on fixture text and on
 * files that cross the reader's chunk size.
 */
#include "checks/drain.h"
#include "checks/health.h"
#include "testlib.h"

static void
append(char *buf, size_t len, const char *s)
{
	size_t used = strlen(buf);
	int n = snprintf(buf + used, len - used, "%s", s);

	assert_true(n >= 0 && (size_t)n < len - used);
}

/* ------------------------------------------------------------------ */
/* status specs */

struct codes_case {
	const char *spec;
	int ok;
	long yes[4], no[4];	/* 0-ended */
};

static const struct codes_case codes_cases[] = {
	{ "200", 1, { 200 }, { 199, 201, 204, 0 } },
	{ "200,204", 1, { 200, 204 }, { 201, 203, 0 } },
	{ "200, 204", 1, { 200, 204 }, { 202, 0 } },
	{ "200 204\t301", 1, { 200, 204, 301 }, { 300, 0 } },
	{ "2xx", 1, { 200, 250, 299 }, { 199, 300, 0 } },
	{ "2XX,404", 1, { 200, 299, 404 }, { 403, 405, 0 } },
	{ "5xx", 1, { 500, 599 }, { 499, 600, 0 } },
	{ "1xx", 1, { 100, 199 }, { 99, 200, 0 } },
	{ "599", 1, { 599 }, { 598, 0 } },
	{ "", 0, { 0 }, { 0 } },
	{ " , ", 0, { 0 }, { 0 } },
	{ "0", 0, { 0 }, { 0 } },
	{ "99", 0, { 0 }, { 0 } },
	{ "600", 0, { 0 }, { 0 } },
	{ "6xx", 0, { 0 }, { 0 } },
	{ "0xx", 0, { 0 }, { 0 } },
	{ "2x", 0, { 0 }, { 0 } },
	{ "20x", 0, { 0 }, { 0 } },
	{ "2000", 0, { 0 }, { 0 } },
	{ "+20", 0, { 0 }, { 0 } },
	{ "200;204", 0, { 0 }, { 0 } },
	{ "ok", 0, { 0 }, { 0 } },
	{ "200 abc", 0, { 0 }, { 0 } },
	{ "200-299", 0, { 0 }, { 0 } },
};

static void
test_codes_table(void **state)
{
	struct health_codes c;
	struct status st;
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(codes_cases); i++) {
		const struct codes_case *t = &codes_cases[i];
		int rc = health_codes_parse(t->spec, &c, &st);

		CHECK_INT(t->spec, rc, t->ok ? ST_OK : ST_CONFIG);
		if (!t->ok) {
			assert_true(strstr(st.msg, "expected") != NULL);
			continue;
		}
		for (k = 0; k < NELEM(t->yes) && t->yes[k] != 0; k++)
			CHECK_INT(t->spec, health_codes_match(&c, t->yes[k]),
			    1);
		for (k = 0; k < NELEM(t->no) && t->no[k] != 0; k++)
			CHECK_INT(t->spec, health_codes_match(&c, t->no[k]), 0);
	}
}

static void
test_codes_match_out_of_range(void **state)
{
	struct health_codes c;
	struct status st;

	(void)state;
	assert_int_equal(health_codes_parse("1xx 2xx 3xx 4xx 5xx", &c, &st),
	    ST_OK);
	assert_int_equal(health_codes_match(&c, 0), 0);
	assert_int_equal(health_codes_match(&c, -1), 0);
	assert_int_equal(health_codes_match(&c, 640), 0);
	assert_int_equal(health_codes_match(&c, 100000), 0);
	assert_int_equal(health_codes_match(&c, 404), 1);
}

/* ------------------------------------------------------------------ */
/* durations */

struct ms_case {
	const char *s;
	long ms;	/* -1: refused */
};

static const struct ms_case ms_cases[] = {
	{ "5", 5000 }, { "5s", 5000 }, { " 5s ", 5000 }, { "500ms", 500 },
	{ "100ms", 100 }, { "600", 600000 }, { "600s", 600000 },
	{ "1", 1000 }, { "1000ms", 1000 },
	{ "99ms", -1 }, { "0", -1 }, { "601", -1 }, { "", -1 }, { "s", -1 },
	{ "ms", -1 }, { "-5", -1 }, { "+5", -1 }, { "5m", -1 }, { "5 s", -1 },
	{ "1.5", -1 }, { "5sec", -1 }, { "5mss", -1 },
	{ "99999999999", -1 }, { "5s5", -1 },
};

static void
test_ms_table(void **state)
{
	size_t i;
	long ms;

	(void)state;
	for (i = 0; i < NELEM(ms_cases); i++) {
		ms = -7;
		if (health_ms_parse(ms_cases[i].s, 100, 600000, &ms) != 0) {
			CHECK_INT(ms_cases[i].s, -1, ms_cases[i].ms);
			CHECK_INT(ms_cases[i].s, ms, -7);	/* untouched */
		} else
			CHECK_INT(ms_cases[i].s, ms, ms_cases[i].ms);
	}
}

/* ------------------------------------------------------------------ */
/* url words */

struct url_case {
	const char *word;
	int ok, kind;
	const char *url, *sock;
};

static const struct url_case url_cases[] = {
	{ "http://127.0.0.1:8080/health", 1, HEALTH_HTTP,
	    "http://127.0.0.1:8080/health", "" },
	{ "https://localhost/ready?full=1", 1, HEALTH_HTTP,
	    "https://localhost/ready?full=1", "" },
	{ "http://[::1]:80/", 1, HEALTH_HTTP, "http://[::1]:80/", "" },
	{ "http://host", 1, HEALTH_HTTP, "http://host", "" },
	{ "unix:/run/app.sock:/health", 1, HEALTH_UNIX,
	    "http://localhost/health", "/run/app.sock" },
	{ "unix:/run/app.sock", 1, HEALTH_UNIX, "http://localhost/",
	    "/run/app.sock" },
	{ "unix:/run/app.sock:/a/b?c=d", 1, HEALTH_UNIX,
	    "http://localhost/a/b?c=d", "/run/app.sock" },
	{ "unix:run/app.sock:/health", 0, 0, NULL, NULL },
	{ "unix:/run/app.sock:health", 0, 0, NULL, NULL },
	{ "unix:", 0, 0, NULL, NULL },
	{ "unix:/run/a:b.sock:/x", 0, 0, NULL, NULL },
	{ "ftp://127.0.0.1/", 0, 0, NULL, NULL },
	{ "file:///etc/passwd", 0, 0, NULL, NULL },
	{ "127.0.0.1:8080/health", 0, 0, NULL, NULL },
	{ "HTTP://127.0.0.1/", 0, 0, NULL, NULL },
	{ "http://", 0, 0, NULL, NULL },
	{ "http:///path", 0, 0, NULL, NULL },
	{ "http://user:secret@127.0.0.1/health", 0, 0, NULL, NULL },
	{ "http://127.0.0.1/a\001b", 0, 0, NULL, NULL },
	{ "", 0, 0, NULL, NULL },
};

static void
test_url_table(void **state)
{
	struct health_target t;
	struct status st;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(url_cases); i++) {
		const struct url_case *c = &url_cases[i];
		int rc = health_url_parse(c->word, &t, &st);

		CHECK_INT(c->word, rc, c->ok ? ST_OK : ST_CONFIG);
		if (!c->ok)
			continue;
		CHECK_INT(c->word, t.kind, c->kind);
		CHECK_STR(c->word, t.url, c->url);
		CHECK_STR(c->word, t.sock, c->sock);
		CHECK_STR(c->word, t.name, c->word);
	}
}

static void
test_url_credentials_message_points_to_headers(void **state)
{
	struct health_target t;
	struct status st;

	(void)state;
	assert_int_equal(health_url_parse("http://u:p@127.0.0.1/", &t, &st),
	    ST_CONFIG);
	assert_non_null(strstr(st.msg, "header."));
}

static void
test_url_unix_socket_path_too_long(void **state)
{
	char w[300] = "unix:/", *p = w + strlen(w);
	struct health_target t;
	struct status st;

	(void)state;
	memset(p, 'a', 120);
	p[120] = '\0';
	assert_int_equal(health_url_parse(w, &t, &st), ST_CONFIG);
	assert_non_null(strstr(st.msg, "socket path longer"));
}

/* ------------------------------------------------------------------ */
/* tcp words */

struct tcp_case {
	const char *word;
	int ok;
	const char *addr;
	int port;
};

static const struct tcp_case tcp_cases[] = {
	{ "127.0.0.1:5432", 1, "127.0.0.1", 5432 },
	{ "10.1.2.3:1", 1, "10.1.2.3", 1 },
	{ "0.0.0.0:65535", 1, "0.0.0.0", 65535 },
	{ "[::1]:6379", 1, "::1", 6379 },
	{ "[fe80::1]:22", 1, "fe80::1", 22 },
	{ "localhost:8080", 1, "127.0.0.1", 8080 },
	{ "[127.0.0.1]:80", 1, "127.0.0.1", 80 },
	{ "::1:6379", 0, NULL, 0 },		/* IPv6 needs brackets */
	{ "db.internal:5432", 0, NULL, 0 },	/* never resolved */
	{ "127.0.0.1", 0, NULL, 0 },
	{ "127.0.0.1:", 0, NULL, 0 },
	{ "127.0.0.1:0", 0, NULL, 0 },
	{ "127.0.0.1:65536", 0, NULL, 0 },
	{ "127.0.0.1:http", 0, NULL, 0 },
	{ ":80", 0, NULL, 0 },
	{ "[]:80", 0, NULL, 0 },
	{ "256.0.0.1:80", 0, NULL, 0 },
	{ "", 0, NULL, 0 },
};

static void
test_tcp_table(void **state)
{
	struct health_target t;
	struct status st;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(tcp_cases); i++) {
		const struct tcp_case *c = &tcp_cases[i];
		int rc = health_tcp_parse(c->word, &t, &st);

		CHECK_INT(c->word, rc, c->ok ? ST_OK : ST_CONFIG);
		if (!c->ok)
			continue;
		CHECK_INT(c->word, t.kind, HEALTH_TCP);
		CHECK_STR(c->word, t.addr, c->addr);
		CHECK_INT(c->word, t.port, c->port);
	}
}

/* ------------------------------------------------------------------ */
/* lists */

static void
test_list_several_urls(void **state)
{
	struct health_target t[HEALTH_MAX_URLS + HEALTH_MAX_TCP];
	struct status st;
	size_t n = 0;

	(void)state;
	assert_int_equal(health_list_parse("url", "http://127.0.0.1:1/a  "
	    "unix:/run/s:/b\thttps://h/c", health_url_parse, t, &n,
	    HEALTH_MAX_URLS, &st), ST_OK);
	assert_int_equal(n, 3);
	assert_string_equal(t[0].url, "http://127.0.0.1:1/a");
	assert_int_equal(t[1].kind, HEALTH_UNIX);
	assert_string_equal(t[2].url, "https://h/c");
	assert_int_equal(t[2].https, 1);
	/* appends after what is there */
	assert_int_equal(health_list_parse("tcp", "127.0.0.1:22",
	    health_tcp_parse, t, &n, HEALTH_MAX_TCP, &st), ST_OK);
	assert_int_equal(n, 4);
	assert_int_equal(t[3].port, 22);
}

static void
test_list_limits_and_errors(void **state)
{
	char list[CAP_VALUE] = "";
	struct status st;
	size_t n = 0, i;

	(void)state;
	for (i = 0; i < HEALTH_MAX_URLS; i++)
		append(list, sizeof(list), "http://127.0.0.1/ ");
	assert_int_equal(health_list_parse("url", list, health_url_parse,
	    NULL, &n, HEALTH_MAX_URLS, &st), ST_OK);
	assert_int_equal(n, HEALTH_MAX_URLS);
	append(list, sizeof(list), "http://127.0.0.1/");
	n = 0;
	assert_int_equal(health_list_parse("url", list, health_url_parse,
	    NULL, &n, HEALTH_MAX_URLS, &st), ST_CONFIG);
	n = 0;
	assert_int_equal(health_list_parse("url", "  ", health_url_parse,
	    NULL, &n, HEALTH_MAX_URLS, &st), ST_CONFIG);
	n = 0;
	assert_int_equal(health_list_parse("url", "http://a/ ftp://b/",
	    health_url_parse, NULL, &n, HEALTH_MAX_URLS, &st), ST_CONFIG);
	assert_non_null(strstr(st.msg, "ftp://b/"));
}

/* ------------------------------------------------------------------ */
/* headers */

struct hdr_case {
	const char *name, *value;
	const char *want;	/* NULL: refused */
};

static const struct hdr_case hdr_cases[] = {
	{ "Host", "app.example", "Host: app.example" },
	{ "X-Probe", "cdgate 1", "X-Probe: cdgate 1" },
	{ "Authorization", "Bearer a.b.c", "Authorization: Bearer a.b.c" },
	{ "x_odd.name~!", "v\tw", "x_odd.name~!: v\tw" },
	{ "", "v", NULL },
	{ "Bad Name", "v", NULL },
	{ "Bad:Name", "v", NULL },
	{ "Host", "", NULL },
	{ "Host", "a\rb", NULL },
	{ "Host", "a\nb", NULL },
	{ "Host", "a\177b", NULL },
	{ "N\303\251", "v", NULL },
};

static void
test_header_table(void **state)
{
	char out[CAP_INI_LINE];
	struct status st;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(hdr_cases); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		int rc = health_header_make(c->name, c->value, out,
		    sizeof(out), &st);

		CHECK_INT(c->name, rc, c->want ? ST_OK : ST_CONFIG);
		if (c->want)
			CHECK_STR(c->name, out, c->want);
	}
}

static void
test_header_too_long(void **state)
{
	char out[16];
	struct status st;

	(void)state;
	assert_int_equal(health_header_make("Host", "0123456789", out,
	    sizeof(out), &st), ST_CONFIG);
	assert_int_equal(health_header_make("Host", "012345678", out,
	    sizeof(out), &st), ST_OK);
}

/* ------------------------------------------------------------------ */
/* drain: ports */

static void
test_drain_ports(void **state)
{
	uint16_t p[DRAIN_MAX_PORTS];
	struct status st;
	size_t n;
	char many[CAP_VALUE] = "";
	int i;

	(void)state;
	assert_int_equal(drain_ports_parse("80 443", p, &n, DRAIN_MAX_PORTS,
	    &st), ST_OK);
	assert_int_equal(n, 2);
	assert_int_equal(p[0], 80);
	assert_int_equal(p[1], 443);
	assert_int_equal(drain_ports_parse("1,65535", p, &n, DRAIN_MAX_PORTS,
	    &st), ST_OK);
	assert_int_equal(p[1], 65535);
	assert_int_equal(drain_ports_parse("", p, &n, DRAIN_MAX_PORTS, &st),
	    ST_CONFIG);
	assert_int_equal(drain_ports_parse("0", p, &n, DRAIN_MAX_PORTS, &st),
	    ST_CONFIG);
	assert_int_equal(drain_ports_parse("65536", p, &n, DRAIN_MAX_PORTS,
	    &st), ST_CONFIG);
	assert_int_equal(drain_ports_parse("http", p, &n, DRAIN_MAX_PORTS,
	    &st), ST_CONFIG);
	assert_int_equal(drain_ports_parse("80:443", p, &n, DRAIN_MAX_PORTS,
	    &st), ST_CONFIG);
	for (i = 0; i <= DRAIN_MAX_PORTS; i++)
		append(many, sizeof(many), "80 ");
	assert_int_equal(drain_ports_parse(many, p, &n, DRAIN_MAX_PORTS, &st),
	    ST_CONFIG);
}

/* ------------------------------------------------------------------ */
/* drain: /proc/net/tcp lines */

#define TCP_HEADER "  sl  local_address rem_address   st tx_queue " \
    "rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
#define TCP6_HEADER "  sl  local_address                         " \
    "remote_address                        st tx_queue rx_queue tr " \
    "tm->when retrnsmt   uid  timeout inode\n"

/* 8080 = 1F90, 443 = 01BB, 53999 = D2EF */
static const char tcp_fixture[] = TCP_HEADER
    "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 1665 1 0000000046bb186e 100 0 0 10 0      \n"
    "   1: 0100007F:1F90 0100007F:D2EF 01 00000000:00000000 00:00000000 "
    "00000000     0        0 4242 1 0000000057c5771d 20 4 30 10 -1     \n"
    "   2: 0100007F:D2EF 0100007F:1F90 01 00000000:00000000 00:00000000 "
    "00000000     0        0 4243 1 0000000057c5771e 20 4 30 10 -1     \n"
    "   3: 0100007F:1F90 0100007F:D2F0 06 00000000:00000000 03:00000558 "
    "00000000     0        0 0 3 0000000057c5771f\n"
    "   4: 0100007F:1F90 0100007F:D2F1 08 00000000:00000000 00:00000000 "
    "00000000     0        0 4244 1 0000000057c57720 20 4 30 10 -1\n"
    "   5: 0A00020F:01BB 0A000001:C350 01 00000000:00000000 02:000AFC6B "
    "00000000    33        0 4245 2 0000000057c57721 20 4 30 10 -1\n"
    "  10: 0A00020F:01bb 0A000002:C351 01 00000000:00000000 02:000AFC6B "
    "00000000    33        0 4246 2 0000000057c57722 20 4 30 10 -1\n";

static const char tcp6_fixture[] = TCP6_HEADER
    "   0: 00000000000000000000000000000000:1F90 "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 2001 1 00000000a1b2c3d4 100 0 0 "
    "10 0\n"
    "   1: 0000000000000000FFFF00000100007F:1F90 "
    "0000000000000000FFFF00000100007F:C000 01 00000000:00000000 "
    "00:00000000 00000000     0        0 2002 1 00000000a1b2c3d5 20 4 30 "
    "10 -1\n"
    "   2: 00000000000000000000000001000000:1F90 "
    "00000000000000000000000001000000:C001 01 00000000:00000000 "
    "00:00000000 00000000     0        0 2003 1 00000000a1b2c3d6 20 4 30 "
    "10 -1";	/* no final newline */

struct line_case {
	const char *line;
	int ok;
	unsigned lport, rport, state;
};

static const struct line_case line_cases[] = {
	{ "   1: 0100007F:1F90 0100007F:D2EF 01 00000000:00000000", 1,
	    8080, 53999, 1 },
	{ "0: 0100007F:0050 00000000:0000 0A", 1, 80, 0, 0x0a },
	{ "12345: 0100007f:ffff 0100007f:0001 0b rest", 1, 65535, 1, 0x0b },
	{ "   1: 0000000000000000FFFF00000100007F:01BB "
	    "0000000000000000FFFF00000100007F:C000 01 x", 1, 443, 0xc000, 1 },
	{ "", 0, 0, 0, 0 },
	{ "   1 0100007F:1F90 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   x: 0100007F:1F90 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1:0100007F:1F90 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1: 0100007F:1F9 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1: 0100007F:1F900 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1: 0100007:1F90 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1: 0100007F01:1F90 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1: 0100007G:1F90 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1: 0100007F-1F90 0100007F:D2EF 01", 0, 0, 0, 0 },
	{ "   1: 0100007F:1F90 0100007F:D2EF 1", 0, 0, 0, 0 },
	{ "   1: 0100007F:1F90 0100007F:D2EF 011", 0, 0, 0, 0 },
	{ "   1: 0100007F:1F90 0100007F:D2EF 01x", 0, 0, 0, 0 },
	{ "   1: 0100007F:1F90 0100007F:D2EF", 0, 0, 0, 0 },
	{ "   1: 0100007F:1F90", 0, 0, 0, 0 },
	{ "  sl  local_address rem_address   st", 0, 0, 0, 0 },
};

static void
test_drain_line_table(void **state)
{
	struct drain_sock s;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(line_cases); i++) {
		const struct line_case *c = &line_cases[i];
		int rc;

		memset(&s, 0, sizeof(s));
		rc = drain_parse_line(c->line, strlen(c->line), &s);
		CHECK_INT(c->line, rc, c->ok ? 0 : -1);
		if (!c->ok)
			continue;
		CHECK_INT(c->line, s.lport, c->lport);
		CHECK_INT(c->line, s.rport, c->rport);
		CHECK_INT(c->line, s.state, c->state);
	}
}

/* the length bounds the parse: bytes past it are never read */
static void
test_drain_line_respects_length(void **state)
{
	static const char line[] = "   1: 0100007F:1F90 0100007F:D2EF 01";
	struct drain_sock s;

	(void)state;
	assert_int_equal(drain_parse_line(line, strlen(line) - 1, &s), -1);
	assert_int_equal(drain_parse_line(line, strlen(line), &s), 0);
}

static unsigned long
scan(const char *text, const uint16_t *ports, size_t n, int *rc)
{
	struct drain_scan s = { ports, n, 0, 0 };
	struct status st;

	*rc = drain_scan_lines(&s, text, strlen(text), &st);
	return s.count;
}

struct scan_case {
	const char *what;
	const char *text;
	uint16_t ports[3];
	size_t nports;
	unsigned long want;
};

static const struct scan_case scan_cases[] = {
	/* only ESTABLISHED, only the local port: line 1 (not 0 LISTEN, not
	 * 2 whose REMOTE port is 8080, not 3 TIME_WAIT, not 4 CLOSE_WAIT) */
	{ "tcp 8080", tcp_fixture, { 8080 }, 1, 1 },
	{ "tcp 443 (upper and lower case hex)", tcp_fixture, { 443 }, 1, 2 },
	{ "tcp 8080 443", tcp_fixture, { 8080, 443 }, 2, 3 },
	{ "tcp client port", tcp_fixture, { 53999 }, 1, 1 },
	{ "tcp other", tcp_fixture, { 9090 }, 1, 0 },
	{ "tcp6 8080 (mapped and native)", tcp6_fixture, { 8080 }, 1, 2 },
	{ "tcp6 49152", tcp6_fixture, { 49152 }, 1, 0 },
	{ "header only", TCP_HEADER, { 80 }, 1, 0 },
};

static void
test_drain_scan_table(void **state)
{
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(scan_cases); i++) {
		const struct scan_case *c = &scan_cases[i];
		unsigned long got = scan(c->text, c->ports, c->nports, &rc);

		CHECK_INT(c->what, rc, ST_OK);
		CHECK_INT(c->what, got, c->want);
	}
}

static const char *const bad_texts[] = {
	/* no header */
	"   1: 0100007F:1F90 0100007F:D2EF 01 00000000:00000000\n",
	/* a malformed line fails the whole count (fail closed) */
	TCP_HEADER "   1: 0100007F:1F90 0100007F:D2EF 01 x\n   2: garbage\n",
	/* an empty line */
	TCP_HEADER "\n   1: 0100007F:1F90 0100007F:D2EF 01\n",
	/* a NUL in a line */
	TCP_HEADER "   1: 0100007F:1F90\0 0100007F:D2EF 01\n",
};

static void
test_drain_scan_refuses_malformed(void **state)
{
	static const uint16_t p[] = { 8080 };
	struct drain_scan s;
	struct status st;
	size_t i, len;

	(void)state;
	for (i = 0; i < NELEM(bad_texts); i++) {
		memset(&s, 0, sizeof(s));
		s.ports = p;
		s.nports = 1;
		len = strlen(bad_texts[i]);
		if (i == 3)
			len = sizeof(TCP_HEADER) - 1 + 38;
		CHECK_INT(bad_texts[i], drain_scan_lines(&s, bad_texts[i], len,
		    &st), ST_OSERR);
	}
}

static void
test_drain_scan_refuses_long_line(void **state)
{
	static const uint16_t p[] = { 8080 };
	char *buf = malloc(DRAIN_LINE_CAP * 2);
	struct drain_scan s = { p, 1, 0, 0 };
	struct status st;
	size_t n;

	(void)state;
	assert_non_null(buf);
	n = (size_t)snprintf(buf, DRAIN_LINE_CAP * 2, "%s",
	    "   1: 0100007F:1F90 0100007F:D2EF 01 ");
	memset(buf + n, ' ', DRAIN_LINE_CAP * 2 - n);
	s.lines = 1;	/* past the header */
	assert_int_equal(drain_scan_lines(&s, buf, DRAIN_LINE_CAP, &st), ST_OK);
	assert_int_equal(s.count, 1);
	s.lines = 1;
	assert_int_equal(drain_scan_lines(&s, buf, DRAIN_LINE_CAP + 1, &st),
	    ST_OSERR);
	assert_non_null(strstr(st.msg, "longer"));
	free(buf);
}

/* ------------------------------------------------------------------ */
/* drain: files, through the chunked reader */

static void
write_tmp(char *path, size_t len, const char *data, size_t n)
{
	FILE *f;
	int fd;

	assert_true(snprintf(path, len, "/tmp/cdgate-test-drain-XXXXXX") > 0);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* 3000 lines (> DRAIN_CHUNK bytes), so lines cross the chunk boundary */
static void
test_drain_file_crosses_chunks(void **state)
{
	static const uint16_t p[] = { 8080 };
	size_t cap = 3000 * 160 + 256, used = 0, i;
	char *buf = malloc(cap), path[64];
	unsigned long count = 99;
	struct status st;
	int n;

	(void)state;
	assert_non_null(buf);
	used = (size_t)snprintf(buf, cap, "%s", TCP_HEADER);
	for (i = 0; i < 3000; i++) {
		n = snprintf(buf + used, cap - used, "%5zu: 0100007F:%04X "
		    "0100007F:%04zX %s 00000000:00000000 00:00000000 00000000"
		    "     0        0 %zu 1 0000000046bb186e 100 0 0 10 0%*s\n",
		    i, i % 3 == 0 ? 0x1f90 : 0x1f91, 0x8000 + i,
		    i % 2 == 0 ? "01" : "06", 5000 + i, (int)(i % 40), "");
		assert_true(n > 0 && (size_t)n < cap - used);
		used += (size_t)n;
	}
	assert_true(used > DRAIN_CHUNK);
	write_tmp(path, sizeof(path), buf, used);
	assert_int_equal(drain_count_file(path, 0, p, 1, &count, &st), ST_OK);
	assert_int_equal(count, 500);	/* i % 6 == 0 */
	unlink(path);
	free(buf);
}

static void
test_drain_file_absent_and_empty(void **state)
{
	static const uint16_t p[] = { 8080 };
	unsigned long count = 99;
	struct status st;
	char path[64];

	(void)state;
	assert_int_equal(drain_count_file("/nonexistent/cdgate/tcp6", 1, p, 1,
	    &count, &st), ST_OK);
	assert_int_equal(count, 0);
	assert_int_equal(drain_count_file("/nonexistent/cdgate/tcp", 0, p, 1,
	    &count, &st), ST_OSERR);
	assert_non_null(strstr(st.msg, "/nonexistent/cdgate/tcp"));
	write_tmp(path, sizeof(path), "", 0);
	assert_int_equal(drain_count_file(path, 0, p, 1, &count, &st),
	    ST_OSERR);
	unlink(path);
	/* a directory cannot be read: fail closed even with absent_ok */
	assert_int_equal(drain_count_file("/tmp", 1, p, 1, &count, &st),
	    ST_OSERR);
}

static void
test_drain_file_fixture_without_final_newline(void **state)
{
	static const uint16_t p[] = { 8080 };
	unsigned long count = 0;
	struct status st;
	char path[64];

	(void)state;
	write_tmp(path, sizeof(path), tcp6_fixture, strlen(tcp6_fixture));
	assert_int_equal(drain_count_file(path, 0, p, 1, &count, &st), ST_OK);
	assert_int_equal(count, 2);
	unlink(path);
}

/* the real files parse (whatever their content) */
static void
test_drain_real_proc_parses(void **state)
{
	static const uint16_t p[] = { 1 };
	unsigned long count;
	struct status st;

	(void)state;
	assert_int_equal(drain_count_file(DRAIN_PROC_TCP, 0, p, 1, &count,
	    &st), ST_OK);
	assert_int_equal(drain_count_file(DRAIN_PROC_TCP6, 1, p, 1, &count,
	    &st), ST_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes_table),
		cmocka_unit_test(test_codes_match_out_of_range),
		cmocka_unit_test(test_ms_table),
		cmocka_unit_test(test_url_table),
		cmocka_unit_test(
		    test_url_credentials_message_points_to_headers),
		cmocka_unit_test(test_url_unix_socket_path_too_long),
		cmocka_unit_test(test_tcp_table),
		cmocka_unit_test(test_list_several_urls),
		cmocka_unit_test(test_list_limits_and_errors),
		cmocka_unit_test(test_header_table),
		cmocka_unit_test(test_header_too_long),
		cmocka_unit_test(test_drain_ports),
		cmocka_unit_test(test_drain_line_table),
		cmocka_unit_test(test_drain_line_respects_length),
		cmocka_unit_test(test_drain_scan_table),
		cmocka_unit_test(test_drain_scan_refuses_malformed),
		cmocka_unit_test(test_drain_scan_refuses_long_line),
		cmocka_unit_test(test_drain_file_crosses_chunks),
		cmocka_unit_test(test_drain_file_absent_and_empty),
		cmocka_unit_test(test_drain_file_fixture_without_final_newline),
		cmocka_unit_test(test_drain_real_proc_parses),
	};

	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
