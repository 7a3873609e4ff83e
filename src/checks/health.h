/*
 * health.h: the service health check (cdgate.ini(5) [health]:
 * man/cdgate.ini.5).
 *
 * Rules:
 * - every target MUST pass in the same round, `successes` rounds in a row;
 *   a failing round resets the count;
 * - every request is cut at the run's deadline (request_timeout at most),
 *   every wait between rounds goes through check_wait, and CHECK_LEAVING is
 *   passed on at once; the backoff is cut so that a last attempt starts
 *   HEALTH_FINAL_MS before the deadline, and the check fails when no
 *   attempt can start any more (at most HEALTH_FINAL_MS early);
 * - requests go through http.h only: no proxy, TLS verification on, the
 *   reply capped at HEALTH_BODY_CAP (a larger reply fails, it is never cut
 *   into a success), redirects followed only when follow_redirects is set
 *   and then at most that many, and only to the url's own scheme, host and
 *   port (health_redirect: header values never reach another origin);
 * - a TCP target is an IP address (or localhost): names are never resolved,
 *   so no lookup can outlive the deadline;
 * - request header values may hold secrets: they MUST never be printed;
 * - the failure names the target, the last status with a cleaned, short
 *   body excerpt or the connection error, and the attempts made; progress
 *   lines are printed only when the kind of failure changes.
 *
 * The parsers below are used by config.c to refuse bad values at load time
 * and by the check to build its targets: one grammar in one place.
 */
#ifndef CDGATE_HEALTH_H
#define CDGATE_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "base/status.h"
#include "checks/check.h"

#define HEALTH_BODY_CAP       65536	/* one health reply, bytes */
#define HEALTH_EXCERPT        84	/* body excerpt, "..." and NUL */
#define HEALTH_MAX_URLS       8		/* url = words */
#define HEALTH_MAX_TCP        8		/* tcp = words */
#define HEALTH_MAX_HEADERS    8		/* header.NAME keys */
#define HEALTH_STATUS_LEN     64	/* the status = spec, bytes */
#define HEALTH_MAX_REDIRS     10	/* follow_redirects = yes / at most */
#define HEALTH_MAX_SUCCESSES  100
#define HEALTH_REQUEST_MS     5000	/* request_timeout default */
#define HEALTH_INTERVAL_MS    1000	/* interval default */
#define HEALTH_INTERVAL_MAX_MS 5000	/* interval_max default */
#define HEALTH_FINAL_MS       500	/* last attempt starts this early */
#define HEALTH_MS_MIN         100
#define HEALTH_MS_MAX         600000	/* 10 minutes */
#define HEALTH_UNIX_HOST      "localhost"

enum health_kind { HEALTH_HTTP, HEALTH_UNIX, HEALTH_TCP };

/* One thing to check. */
struct health_target {
	int kind;			/* enum health_kind */
	char name[CAP_URL];		/* as configured, for messages */
	char url[CAP_URL];		/* HTTP: what curl requests */
	char sock[CAP_PATH];		/* HEALTH_UNIX: the socket */
	char addr[64];			/* HEALTH_TCP: numeric address */
	int port;			/* HEALTH_TCP */
	int https;			/* HEALTH_HTTP: https:// */
};

/* The statuses accepted: bit n for HTTP status n. */
struct health_codes {
	uint64_t bits[10];		/* 0..639 */
};

/* [health] */
struct health_conf {
	char url[CAP_URL];		/* blank-separated urls, may be "" */
	char tcp[CAP_VALUE];		/* blank-separated ADDRESS:PORT */
	char status[HEALTH_STATUS_LEN];	/* "200", "200,204", "2xx" */
	char body[CAP_VALUE];		/* "": any body */
	char headers[HEALTH_MAX_HEADERS][CAP_INI_LINE];	/* "N: v" */
	size_t nheaders;
	long request_ms, successes;
	long interval_ms, interval_max_ms;
	long redirects;			/* 0: redirects not followed */
	char ca_file[CAP_PATH];		/* "": the system store */
};

extern const struct check_def check_health;

/*
 * "200", "200,204", "2xx", "200 3xx" (commas and/or blanks): ST_OK, or
 * ST_CONFIG with the reason.
 */
int health_codes_parse(const char *spec, struct health_codes *out,
    struct status *st);
int health_codes_match(const struct health_codes *c, long status);
/*
 * One url word: http://..., https://..., or unix:/SOCKET[:/PATH] (a socket
 * path holding ':' is not supported; the path defaults to "/").
 */
int health_url_parse(const char *word, struct health_target *t,
    struct status *st);
/* One tcp word: 127.0.0.1:5432, [::1]:5432 or localhost:5432. */
int health_tcp_parse(const char *word, struct health_target *t,
    struct status *st);
/*
 * Splits the blank-separated list of key `what` ("url", "tcp") with parse
 * (health_url_parse or health_tcp_parse) into t[*n...], at most `max` of
 * them (t NULL: only validates and counts); ST_OK or ST_CONFIG.
 */
int health_list_parse(const char *what, const char *list,
    int (*parse)(const char *, struct health_target *, struct status *),
    struct health_target *t, size_t *n, size_t max, struct status *st);
/*
 * A header: name (an RFC 9110 token) and value (printable, no controls)
 * into out as "Name: value".  ST_OK or ST_CONFIG.
 */
int health_header_make(const char *name, const char *value, char *out,
    size_t len, struct status *st);
/*
 * A duration: "5" or "5s" (seconds), "500ms"; in [min_ms, max_ms].
 * 0 and *ms set, or -1.
 */
int health_ms_parse(const char *s, long min_ms, long max_ms, long *ms);

#endif
