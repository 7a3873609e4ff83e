/*
 * event.h: the CodeDeploy lifecycle events and their programs
 * (cdgate-hooks(8): man/cdgate-hooks.8); the checks each runs by default
 * are the checks' own (checks/check.h).
 */
#ifndef CDGATE_EVENT_H
#define CDGATE_EVENT_H

#include <stddef.h>

enum event {
	EV_APPLICATION_STOP,
	EV_BEFORE_INSTALL,
	EV_AFTER_INSTALL,
	EV_APPLICATION_START,
	EV_VALIDATE_SERVICE,
	EV_BEFORE_BLOCK_TRAFFIC,
	EV_AFTER_BLOCK_TRAFFIC,
	EV_BEFORE_ALLOW_TRAFFIC,
	EV_AFTER_ALLOW_TRAFFIC,
	EV_COUNT
};

/* "BeforeInstall" */
const char *event_name(enum event ev);
/* "before-install" */
const char *event_program(enum event ev);
/* -1 if name is not an event name (exact, case-sensitive). */
int event_by_name(const char *name);
#endif
