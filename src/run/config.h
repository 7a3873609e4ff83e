/*
 * config.h: cdgate.ini (cdgate.ini(5): man/cdgate.ini.5), found, checked
 * and parsed.
 *
 * Rules:
 * - the search order is $CDGATE_CONFIG, cdgate.ini beside the program,
 *   cdgate.ini in its parent directory, /etc/cdgate/cdgate.ini, then the
 *   built-in defaults; the first file that exists is used, and a file that
 *   exists but cannot be used is an error (never a silent fall-through);
 * - the file MUST be a regular file owned by root or the running user, not
 *   group- or world-writable (file.h), valid UTF-8 text, in a directory
 *   that is not writable by others either; every directory searched is
 *   checked so, whether it holds a cdgate.ini or not;
 * - the program's directory comes from /proc/self/exe, never argv[0];
 * - an unknown section or key, a duplicate key, or a bad value is an error
 *   naming the file and line.
 *
 * This module knows [gate]'s own keys (timeout imds history history_max),
 * the event sections' own keys (checks timeout) and nothing of any check:
 * each check's section and its keys in [gate] and the event sections go to
 * the check's key handler (run/registry.h, checks/check.h), which parses
 * them into its conf, stored here (config_conf) and validated by the check
 * after the file.
 *
 * A struct config is large (every check's conf): keep it in static or heap
 * storage, never on the stack.
 */
#ifndef CDGATE_CONFIG_H
#define CDGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "base/event.h"
#include "base/status.h"
#include "checks/check.h"
#include "run/registry.h"

#define CONFIG_ETC "/etc/cdgate/cdgate.ini"
#define CONFIG_DEFAULT_TIMEOUT 300
#define CONFIG_MAX_TIMEOUT 3600
/* room for every check's conf (test_registry.c shows it is enough;
 * loading refuses with exit 70 when a build has it too small) */
#ifndef CONFIG_STORE
#define CONFIG_STORE (160 * 1024)
#endif

struct config_event {
	unsigned checks;	/* valid when checks_set */
	int checks_set;
	long timeout;		/* valid when > 0 */
};

struct config {
	char path[CAP_PATH];	/* "" when the built-in defaults are used */
	/* [gate] */
	long timeout;
	int imds;
	char history[CAP_PATH];	/* "" when off (history = none) */
	long history_max;	/* bytes before rotation */
	/* [EventName] */
	struct config_event ev[EV_COUNT];
	/* the checks whose own section has a key */
	unsigned configured;
	/* each check's conf, at config_conf's offset */
	_Alignas(16) unsigned char store[CONFIG_STORE];
};

/* The built-in defaults (every check's too). */
void config_defaults(struct config *c);
/*
 * Finds and loads the configuration for the program at exe, its real path
 * (the unit tests), or when exe is NULL at /proc/self/exe: never argv[0] or
 * the working directory, which whoever starts it chooses; a /proc/self/exe
 * that cannot be read is ST_CONFIG.  Each directory searched must be
 * trusted (file_dir_trusted), whether a cdgate.ini is there or not, so the
 * built-in defaults are used only when nobody but root or the running user
 * could have removed one.  Returns ST_OK or ST_CONFIG (ST_OSERR when out
 * of memory or descriptors).
 */
int config_load(struct config *c, const char *exe, struct status *st);
/* Loads one file (no search); ST_OK or ST_CONFIG (or ST_OSERR). */
int config_load_file(struct config *c, const char *path, struct status *st);
/*
 * What every program does: the file given with -c (path not NULL), else
 * the search of config_load.  ST_OK or ST_CONFIG (or ST_OSERR).
 */
int config_load_for(struct config *c, const char *path, struct status *st);
/* The checks and the timeout (seconds) for an event. */
unsigned config_checks(const struct config *c, enum event ev);
long config_timeout(const struct config *c, enum event ev);
/* The conf of a check of the registry (check.h). */
const void *config_conf(const struct config *c, const struct check_def *d);
/* The store offset of registry check i, or -1 when CONFIG_STORE is short. */
long config_offset(size_t i);

#endif
