#include <stddef.h>
#include <string.h>

#include "base/event.h"

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
