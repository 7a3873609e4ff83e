#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/text.h"

static const char *
file_type(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

static int
file_check_stat(const char *path, const char *what, const struct stat *sb,
    size_t cap, int flags, struct status *st)
{
	if (!S_ISREG(sb->st_mode))
		return status_set(st, ST_FAIL, "%s '%s' is %s", what, path,
		    file_type(sb->st_mode));
	if ((flags & FILE_TRUSTED) && sb->st_uid != 0 &&
	    sb->st_uid != geteuid())
		return status_set(st, ST_FAIL, "%s '%s' is owned by uid %lu, "
		    "not root or the running user; chown root '%s'", what,
		    path, (unsigned long)sb->st_uid, path);
	if ((flags & FILE_TRUSTED) && (sb->st_mode & (S_IWGRP | S_IWOTH)))
		return status_set(st, ST_FAIL, "%s '%s' is %s-writable; "
		    "chmod go-w '%s'", what, path,
		    (sb->st_mode & S_IWOTH) ? "world" : "group", path);
	if ((size_t)sb->st_size > cap)
		return status_set(st, ST_FAIL, "%s '%s' is too large "
		    "(%lld bytes, at most %zu)", what, path,
		    (long long)sb->st_size, cap);
	return ST_OK;
}

static int
file_read_fd(int fd, const char *path, const char *what, size_t cap,
    char **buf, size_t *len, struct status *st)
{
	char *b;
	size_t n = 0;
	ssize_t r;

	if ((b = malloc(cap + 2)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	for (;;) {
		r = read(fd, b + n, cap + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return status_set(st, status_sys(errno, ST_FAIL),
			    "cannot read %s '%s': "
			    "%s", what, path, strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > cap) {
			free(b);
			return status_set(st, ST_FAIL, "%s '%s' grew past "
			    "%zu bytes while read", what, path, cap);
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return ST_OK;
}

int
file_read(const char *path, const char *what, size_t cap, int flags,
    char **buf, size_t *len, struct file_info *info, int *absent,
    struct status *st)
{
	struct stat sb;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	*absent = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*absent = 1;
			return status_set(st, ST_FAIL, "%s '%s' does not "
			    "exist", what, path);
		}
		if (errno == ELOOP)
			return status_set(st, ST_FAIL, "%s '%s' is a symbolic "
			    "link; links are refused, use the real path", what,
			    path);
		return status_set(st, status_sys(errno, ST_FAIL),
		    "cannot open %s '%s': %s",
		    what, path, strerror(errno));
	}
	if (fstat(fd, &sb) == -1) {
		rc = status_set(st, ST_FAIL, "cannot stat %s '%s': %s", what,
		    path, strerror(errno));
		goto out;
	}
	if ((rc = file_check_stat(path, what, &sb, cap, flags, st)) != ST_OK)
		goto out;
	if ((rc = file_read_fd(fd, path, what, cap, buf, len, st)) != ST_OK)
		goto out;
	if ((flags & FILE_TEXT) && memchr(*buf, '\0', *len) != NULL)
		rc = status_set(st, ST_FAIL, "%s '%s' holds NUL bytes (binary "
		    "data, not text)", what, path);
	else if ((flags & FILE_TEXT) && !text_utf8_valid(*buf, *len))
		rc = status_set(st, ST_FAIL, "%s '%s' is not valid UTF-8 "
		    "text", what, path);
	if (rc != ST_OK) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	if (info != NULL) {
		info->uid = sb.st_uid;
		info->mode = sb.st_mode;
		info->size = sb.st_size;
		info->mtime = (long)sb.st_mtime;
	}
out:
	close(fd);
	return rc;
}

int
file_dir_trusted(const char *dir, const char *what, struct status *st)
{
	struct stat sb;

	if (stat(dir, &sb) == -1)
		return status_set(st, ST_FAIL, "cannot stat %s directory '%s': "
		    "%s", what, dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return status_set(st, ST_FAIL, "%s directory '%s' is not a "
		    "directory", what, dir);
	if (sb.st_uid != 0 && sb.st_uid != geteuid())
		return status_set(st, ST_FAIL, "%s directory '%s' is owned by "
		    "uid %lu, not root or the running user", what, dir,
		    (unsigned long)sb.st_uid);
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return status_set(st, ST_FAIL, "%s directory '%s' is writable "
		    "by %s; chmod go-w '%s'", what, dir,
		    (sb.st_mode & S_IWOTH) ? "everyone" : "its group", dir);
	return ST_OK;
}

void
file_dirname(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		text_copy(out, ".", len);
		return;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;		/* "/file" -> "/" */
	if (n >= len)
		n = len - 1;
	memcpy(out, path, n);
	out[n] = '\0';
}
