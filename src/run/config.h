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
 */
#ifndef CDGATE_CONFIG_H
#define CDGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "checks/drain.h"
#include "base/event.h"
#include "checks/health.h"
#include "base/status.h"

#define CONFIG_ETC "/etc/cdgate/cdgate.ini"
#define CONFIG_DEFAULT_MARKER "/var/lib/cdgate/provisioned"
#define CONFIG_DEFAULT_TIMEOUT 300
#define CONFIG_MAX_TIMEOUT 3600
#define CONFIG_CLOUD_INIT_RESULT "/run/cloud-init/result.json"
#define CONFIG_CLOUD_INIT_STATUS "/run/cloud-init/status.json"

enum on_term { ON_TERM_SKIP, ON_TERM_FAIL };
/*
 * What a hook does when the target lifecycle state is Standby, Detached or
 * Warmed:* (lifecycle.h states the policy and the defaults' reasons):
 * check = run the checks as for InService, skip = exit 0 at once saying
 * why, fail = fail at once.
 */
enum on_state { ON_STATE_CHECK, ON_STATE_SKIP, ON_STATE_FAIL };
enum tags_source { TAGS_AUTO, TAGS_IMDS, TAGS_EC2 };

struct config_tag {
	char key[CAP_TAG_KEY_B];
	char glob[CAP_TAG_VALUE_B];
};

struct config_event {
	unsigned checks;	/* valid when checks_set */
	int checks_set;
	long timeout;		/* valid when > 0 */
	int on_terminating;	/* -1: as [gate] */
};

struct config {
	char path[CAP_PATH];	/* "" when the built-in defaults are used */
	/* [gate] */
	long timeout;
	int on_terminating;
	int imds;
	int on_standby, on_detached, on_warmed;	/* enum on_state */
	char history[CAP_PATH];	/* "" when off (history = none) */
	long history_max;	/* bytes before rotation */
	/* [marker] */
	char marker_path[CAP_PATH];
	int cloud_init;
	char cloud_init_result[CAP_PATH];
	char cloud_init_status[CAP_PATH];
	char digest[CAP_DIGEST];	/* "" when not required */
	/* [tags] */
	int tags_source;
	struct config_tag tags[CAP_TAGS];
	size_t ntags;
	/* [health] (health.h) */
	int has_health;
	char health_url[CAP_URL];	/* blank-separated urls, may be "" */
	char health_tcp[CAP_VALUE];	/* blank-separated ADDRESS:PORT */
	char health_status[HEALTH_STATUS_LEN];	/* "200", "200,204", "2xx" */
	char health_body[CAP_VALUE];	/* "": any body */
	char health_headers[HEALTH_MAX_HEADERS][CAP_INI_LINE]; /* "N: v" */
	size_t health_nheaders;
	long health_request_ms, health_successes;
	long health_interval_ms, health_interval_max_ms;
	long health_redirects;		/* 0: redirects not followed */
	char health_ca_file[CAP_PATH];	/* "": the system store */
	/* [drain] (drain.h) */
	int has_drain;
	uint16_t drain_ports[DRAIN_MAX_PORTS];
	size_t ndrain_ports;
	int drain_on_timeout;		/* enum drain_on_timeout */
	/* [EventName] */
	struct config_event ev[EV_COUNT];
};

/* The built-in defaults. */
void config_defaults(struct config *c);
/*
 * Finds and loads the configuration for the program at exe, its real path
 * (the unit tests), or when exe is NULL at /proc/self/exe: never argv[0] or
 * the working directory, which whoever starts it chooses; a /proc/self/exe
 * that cannot be read is ST_CONFIG.  Each directory searched must be
 * trusted (file_dir_trusted), whether a cdgate.ini is there or not, so the
 * built-in defaults are used only when nobody but root or the running user
 * could have removed one.  Returns ST_OK or ST_CONFIG.
 */
int config_load(struct config *c, const char *exe, struct status *st);
/* Loads one file (no search); ST_OK or ST_CONFIG. */
int config_load_file(struct config *c, const char *path, struct status *st);
/*
 * What every program does: the file given with -c (path not NULL), else
 * the search of config_load.  ST_OK or ST_CONFIG.
 */
int config_load_for(struct config *c, const char *path, struct status *st);
/* The checks and the timeout (seconds) for an event. */
unsigned config_checks(const struct config *c, enum event ev);
long config_timeout(const struct config *c, enum event ev);
int config_on_terminating(const struct config *c, enum event ev);

#endif
