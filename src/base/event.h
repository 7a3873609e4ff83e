/*
 * event.h: the CodeDeploy lifecycle events, their programs and the checks
 * each runs by default (cdgate-hooks(8): man/cdgate-hooks.8).
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

/* Checks, as bits; the order of the bits is the order they run in. */
enum check {
	CHK_LIFECYCLE = 1 << 0,
	CHK_MARKER = 1 << 1,
	CHK_TAGS = 1 << 2,
	CHK_HEALTH = 1 << 3,
	CHK_DRAIN = 1 << 4
};
#define CHK_COUNT 5

/* "BeforeInstall" */
const char *event_name(enum event ev);
/* "before-install" */
const char *event_program(enum event ev);
/* -1 if name is not an event name (exact, case-sensitive). */
int event_by_name(const char *name);
/*
 * Default checks; has_health, has_drain: a [health], a [drain] section is
 * configured (drain: AfterBlockTraffic only, once the load balancer has
 * stopped sending new connections).
 */
unsigned event_default_checks(enum event ev, int has_health, int has_drain);
/* "marker" for CHK_MARKER; NULL for a bad bit. */
const char *check_name(unsigned bit);
/* The bit for a check name, 0 if unknown. */
unsigned check_by_name(const char *name);
/* Writes "lifecycle marker tags" into buf. */
void check_list(unsigned checks, char *buf, size_t len);

#endif
