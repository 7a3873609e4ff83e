/*
 * appspec.h: the appspec of the revision a hook runs from, and the
 * deadline it allows.
 *
 * codedeploy-agent runs a hook as <archive>/<location> and kills it
 * (SIGTERM, its pipes closed at once) when the `timeout` of its appspec
 * entry runs out: whatever the hook prints after that is lost.  So the
 * hook reads that timeout itself and ends APPSPEC_MARGIN seconds before it.
 *
 * Rules:
 * - the running program is readlink("/proc/self/exe"), never argv[0];
 * - the appspec is the nearest appspec.yml (then appspec.yaml, the agent's
 *   order) in the program's directory or an ancestor, at most
 *   APPSPEC_MAX_UP directories up, and never above a directory named
 *   `deployment-archive` (the agent's archive root); none found means the
 *   configured deadline stands.  Why nearest and bounded: the archive root
 *   is the nearest directory with an appspec above a hook (a location is
 *   relative to it, a few levels deep in practice: cdgate/x,
 *   deploy/hooks/cdgate/x); a hook installed elsewhere
 *   (/usr/local/libexec/cdgate) must not wander up to an unrelated file,
 *   and even one it reached only counts when an entry in it names this
 *   very file;
 * - the file is read like cdgate.ini (file.h: O_NOFOLLOW, a regular file
 *   owned by root or the running user, not group- or world-writable, at
 *   most CAP_APPSPEC_FILE bytes, valid UTF-8) and parsed with libyaml's
 *   event API: at most CAP_APPSPEC_EVENTS events and CAP_APPSPEC_DEPTH
 *   levels; anchors and aliases are refused anywhere (no YAML bomb, no
 *   entry reached through an alias), and so are a second document,
 *   duplicate `hooks`, a duplicate event under it and a duplicate
 *   `location` in one of its entries;
 * - an entry is this program's when its `location`, taken relative to the
 *   archive root as the agent does, resolves (realpath) to the same file
 *   (device and inode) as the running program; a `..` or a symbolic link
 *   in it changes nothing to that rule; several entries: the smallest
 *   timeout.  In a several-architecture revision (make bundle ARCHS=...)
 *   the program is DIR/ARCH/PROG, ARCH this machine's `uname -m`, and the
 *   entry names DIR/PROG, the dispatcher that execs it in the same process
 *   (so under the same timeout of the agent): that file counts too;
 * - this program's `timeout` MUST be a positive whole number of seconds
 *   (decimal, no sign, no leading zero, plain or quoted; absent: the
 *   agent's default APPSPEC_DEFAULT_TIMEOUT), else ST_CONFIG;
 * - every error is ST_CONFIG, "appspec 'PATH' line N: ..." when it has a
 *   line; the library never exits.
 */
#ifndef CDGATE_APPSPEC_H
#define CDGATE_APPSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "base/status.h"

#define APPSPEC_DEFAULT_TIMEOUT 3600	/* the agent's, for no `timeout:` */
#define APPSPEC_MAX_UP 5		/* ancestors looked in, beyond the
					   program's own directory */
#define APPSPEC_ARCHIVE_DIR "deployment-archive"
/* a timeout above this is taken as this (it is above any deadline) */
#define APPSPEC_TIMEOUT_MAX 999999999L
/*
 * Seconds between the deadline in force and the appspec timeout: what the
 * end of a run needs after its deadline, before the agent's SIGTERM closes
 * the hook's output.  Measured by tests/blackbox/test_appspec.py (its
 * "exit ... after the deadline" lines): the check's return, the verdict,
 * the history line and the exit took at most 0.12 s natively and under
 * ASan with two busy loops saturating a 2-core machine, 0.25 s under
 * valgrind unloaded; the history lock may add HISTORY_LOCK_MS (1 s).  The
 * start (10 ms natively, 0.5 s under valgrind) is not in it: the deadline
 * counts from the process's start (appspec_spawned_ms).  3 s leaves more
 * than 1.5 s to spare.
 */
#define APPSPEC_MARGIN 3
#define APPSPEC_MARGIN_TEXT "3s"
#define APPSPEC_SPAWN_MAX_MS 10000	/* a start longer than that is not
					   believed (clock semantics) */

struct appspec_entry {
	char location[CAP_APPSPEC_LOCATION];
	unsigned long line;	/* of the entry */
	long timeout;		/* seconds, 0 when bad */
	unsigned long tline;	/* of its timeout, or of the entry */
	int has_timeout;	/* 0: the agent's default */
	char bad[CAP_MSG / 2];	/* why the timeout is refused, or "" */
};

/* The entries of one event in one appspec. */
struct appspec_doc {
	struct appspec_entry ent[CAP_APPSPEC_ENTRIES];
	size_t n;
	int has_event;		/* the event is listed under hooks */
};

struct appspec_result {
	int found;			/* an appspec file was found */
	char path[CAP_PATH];		/* it, or "" */
	char from[CAP_PATH], upto[CAP_PATH];	/* searched, when not found */
	int levels;			/* directories looked in */
	char why[CAP_MSG / 2];		/* when the program's path is unknown */
	int matched;			/* entries naming this program */
	long timeout;			/* the smallest of theirs, seconds */
	unsigned long line;		/* its entry's line */
	int defaulted;			/* it is the agent's default */
	int via_dispatcher;		/* its entry names the dispatcher */
};

/*
 * Parses buf (len bytes, NUL-terminated) read from path and collects the
 * entries under hooks: -> event.  ST_OK or ST_CONFIG.
 */
int appspec_parse(const char *path, const char *buf, size_t len,
    const char *event, struct appspec_doc *d, struct status *st);
/*
 * The appspec for the program at exe (a real path) and its entry under
 * event.  ST_OK (r->found, r->matched say what was found) or ST_CONFIG.
 */
int appspec_lookup(const char *exe, const char *event,
    struct appspec_result *r, struct status *st);
/* appspec_lookup for the running program (/proc/self/exe). */
int appspec_find(const char *event, struct appspec_result *r,
    struct status *st);
/*
 * The deadline in force, in seconds: configured, or the matched appspec
 * timeout less APPSPEC_MARGIN when that is smaller.  *from_appspec is set
 * when the appspec's is in force.  ST_OK, or ST_CONFIG when the appspec
 * timeout leaves no time after the margin.
 */
int appspec_deadline(long configured, const struct appspec_result *r,
    long *in_force, int *from_appspec, struct status *st);
/*
 * When the agent started this process, on mono_ms()'s clock: the process's
 * start (/proc/self/stat) when known, else now.  The agent's timeout runs
 * from there, so a deadline taken from the appspec does too: a slow start
 * (a loaded machine, valgrind) is not taken out of the margin.  At most
 * APPSPEC_SPAWN_MAX_MS before now.
 */
int64_t appspec_spawned_ms(void);
/*
 * For -n: "configured Cs; <what was found>; in force Fs" into buf (the
 * text after "deadline: ").
 */
void appspec_describe(const struct appspec_result *r, const char *event,
    long configured, long in_force, char *buf, size_t len);

#endif
