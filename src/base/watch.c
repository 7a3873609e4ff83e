#include "base/watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/file.h"
#include "base/text.h"

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | \
    IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
/* watch_wait's read buffer: room for 8 events with the longest name */
#define WATCH_READ (8 * (sizeof(struct inotify_event) + NAME_MAX + 1))

int
watch_open(struct watch *w, const char *path, struct status *st)
{
	memset(w, 0, sizeof(*w));
	w->wd = -1;
	if (text_copy(w->path, path, sizeof(w->path)) >= sizeof(w->path))
		return status_set(st, ST_CONFIG, "path '%s' too long", path);
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return status_set(st, ST_OSERR, "inotify: %s", strerror(errno));
	return ST_OK;
}

/*
 * Replaces dir (a buffer of len bytes) with its parent as file_dirname
 * gives it; 0 when dir is its own parent ("/" or ".").  In place: two
 * CAP_PATH buffers would make watch_arm's frame over 4 KiB.
 */
static int
watch_up(char *dir, size_t len)
{
	char *slash = strrchr(dir, '/');
	size_t n;

	if (slash == NULL) {
		if (strcmp(dir, ".") == 0)
			return 0;
		text_copy(dir, ".", len);
		return 1;
	}
	n = slash == dir ? 1 : (size_t)(slash - dir);	/* "/a" -> "/" */
	if (dir[n] == '\0')
		return 0;
	dir[n] = '\0';
	return 1;
}

int
watch_arm(struct watch *w, struct status *st)
{
	char *dir;
	int wd, rc = ST_OK;

	/* on the heap: a path long, it made the frame over 4 KiB */
	if ((dir = malloc(CAP_PATH)) == NULL)
		return status_set(st, ST_OSERR, "cannot watch '%s': %s",
		    w->path, strerror(ENOMEM));
	file_dirname(w->path, dir, CAP_PATH);
	for (;;) {
		wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
		if (wd >= 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR) {
			rc = status_set(st, ST_OSERR, "cannot watch '%s': %s",
			    dir, strerror(errno));
			goto out;
		}
		if (!watch_up(dir, CAP_PATH)) {
			rc = status_set(st, ST_OSERR, "cannot watch '%s'",
			    dir);
			goto out;
		}
	}
	if (w->wd >= 0 && w->wd != wd)
		inotify_rm_watch(w->fd, w->wd);
	w->wd = wd;
	text_copy(w->watched, dir, sizeof(w->watched));
out:
	free(dir);
	return rc;
}

int
watch_wait(struct watch *w, int64_t ms)
{
	char buf[WATCH_READ]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd = { w->fd, POLLIN, 0 };
	int r;

	if (ms > 0x7fffffff)
		ms = 0x7fffffff;
	r = poll(&pfd, 1, (int)(ms < 0 ? 0 : ms));
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (r == 0)
		return 0;
	while (read(w->fd, buf, sizeof(buf)) > 0)
		;
	return 1;
}

void
watch_close(struct watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->wd = -1;
}
