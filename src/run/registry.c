#include "run/registry.h"

#include <string.h>

#include "base/text.h"
#include "checks/drain.h"
#include "checks/health.h"
#include "checks/lifecycle.h"
#include "checks/marker.h"
#include "checks/notices.h"
#include "checks/tags.h"

/*
 * The order is the order they run in: lifecycle first and EC2's notices
 * (a leaving instance is not waited on), the marker before the tags (the
 * marker records tags to compare), the service's health before traffic,
 * the drain last.
 */
static const struct check_def *const registry[] = {
	&check_lifecycle,
	&check_notices,
	&check_marker,
	&check_tags,
	&check_health,
	&check_drain,
};

#define NCHECKS (sizeof(registry) / sizeof(registry[0]))
_Static_assert(NCHECKS <= REGISTRY_MAX, "more checks than REGISTRY_MAX");

size_t
registry_count(void)
{
	return NCHECKS;
}

const struct check_def *
registry_at(size_t i)
{
	return i < NCHECKS ? registry[i] : NULL;
}

unsigned
registry_bit(const char *name)
{
	size_t i;

	for (i = 0; i < NCHECKS; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return 1u << i;
	return 0;
}

int
registry_by_section(const char *section)
{
	size_t i;

	for (i = 0; i < NCHECKS; i++)
		if (registry[i]->section != NULL &&
		    strcmp(registry[i]->section, section) == 0)
			return (int)i;
	return -1;
}

void
registry_list(unsigned checks, char *buf, size_t len)
{
	size_t i, used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < NCHECKS; i++) {
		if (!(checks & (1u << i)))
			continue;
		if (used > 0 && used + 1 < len)
			buf[used++] = ' ';
		text_copy(buf + used, registry[i]->name, len - used);
		used = strlen(buf);
	}
	if (used == 0)
		text_copy(buf, "none", len);
}

unsigned
registry_all(void)
{
	return (1u << NCHECKS) - 1;
}
