/*
 * drain.h: waiting for established connections to local ports to end
 * ([drain], default in AfterBlockTraffic).
 *
 * Rules:
 * - a connection counts when its state is ESTABLISHED and its LOCAL port is
 *   one of [drain] ports, over IPv4 and IPv6 (this network namespace); the
 *   remote port never counts;
 * - the count comes from the kernel's sock_diag netlink dump (what ss(8)
 *   uses), one per address family, with a bytecode filter on the local
 *   ports so that only matching sockets are sent; each socket is counted
 *   once by its cookie.  /proc/net/tcp is no snapshot: it is read 4 KiB at
 *   a time and a socket added meanwhile can show twice or hide another;
 * - a malformed dump fails the check (fail closed); when the kernel has no
 *   sock_diag for a family (no module, an old kernel, a sandbox) that
 *   family is counted from /proc/net/tcp or tcp6 instead, said once, and
 *   read again until two reads in a row agree (at most DRAIN_PROC_READS,
 *   then the highest count);
 * - the files are read in bounded chunks; a line longer than
 *   DRAIN_LINE_CAP, more than DRAIN_MAX_LINES lines, a malformed line or an
 *   unreadable file fails the check (fail closed); only a missing
 *   /proc/net/tcp6 (IPv6 disabled) counts as no connections;
 * - every wait goes through check_wait, and CHECK_LEAVING is passed on;
 * - at the deadline with connections left the check passes with a warning
 *   (on_timeout = pass, the default: like a load balancer's deregistration
 *   delay) or fails with ST_TIMEOUT (on_timeout = fail).
 */
#ifndef CDGATE_DRAIN_H
#define CDGATE_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "checks/check.h"

#define DRAIN_MAX_PORTS  16
#define DRAIN_POLL_MS    500		/* re-count interval */
#define DRAIN_REPORT_MS  10000		/* at most one count line per ... */
#define DRAIN_LINE_CAP   512		/* one /proc/net/tcp line, bytes */
#define DRAIN_CHUNK      65536		/* read size */
#define DRAIN_MAX_LINES  2000000	/* sockets per file */
#define DRAIN_PROC_TCP   "/proc/net/tcp"
#define DRAIN_PROC_TCP6  "/proc/net/tcp6"
#define DRAIN_ESTABLISHED 0x01
#define DRAIN_PROC_READS 5		/* /proc reads to agree */
#define DRAIN_DIAG_BUF   32768		/* one netlink datagram, at most */
#define DRAIN_DIAG_WAIT_MS 2000		/* for each datagram of a dump */
#define DRAIN_BC_PORT    20		/* filter bytes per port */
#define DRAIN_BC_MAX     (DRAIN_MAX_PORTS * DRAIN_BC_PORT)

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

/* A sock_diag dump in progress. */
struct drain_diag {
	const uint16_t *ports;
	size_t nports;
	uint32_t seq;		/* of the request */
	unsigned long msgs;	/* socket messages seen */
	uint64_t *cookies;	/* of the matching ones (duplicates kept) */
	size_t ncookies, cap;
	int done;		/* NLMSG_DONE or NLMSG_ERROR seen */
	int error;		/* the kernel's errno, or 0 */
};

/* [drain] */
struct drain_conf {
	uint16_t ports[DRAIN_MAX_PORTS];
	size_t nports;
	int on_timeout;			/* enum drain_on_timeout */
};

extern const struct check_def check_drain;

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

/*
 * The inet_diag bytecode accepting a socket whose local port is one of
 * ports (1..DRAIN_MAX_PORTS of them) into bc (DRAIN_BC_MAX bytes); returns
 * its length, DRAIN_BC_PORT per port.
 */
size_t drain_diag_bytecode(const uint16_t *ports, size_t nports,
    uint8_t *bc);
/*
 * Feeds one datagram of a SOCK_DIAG_BY_FAMILY dump to d: ESTABLISHED
 * sockets on one of d->ports are kept; NLMSG_DONE or NLMSG_ERROR ends the
 * dump (d->done, d->error).  ST_OK, or ST_OSERR when it is malformed,
 * another request's, or too large.
 */
int drain_diag_feed(struct drain_diag *d, const void *buf, size_t len,
    struct status *st);
/* Distinct sockets in d (sorts d->cookies). */
unsigned long drain_diag_distinct(struct drain_diag *d);
/*
 * Counts over sock_diag (AF_INET or AF_INET6).  ST_OK with *count, or with
 * *unavailable = an errno when the kernel offers no such dump (then count
 * from /proc); ST_OSERR on a failure.
 */
int drain_count_diag(int family, const uint16_t *ports, size_t nports,
    unsigned long *count, int *unavailable, struct status *st);
/*
 * drain_count_file until two reads in a row agree, at most
 * DRAIN_PROC_READS, else the highest count.
 */
int drain_count_proc(const char *path, int absent_ok, const uint16_t *ports,
    size_t nports, unsigned long *count, struct status *st);

#endif
