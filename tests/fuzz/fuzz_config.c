/*
 * fuzz_config: cdgate.ini through config_load_file (file checks, inih,
 * every section's value parsers, health and drain grammars).  Asserts
 * config.h's rules: ST_OK or ST_CONFIG only; an error names the file; a
 * loaded configuration stays within its documented bounds.
 */
#include "fuzz.h"

#include "checks/drain.h"
#include "checks/health.h"
#include "checks/lifecycle.h"
#include "checks/marker.h"
#include "checks/tags.h"
#include "run/config.h"
#include "run/registry.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c;
	const struct marker_conf *mk = config_conf(&c, &check_marker);
	const struct tags_conf *tg = config_conf(&c, &check_tags);
	const struct health_conf *hl = config_conf(&c, &check_health);
	const struct drain_conf *dr = config_conf(&c, &check_drain);
	const struct lifecycle_conf *lc = config_conf(&c, &check_lifecycle);
	int has_health = (c.configured & registry_bit("health")) != 0;
	int has_drain = (c.configured & registry_bit("drain")) != 0;
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
	has_health = (c.configured & registry_bit("health")) != 0;
	has_drain = (c.configured & registry_bit("drain")) != 0;
	FZ_ASSERT(tg->ntags <= CAP_TAGS);
	FZ_ASSERT(hl->nheaders <= HEALTH_MAX_HEADERS);
	FZ_ASSERT(dr->nports <= DRAIN_MAX_PORTS);
	FZ_ASSERT(mk->path[0] == '/');
	FZ_ASSERT(c.history[0] == '\0' || c.history[0] == '/');
	FZ_ASSERT(!has_drain || dr->nports > 0);
	FZ_ASSERT(!has_health || hl->url[0] || hl->tcp[0]);
	for (i = 0; i < tg->ntags; i++)
		FZ_ASSERT(strlen(tg->tags[i].key) < sizeof(tg->tags[i].key));
	for (i = 0; i < dr->nports; i++)
		FZ_ASSERT(dr->ports[i] >= 1);
	for (ev = 0; ev < EV_COUNT; ev++) {
		long t = config_timeout(&c, (enum event)ev);
		unsigned chk = config_checks(&c, (enum event)ev);
		int ot = lifecycle_on_terminating(lc, ev);

		FZ_ASSERT(t >= 1 && t <= CONFIG_MAX_TIMEOUT);
		FZ_ASSERT(chk != 0 && (chk & ~registry_all()) == 0);
		FZ_ASSERT(ot == ON_STATE_SKIP || ot == ON_STATE_FAIL);
	}
	return 0;
}
