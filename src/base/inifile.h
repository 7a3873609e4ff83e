/*
 * inifile.h: strict INI parsing of an in-memory file with inih.
 *
 * On top of inih it guarantees: every error names the file and the line;
 * a line longer than CAP_INI_LINE is an error (inih would split it); a key
 * given twice in one section is an error; the first error wins.
 */
#ifndef CDGATE_INIFILE_H
#define CDGATE_INIFILE_H

#include <stddef.h>

#include "base/status.h"

#define INIFILE_SEEN_MAX 256	/* distinct section/key pairs per file */

struct inifile;
/*
 * Called once per key (value may be "") and once per section header, with
 * key and value NULL, so that an unknown section is reported at its own line
 * even when it is empty.  Returns 0 to accept, or sets an error with
 * inifile_error and returns -1.
 */
typedef int (*inifile_fn)(struct inifile *f, const char *section,
    const char *key, const char *value);

struct inifile {
	const char *path;	/* for messages */
	const char *buf;
	size_t len, pos;
	int lineno;
	int errline;
	int too_long;
	int oom;		/* the error is out of memory: ST_OSERR */
	char err[CAP_MSG];
	inifile_fn fn;
	void *user;
	size_t nseen;
	char *seen[INIFILE_SEEN_MAX];
};

/* Parses buf; returns ST_OK or `errcode` with "FILE:LINE: message"
 * (ST_OSERR when out of memory, whatever errcode). */
int inifile_parse(const char *path, const char *buf, size_t len,
    inifile_fn fn, void *user, int errcode, struct status *st);
/* Records an error at the current line; returns -1. */
int inifile_error(struct inifile *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
