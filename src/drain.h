/*
 * drain.h: waiting for established connections to local ports to end
 * ([drain], default in AfterBlockTraffic).
 *
 * Rules:
 * - a connection counts when its state is ESTABLISHED and its LOCAL port is
 *   one of [drain] ports, in /proc/net/tcp or /proc/net/tcp6 (this network
 *   namespace); the remote port never counts;
 * - the files are read in bounded chunks; a line longer than
 *   DRAIN_LINE_CAP, more than DRAIN_MAX_LINES lines, a malformed line or an
 *   unreadable file fails the check (fail closed); only a missing
 *   /proc/net/tcp6 (IPv6 disabled) counts as no connections;
 * - every wait goes through gate_wait, and GATE_LEAVING is passed on;
 * - at the deadline with connections left the check passes with a warning
 *   (on_timeout = pass, the default: like a load balancer's deregistration
 *   delay) or fails with ST_TIMEOUT (on_timeout = fail).
 */
#ifndef CDGATE_DRAIN_H
#define CDGATE_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define DRAIN_MAX_PORTS  16
#define DRAIN_POLL_MS    500		/* re-count interval */
#define DRAIN_REPORT_MS  10000		/* at most one count line per ... */
#define DRAIN_LINE_CAP   512		/* one /proc/net/tcp line, bytes */
#define DRAIN_CHUNK      65536		/* read size */
#define DRAIN_MAX_LINES  2000000	/* sockets per file */
#define DRAIN_PROC_TCP   "/proc/net/tcp"
#define DRAIN_PROC_TCP6  "/proc/net/tcp6"
#define DRAIN_ESTABLISHED 0x01

enum drain_on_timeout { DRAIN_PASS, DRAIN_FAIL };

/* One socket line. */
struct drain_sock {
	unsigned lport, rport;
	unsigned state;
};

/* A count in progress over one file. */
struct drain_scan {
	const uint16_t *ports;
	size_t nports;
	unsigned long lines;	/* lines seen, the header included */
	unsigned long count;	/* matching sockets */
};

struct gate;

/* The check: ST_OK, GATE_LEAVING, or a failure in g->st. */
int drain_check(struct gate *g);

/* "80 443" or "80,443": 1..65535, at most max; ST_OK or ST_CONFIG. */
int drain_ports_parse(const char *list, uint16_t *ports, size_t *n,
    size_t max, struct status *st);
/* Parses one socket line (not the header); 0, or -1 when malformed. */
int drain_parse_line(const char *line, size_t len, struct drain_sock *s);
/*
 * Feeds whole lines (the last may lack its newline) of a /proc/net/tcp or
 * tcp6 text to s; the first line fed to a fresh scan is the header.
 * ST_OK, or ST_OSERR with the reason.
 */
int drain_scan_lines(struct drain_scan *s, const char *buf, size_t len,
    struct status *st);
/*
 * Counts the matching sockets in one file; absent_ok: a missing file
 * counts none.  ST_OK or ST_OSERR.
 */
int drain_count_file(const char *path, int absent_ok, const uint16_t *ports,
    size_t nports, unsigned long *count, struct status *st);

#endif
