#include "base/inifile.h"

#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

int
inifile_error(struct inifile *f, const char *fmt, ...)
{
	char raw[CAP_MSG];
	va_list ap;

	if (f->errline != 0)
		return -1;	/* the first error wins */
	va_start(ap, fmt);
	if (vsnprintf(raw, sizeof(raw), fmt, ap) < 0)
		text_copy(raw, "error", sizeof(raw));
	va_end(ap);
	text_copy(f->err, raw, sizeof(f->err));
	f->errline = f->lineno;
	return -1;
}

/* Reports a "[name]" header line to the callback (key NULL). */
static void
inifile_section(struct inifile *f, const char *line)
{
	char name[CAP_INI_LINE + 1];
	const char *end;
	size_t n;

	if (f->lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;	/* a BOM, which inih skips too */
		while (*line == ' ' || *line == '\t')
			line++;
	}
	if (line[0] != '[' || f->errline != 0 ||
	    (end = strchr(line, ']')) == NULL)
		return;		/* not a header, or inih reports the syntax */
	n = (size_t)(end - line - 1);
	if (n >= sizeof(name))
		return;
	memcpy(name, line + 1, n);
	name[n] = '\0';
	f->fn(f, text_trim(name), NULL, NULL);
}

/*
 * inih reader over the buffer: one line per call, too-long lines refused.
 * A line may hold CAP_INI_LINE bytes before its "\n" or "\r\n" (the "\r"
 * is dropped here); str needs room for them, the "\n" and the NUL, and an
 * inih that offers less makes the limit smaller, never the line cut.
 */
static char *
inifile_reader(char *str, int num, void *stream)
{
	struct inifile *f = stream;
	size_t n = 0, max = CAP_INI_LINE;

	if (f->pos >= f->len || f->too_long)
		return NULL;
	f->lineno++;
	if (num < 3) {
		f->too_long = 1;
		inifile_error(f, "inih offers a line buffer of %d bytes", num);
		return NULL;
	}
	if ((size_t)num - 2 < max)
		max = (size_t)num - 2;
	/* leading blanks dropped: inih would take an indented line for the
	 * continuation of the previous value */
	while (f->pos < f->len && (f->buf[f->pos] == ' ' ||
	    f->buf[f->pos] == '\t'))
		f->pos++;
	while (f->pos < f->len && f->buf[f->pos] != '\n') {
		if (f->buf[f->pos] == '\r' && f->pos + 1 < f->len &&
		    f->buf[f->pos + 1] == '\n') {
			f->pos++;	/* CRLF: the "\r" is not part of the line */
			continue;
		}
		if (n >= max) {
			f->too_long = 1;
			inifile_error(f, "line longer than %zu bytes", max);
			return NULL;
		}
		str[n++] = f->buf[f->pos++];
	}
	if (f->pos < f->len)
		str[n++] = f->buf[f->pos++];	/* the newline */
	str[n] = '\0';
	inifile_section(f, str);
	return str;
}

static int
inifile_seen(struct inifile *f, const char *section, const char *key)
{
	size_t i, ls = strlen(section), lk = strlen(key);
	char *k;

	for (i = 0; i < f->nseen; i++)
		if (strncmp(f->seen[i], section, ls) == 0 &&
		    f->seen[i][ls] == '\0' &&
		    strcmp(f->seen[i] + ls + 1, key) == 0)
			return 1;
	if (f->nseen >= INIFILE_SEEN_MAX)
		return inifile_error(f, "more than %d keys",
		    INIFILE_SEEN_MAX), -1;
	if ((k = malloc(ls + lk + 2)) == NULL) {
		f->oom = 1;
		return inifile_error(f, "out of memory"), -1;
	}
	memcpy(k, section, ls + 1);
	memcpy(k + ls + 1, key, lk + 1);
	f->seen[f->nseen++] = k;
	return 0;
}

static int
inifile_handler(void *user, const char *section, const char *key,
    const char *value)
{
	struct inifile *f = user;
	int seen;

	if (f->errline != 0)
		return 0;
	if (*section == '\0')
		return inifile_error(f, "'%s' is outside any [section]", key),
		    0;
	if ((seen = inifile_seen(f, section, key)) != 0) {
		if (seen > 0)
			inifile_error(f, "'%s' is given twice in [%s]", key,
			    section);
		return 0;
	}
	return f->fn(f, section, key, value) == 0;
}

int
inifile_parse(const char *path, const char *buf, size_t len,
    inifile_fn fn, void *user, int errcode, struct status *st)
{
	struct inifile f;
	int line, rc = ST_OK;
	size_t i;

#ifdef CDGATE_INIH_RUNTIME
	/* Debian's libinih (since 41) makes its build options run-time
	 * settings: a heap line buffer that holds a whole CAP_INI_LINE line,
	 * its "\r\n" and the NUL.  Its fixed default (200 bytes) would refuse
	 * the long lines markers and configs legitimately hold.  With an inih
	 * built with fixed options (the Makefile's probe finds no such
	 * settings), the reader refuses lines longer than inih's buffer with
	 * a clear error instead: never a split line. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = ini_max_line = CAP_INI_LINE + 3;
#endif
	memset(&f, 0, sizeof(f));
	f.path = path;
	f.buf = buf;
	f.len = len;
	f.fn = fn;
	f.user = user;
	line = ini_parse_stream(inifile_reader, &f, inifile_handler, &f);
	/* inih goes on after a syntax error: the first error wins */
	if (line > 0 && (f.errline == 0 || line < f.errline))
		rc = status_set(st, errcode, "%s:%d: syntax error (expected "
		    "[section], key = value, or a ; comment)", path, line);
	else if (f.errline != 0)
		rc = status_set(st, f.oom ? ST_OSERR : errcode, "%s:%d: %s",
		    path, f.errline, f.err);
	else if (line < 0)
		rc = status_set(st, ST_OSERR, "%s: out of memory", path);
	for (i = 0; i < f.nseen; i++)
		free(f.seen[i]);
	return rc;
}
