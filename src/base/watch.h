/*
 * watch.h: waking when a file appears, with inotify, not a poll interval.
 *
 * The watch is on the deepest existing ancestor directory of the path, so
 * it also works when the file's directory does not exist yet.  Callers
 * MUST arm the watch before looking at the file, then wait, then re-arm:
 * that order loses no event.
 */
#ifndef CDGATE_WATCH_H
#define CDGATE_WATCH_H

#include <stdint.h>

#include "base/caps.h"
#include "base/status.h"

struct watch {
	int fd;		/* inotify fd, -1 when closed */
	int wd;		/* current watch, -1 when none */
	char path[CAP_PATH];
	char watched[CAP_PATH];
};

int watch_open(struct watch *w, const char *path, struct status *st);
/* (Re)places the watch on the deepest existing ancestor. */
int watch_arm(struct watch *w, struct status *st);
/*
 * Waits until something changes under the watch or ms milliseconds pass;
 * returns 1 on a change, 0 on time out, -1 on error.  Drains the events.
 */
int watch_wait(struct watch *w, int64_t ms);
void watch_close(struct watch *w);

#endif
