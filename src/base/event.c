#include <stddef.h>
#include <string.h>

#include "base/event.h"
#include "base/text.h"

static const struct {
	const char *name, *program;
} events[EV_COUNT] = {
	[EV_APPLICATION_STOP] = { "ApplicationStop", "application-stop" },
	[EV_BEFORE_INSTALL] = { "BeforeInstall", "before-install" },
	[EV_AFTER_INSTALL] = { "AfterInstall", "after-install" },
	[EV_APPLICATION_START] = { "ApplicationStart", "application-start" },
	[EV_VALIDATE_SERVICE] = { "ValidateService", "validate-service" },
	[EV_BEFORE_BLOCK_TRAFFIC] = { "BeforeBlockTraffic",
	    "before-block-traffic" },
	[EV_AFTER_BLOCK_TRAFFIC] = { "AfterBlockTraffic",
	    "after-block-traffic" },
	[EV_BEFORE_ALLOW_TRAFFIC] = { "BeforeAllowTraffic",
	    "before-allow-traffic" },
	[EV_AFTER_ALLOW_TRAFFIC] = { "AfterAllowTraffic",
	    "after-allow-traffic" },
};

static const char *const checks[CHK_COUNT] = {
	"lifecycle", "marker", "tags", "health", "drain"
};

const char *
event_name(enum event ev)
{
	return (unsigned)ev < EV_COUNT ? events[ev].name : "unknown";
}

const char *
event_program(enum event ev)
{
	return (unsigned)ev < EV_COUNT ? events[ev].program : "unknown";
}

int
event_by_name(const char *name)
{
	int i;

	for (i = 0; i < EV_COUNT; i++)
		if (strcmp(events[i].name, name) == 0)
			return i;
	return -1;
}

unsigned
event_default_checks(enum event ev, int has_health, int has_drain)
{
	unsigned c = CHK_LIFECYCLE;

	if (ev == EV_BEFORE_INSTALL)
		c |= CHK_MARKER | CHK_TAGS;
	if (ev == EV_VALIDATE_SERVICE && has_health)
		c |= CHK_HEALTH;
	if (ev == EV_BEFORE_ALLOW_TRAFFIC)
		c |= CHK_MARKER | CHK_TAGS | (has_health ? CHK_HEALTH : 0);
	if (ev == EV_AFTER_BLOCK_TRAFFIC && has_drain)
		c |= CHK_DRAIN;
	return c;
}

const char *
check_name(unsigned bit)
{
	int i;

	for (i = 0; i < CHK_COUNT; i++)
		if (bit == 1u << i)
			return checks[i];
	return NULL;
}

unsigned
check_by_name(const char *name)
{
	int i;

	for (i = 0; i < CHK_COUNT; i++)
		if (strcmp(checks[i], name) == 0)
			return 1u << i;
	return 0;
}

void
check_list(unsigned c, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < CHK_COUNT; i++) {
		if (!(c & (1u << i)))
			continue;
		if (used > 0 && used + 1 < len)
			buf[used++] = ' ';
		text_copy(buf + used, checks[i], len - used);
		used = strlen(buf);
	}
	if (used == 0)
		text_copy(buf, "none", len);
}
