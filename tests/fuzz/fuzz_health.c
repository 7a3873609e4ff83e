/*
 * fuzz_health: the [health] grammars (health.h): status specs, url words
 * (http, https, unix:), tcp words, word lists, request headers, durations.
 * Fields (NUL separated): status spec, url word, tcp word, list, header
 * name, header value, duration.  Asserts health.h's rules: only statuses
 * 0..639 exist; a parsed target is of its kind with a port in 1..65535; a
 * header holds no control character (no CR/LF injection); a duration is
 * within its bounds.
 */
#include "fuzz.h"

#include "checks/health.h"

static void
check_target(const struct health_target *t)
{
	FZ_ASSERT(t->kind == HEALTH_HTTP || t->kind == HEALTH_UNIX ||
	    t->kind == HEALTH_TCP);
	FZ_ASSERT(strlen(t->url) < sizeof(t->url) &&
	    strlen(t->name) < sizeof(t->name));
	if (t->kind == HEALTH_HTTP)
		FZ_ASSERT(strncmp(t->url, t->https ? "https://" : "http://",
		    t->https ? 8 : 7) == 0);
	if (t->kind == HEALTH_UNIX)
		FZ_ASSERT(t->sock[0] == '/');
	if (t->kind == HEALTH_TCP)
		FZ_ASSERT(t->port >= 1 && t->port <= 65535 && t->addr[0]);
	FZ_ASSERT(fz_printable(t->url));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct health_target t[HEALTH_MAX_URLS];
	struct health_codes codes;
	struct status st;
	struct fz f;
	char *spec, *url, *tcp, *list, *name, *value, *dur, out[CAP_INI_LINE];
	long ms, s;
	size_t n, i;
	int rc;

	fz_init(&f, data, size);
	spec = fz_field(&f);
	url = fz_field(&f);
	tcp = fz_field(&f);
	list = fz_field(&f);
	name = fz_field(&f);
	value = fz_field(&f);
	dur = fz_field(&f);

	if (health_codes_parse(spec, &codes, &st) == ST_OK) {
		FZ_ASSERT(!health_codes_match(&codes, -1) &&
		    !health_codes_match(&codes, 640) &&
		    !health_codes_match(&codes, 100000));
		for (s = 0, n = 0; s < 640; s++)
			n += health_codes_match(&codes, s) != 0;
		FZ_ASSERT(n > 0);
	} else
		FZ_ASSERT(st.code == ST_CONFIG && fz_printable(st.msg));

	memset(t, 0, sizeof(t));
	if (health_url_parse(url, &t[0], &st) == ST_OK)
		check_target(&t[0]);
	else
		FZ_ASSERT(fz_printable(st.msg));
	memset(t, 0, sizeof(t));
	if (health_tcp_parse(tcp, &t[0], &st) == ST_OK) {
		FZ_ASSERT(t[0].kind == HEALTH_TCP);
		check_target(&t[0]);
	}
	n = 0;
	rc = health_list_parse("url", list, health_url_parse, t, &n,
	    HEALTH_MAX_URLS, &st);
	FZ_ASSERT(n <= HEALTH_MAX_URLS);
	if (rc == ST_OK)
		for (i = 0; i < n; i++)
			check_target(&t[i]);
	n = 0;
	(void)health_list_parse("tcp", list, health_tcp_parse, NULL, &n,
	    HEALTH_MAX_TCP, &st);
	FZ_ASSERT(n <= HEALTH_MAX_TCP);

	if (health_header_make(name, value, out, sizeof(out), &st) == ST_OK) {
		const unsigned char *u = (const unsigned char *)out;

		/* RFC 9110: a value may hold HTAB and obs-text, never
		 * another control (CR/LF injection) */
		FZ_ASSERT(strstr(out, ": ") != NULL);
		for (; *u; u++)
			FZ_ASSERT((*u >= 0x20 || *u == '\t') && *u != 0x7f);
	}
	if (health_ms_parse(dur, HEALTH_MS_MIN, HEALTH_MS_MAX, &ms) == 0)
		FZ_ASSERT(ms >= HEALTH_MS_MIN && ms <= HEALTH_MS_MAX);
	fz_free(&f);
	return 0;
}
