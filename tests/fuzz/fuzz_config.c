/*
 * fuzz_config: cdgate.ini through config_load_file (file checks, inih,
 * every section's value parsers, health and drain grammars).  Asserts
 * config.h's rules: ST_OK or ST_CONFIG only; an error names the file; a
 * loaded configuration stays within its documented bounds.
 */
#include "fuzz.h"

#include "run/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c;
	struct status st;
	const char *path = fz_path(0, "cdgate.ini");
	int rc, ev;
	size_t i;

	if (size > CAP_CONFIG_FILE + 16)
		return 0;
	fz_write(path, data, size);
	config_defaults(&c);
	rc = config_load_file(&c, path, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_CONFIG);
	if (rc != ST_OK) {
		FZ_ASSERT(strstr(st.msg, path) != NULL);
		FZ_ASSERT(fz_printable(st.msg));
		return 0;
	}
	FZ_ASSERT(c.timeout >= 1 && c.timeout <= CONFIG_MAX_TIMEOUT);
	FZ_ASSERT(c.ntags <= CAP_TAGS);
	FZ_ASSERT(c.health_nheaders <= HEALTH_MAX_HEADERS);
	FZ_ASSERT(c.ndrain_ports <= DRAIN_MAX_PORTS);
	FZ_ASSERT(c.marker_path[0] == '/');
	FZ_ASSERT(c.history[0] == '\0' || c.history[0] == '/');
	FZ_ASSERT(!c.has_drain || c.ndrain_ports > 0);
	FZ_ASSERT(!c.has_health || c.health_url[0] || c.health_tcp[0]);
	for (i = 0; i < c.ntags; i++)
		FZ_ASSERT(strlen(c.tags[i].key) < sizeof(c.tags[i].key));
	for (i = 0; i < c.ndrain_ports; i++)
		FZ_ASSERT(c.drain_ports[i] >= 1);
	for (ev = 0; ev < EV_COUNT; ev++) {
		long t = config_timeout(&c, (enum event)ev);
		unsigned chk = config_checks(&c, (enum event)ev);
		int ot = config_on_terminating(&c, (enum event)ev);

		FZ_ASSERT(t >= 1 && t <= CONFIG_MAX_TIMEOUT);
		FZ_ASSERT(chk != 0 && chk < (1u << CHK_COUNT));
		FZ_ASSERT(ot == ON_TERM_SKIP || ot == ON_TERM_FAIL);
	}
	return 0;
}
