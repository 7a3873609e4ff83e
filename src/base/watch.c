#include "base/watch.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/file.h"
#include "base/text.h"

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | \
    IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

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

int
watch_arm(struct watch *w, struct status *st)
{
	char dir[CAP_PATH], up[CAP_PATH];
	int wd;

	file_dirname(w->path, dir, sizeof(dir));
	for (;;) {
		wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
		if (wd >= 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR)
			return status_set(st, ST_OSERR, "cannot watch '%s': %s",
			    dir, strerror(errno));
		file_dirname(dir, up, sizeof(up));
		if (strcmp(up, dir) == 0)
			return status_set(st, ST_OSERR, "cannot watch '%s'",
			    dir);
		text_copy(dir, up, sizeof(dir));
	}
	if (w->wd >= 0 && w->wd != wd)
		inotify_rm_watch(w->fd, w->wd);
	w->wd = wd;
	text_copy(w->watched, dir, sizeof(w->watched));
	return ST_OK;
}

int
watch_wait(struct watch *w, int64_t ms)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
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
