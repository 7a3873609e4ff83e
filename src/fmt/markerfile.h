/*
 * markerfile.h: the provisioning marker (cdgate.ini(5): man/cdgate.ini.5),
 * read and written.
 *
 * Rules:
 * - read through file.h: no links, a regular file owned by root or the
 *   running user, not group- or world-writable, at most CAP_MARKER_FILE
 *   bytes, valid UTF-8, no NUL bytes; its directory not writable by others;
 * - parsed strictly: only [provision] and [tags]; unknown keys, duplicate
 *   keys, missing required keys (status, instance_id, boot_id,
 *   finished_at) and bad values (a boot_id not of the kernel's form) are
 *   errors;
 * - written atomically: a temporary file in the same directory, fsync,
 *   rename over the marker, fsync of the directory; a reader sees the old
 *   marker or the new one, never a part of one;
 * - tag keys are stored percent-encoded where INI would misread them
 *   (':', '=', '%', ';', '#', '[', ']', blanks).
 */
#ifndef CDGATE_MARKERFILE_H
#define CDGATE_MARKERFILE_H

#include <stddef.h>

#include "base/caps.h"
#include "base/status.h"

#define MARKER_TIME_LEN 21	/* "2026-11-26T02:00:00Z" + NUL */

struct markerfile_tag {
	char key[CAP_TAG_KEY_B];
	char value[CAP_TAG_VALUE_B];
};

struct markerfile {
	int ok;				/* status = ok */
	char instance_id[CAP_INSTANCE_ID];
	char boot_id[CAP_BOOT_ID];
	char finished_at[MARKER_TIME_LEN];
	char digest[CAP_DIGEST];	/* "" when absent */
	char message[CAP_MSG];		/* "" when absent */
	struct markerfile_tag tags[CAP_TAGS];
	size_t ntags;
	int has_tags;			/* a [tags] section was present */
};

/*
 * Reads and parses the marker.  ST_OK; ST_FAIL with *absent = 1 when it
 * does not exist; ST_FAIL with the reason when it cannot be used.
 */
int markerfile_read(const char *path, struct markerfile *m, int *absent,
    struct status *st);
/*
 * Verifies a parsed marker: instance id (skipped when NULL), status and
 * digest (skipped when NULL or "").  ST_OK or ST_FAIL; *other_instance is
 * set when the marker is another instance's, whatever its status (a marker
 * baked into an image, which this instance's own provisioning replaces).
 */
int markerfile_verify(const char *path, const struct markerfile *m,
    const char *instance_id, const char *digest, int *other_instance,
    struct status *st);
/* Writes the marker atomically, creating its directory (0755). */
int markerfile_write(const char *path, const struct markerfile *m,
    struct status *st);
/*
 * markerfile_write, calling renamed() (when not NULL) as soon as the new marker
 * is in place, before the directory is synced: a failure after that call
 * (ST_OSERR, "cannot sync directory") or a signal during the sync leaves
 * the new marker in place, and must be reported so.
 */
int markerfile_write_cb(const char *path, const struct markerfile *m,
    void (*renamed)(void), struct status *st);
/*
 * Removes the marker, if there is one, and syncs its directory (which must
 * be trusted): cdgate-mark --run withdraws the previous marker before the
 * command runs, so that hooks wait meanwhile and a run that is killed or
 * cannot write leaves no marker of an earlier run.  *withdrawn is set when
 * one was removed.  ST_OK, ST_FAIL (directory), ST_CONFIG (a directory at
 * path) or ST_OSERR.
 */
int markerfile_withdraw(const char *path, int *withdrawn, struct status *st);
/*
 * 1 when s has the kernel's boot id form: 8-4-4-4-12 lowercase hex digits.
 * boot_id is informational: a marker written in an earlier boot passes
 * (provisioning does not run again at a reboot), but it must be well formed.
 */
int markerfile_boot_id_ok(const char *s);
/*
 * 1 when v can be a marker tag value: it must read back from the INI text
 * as written, so no control character, no leading or trailing blank, no
 * leading ';' and no blank followed by ';' (an inline comment).
 */
int markerfile_value_ok(const char *v);
/*
 * Formats the marker as INI text; ST_OK, ST_USAGE for a tag value that
 * markerfile_value_ok refuses or when the text does not fit len.
 */
int markerfile_format(const struct markerfile *m, char *buf, size_t len,
    struct status *st);
/* Reads /proc/sys/kernel/random/boot_id into out. */
int markerfile_boot_id(char *out, size_t len, struct status *st);

#endif
