/*
 * file.h: reading files that decide whether an instance takes traffic.
 *
 * Rules (the doas way):
 * - the path MUST be opened with O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC, so a
 *   symbolic link is refused and a FIFO does not block the open;
 * - the checks MUST be made on the opened fd (fstat), never on the path:
 *   a regular file, at most `cap` bytes, and with FILE_TRUSTED owned by root
 *   or by the running user and not writable by group or others;
 * - the bytes MUST then be read from that same fd, and are refused if they
 *   hold a NUL byte or invalid UTF-8 (FILE_TEXT).
 */
#ifndef CDGATE_FILE_H
#define CDGATE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/status.h"

#define FILE_TRUSTED 0x1	/* owner and mode checks */
#define FILE_TEXT    0x2	/* no NUL bytes, valid UTF-8 */

struct file_info {
	uid_t uid;
	mode_t mode;
	off_t size;
	long mtime;
};

/*
 * Reads path into a malloc'd, NUL-terminated *buf (caller frees).  `what`
 * names the file in messages ("marker", "config").  Returns ST_OK;
 * ST_FAIL with *absent = 1 if it does not exist; ST_FAIL with a message
 * for anything else wrong with it.
 */
int file_read(const char *path, const char *what, size_t cap, int flags,
    char **buf, size_t *len, struct file_info *info, int *absent,
    struct status *st);
/*
 * Checks that dir (an existing directory) is owned by root or the running
 * user and not writable by group or others.  ST_OK or ST_FAIL.
 */
int file_dir_trusted(const char *dir, const char *what, struct status *st);
/* Writes the directory part of path into out ("." when there is none). */
void file_dirname(const char *path, char *out, size_t len);

#endif
