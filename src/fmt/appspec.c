/*
 * appspec.c: the appspec a hook runs under; the rules are stated in
 * appspec.h.
 */
#include "fmt/appspec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "base/file.h"
#include "base/mono.h"
#include "base/text.h"

/* The parser's state: the current event and what it is filling. */
struct ap {
	yaml_parser_t p;
	yaml_event_t ev;
	int have_ev;		/* ev must be deleted */
	const char *path;
	const char *event;
	struct appspec_doc *d;
	struct status *st;
	size_t events;
	int depth;
};

static unsigned long
ap_line(const struct ap *a)
{
	return (unsigned long)a->ev.start_mark.line + 1;
}

static int ap_err(struct ap *, unsigned long, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
ap_err(struct ap *a, unsigned long line, const char *fmt, ...)
{
	char msg[CAP_MSG];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		text_copy(msg, "(message could not be formatted)",
		    sizeof(msg));
	va_end(ap);
	return status_set(a->st, ST_CONFIG, "appspec '%s' line %lu: %s",
	    a->path, line, msg);
}

/* The next event into a->ev; refuses aliases, anchors, too many events
 * and too deep a nesting.  ST_OK or ST_CONFIG. */
static int
ap_next(struct ap *a)
{
	const char *anchor = NULL;

	if (a->have_ev) {
		yaml_event_delete(&a->ev);
		a->have_ev = 0;
	}
	if (!yaml_parser_parse(&a->p, &a->ev)) {
		unsigned long line = (unsigned long)a->p.problem_mark.line + 1;

		if (a->p.error == YAML_MEMORY_ERROR)
			return status_set(a->st, ST_OSERR, "appspec '%s': out "
			    "of memory", a->path);
		return status_set(a->st, ST_CONFIG, "appspec '%s' line %lu: "
		    "not valid YAML: %s%s%s", a->path, line,
		    a->p.problem ? a->p.problem : "parse error",
		    a->p.context ? " " : "", a->p.context ? a->p.context : "");
	}
	a->have_ev = 1;
	if (++a->events > CAP_APPSPEC_EVENTS)
		return ap_err(a, ap_line(a), "too complex (more than %d YAML "
		    "events)", CAP_APPSPEC_EVENTS);
	switch (a->ev.type) {
	case YAML_ALIAS_EVENT:
		return ap_err(a, ap_line(a), "an alias (*%.40s): anchors and "
		    "aliases are not accepted in an appspec",
		    (const char *)a->ev.data.alias.anchor);
	case YAML_SCALAR_EVENT:
		anchor = (const char *)a->ev.data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)a->ev.data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)a->ev.data.mapping_start.anchor;
		break;
	default:
		break;
	}
	if (anchor != NULL)
		return ap_err(a, ap_line(a), "an anchor (&%.40s): anchors and "
		    "aliases are not accepted in an appspec", anchor);
	if (a->ev.type == YAML_SEQUENCE_START_EVENT ||
	    a->ev.type == YAML_MAPPING_START_EVENT) {
		if (++a->depth > CAP_APPSPEC_DEPTH)
			return ap_err(a, ap_line(a), "nested more than %d "
			    "levels deep", CAP_APPSPEC_DEPTH);
	} else if (a->ev.type == YAML_SEQUENCE_END_EVENT ||
	    a->ev.type == YAML_MAPPING_END_EVENT)
		a->depth--;
	return ST_OK;
}

/* Skips the node that starts at the current event (a scalar, or a whole
 * sequence or mapping). */
static int
ap_skip(struct ap *a)
{
	int depth = a->depth, rc;

	if (a->ev.type != YAML_SEQUENCE_START_EVENT &&
	    a->ev.type != YAML_MAPPING_START_EVENT)
		return ST_OK;
	while (a->depth >= depth)
		if ((rc = ap_next(a)) != ST_OK)
			return rc;
	return ST_OK;
}

static const char *
ap_scalar(const struct ap *a)
{
	return (const char *)a->ev.data.scalar.value;
}

/* The current event is the scalar want, exactly (a "\0" escape in a
 * quoted key does not make "location\0x" a location). */
static int
ap_is(const struct ap *a, const char *want)
{
	return a->ev.type == YAML_SCALAR_EVENT &&
	    a->ev.data.scalar.length == strlen(want) &&
	    memcmp(a->ev.data.scalar.value, want, strlen(want)) == 0;
}

/* A plain scalar that YAML reads as null: nothing given. */
static int
ap_null(const struct ap *a)
{
	const char *v = ap_scalar(a);

	if (a->ev.type != YAML_SCALAR_EVENT ||
	    a->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return v[0] == '\0' || strcmp(v, "~") == 0 ||
	    strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0;
}

/* An explicit tag (!!str, !ruby/...) changes what a value means. */
static int
ap_tagged(const struct ap *a)
{
	return a->ev.type == YAML_SCALAR_EVENT && a->ev.data.scalar.tag !=
	    NULL;
}

/* The timeout of an entry, from the current event. */
static void
ap_timeout(struct ap *a, struct appspec_entry *e)
{
	const char *v = ap_scalar(a);
	size_t i, n;
	long t = 0;

	e->tline = ap_line(a);
	if (a->ev.type != YAML_SCALAR_EVENT) {
		snprintf(e->bad, sizeof(e->bad), "timeout is a %s, not a "
		    "number of seconds", a->ev.type ==
		    YAML_MAPPING_START_EVENT ? "mapping" : "list");
		return;
	}
	n = a->ev.data.scalar.length;	/* a NUL inside is not a digit */
	if (ap_null(a))
		snprintf(e->bad, sizeof(e->bad), "timeout has no value");
	else if (ap_tagged(a))
		snprintf(e->bad, sizeof(e->bad), "timeout has an explicit "
		    "YAML tag");
	else if (n == 0 || v[0] < '1' || v[0] > '9' ||
	    strspn(v, "0123456789") != n) {
		char shown[48];

		text_clean(shown, sizeof(shown), v, n);
		snprintf(e->bad, sizeof(e->bad), "timeout '%s' is not a "
		    "positive whole number of seconds", shown);
	}
	if (e->bad[0] != '\0')
		return;
	for (i = 0; i < n && t <= APPSPEC_TIMEOUT_MAX; i++)
		t = t * 10 + (v[i] - '0');
	e->timeout = t > APPSPEC_TIMEOUT_MAX ? APPSPEC_TIMEOUT_MAX : t;
}

/* One entry of the event's list; the current event starts it. */
static int
ap_entry(struct ap *a)
{
	struct appspec_entry *e;
	unsigned long loc_line = 0, line = ap_line(a);
	int rc, seen_timeout = 0;

	if (a->ev.type != YAML_MAPPING_START_EVENT)
		return ap_err(a, line, "an entry under %s is not a mapping "
		    "with a location", a->event);
	if (a->d->n >= CAP_APPSPEC_ENTRIES)
		return ap_err(a, line, "more than %d scripts under %s",
		    CAP_APPSPEC_ENTRIES, a->event);
	e = &a->d->ent[a->d->n];
	memset(e, 0, sizeof(*e));
	e->line = line;
	e->tline = line;
	e->timeout = APPSPEC_DEFAULT_TIMEOUT;
	for (;;) {
		unsigned long kline;
		int is_loc, is_timeout;

		if ((rc = ap_next(a)) != ST_OK)
			return rc;
		if (a->ev.type == YAML_MAPPING_END_EVENT)
			break;
		kline = ap_line(a);
		is_loc = ap_is(a, "location");
		is_timeout = ap_is(a, "timeout");
		if ((rc = ap_skip(a)) != ST_OK || (rc = ap_next(a)) != ST_OK)
			return rc;
		if (is_loc) {
			if (loc_line != 0)
				return ap_err(a, kline, "location given twice "
				    "in one entry under %s (lines %lu and %lu)",
				    a->event, loc_line, kline);
			loc_line = kline;
			if (a->ev.type != YAML_SCALAR_EVENT || ap_null(a) ||
			    ap_tagged(a))
				return ap_err(a, kline, "location under %s is "
				    "not a plain path", a->event);
			if (ap_scalar(a)[0] == '\0')
				return ap_err(a, kline, "location under %s is "
				    "empty", a->event);
			if (strlen(ap_scalar(a)) != a->ev.data.scalar.length)
				return ap_err(a, kline, "location under %s "
				    "holds a NUL character", a->event);
			if (strlen(ap_scalar(a)) >= sizeof(e->location))
				return ap_err(a, kline, "location longer than "
				    "%zu bytes", sizeof(e->location) - 1);
			text_copy(e->location, ap_scalar(a),
			    sizeof(e->location));
		} else if (is_timeout && e->bad[0] == '\0') {
			/* the first problem is the one told, at its line */
			e->tline = kline;
			if (seen_timeout++)
				snprintf(e->bad, sizeof(e->bad), "timeout "
				    "given twice in one entry");
			else {
				e->has_timeout = 1;
				ap_timeout(a, e);
			}
		}
		if ((rc = ap_skip(a)) != ST_OK)
			return rc;
	}
	if (loc_line == 0)
		return ap_err(a, line, "an entry under %s has no location",
		    a->event);
	if (e->bad[0] != '\0')
		e->timeout = 0;
	a->d->n++;
	return ST_OK;
}

/* The value of hooks: -> event; the current event starts it. */
static int
ap_event(struct ap *a)
{
	int rc;

	a->d->has_event = 1;
	if (ap_null(a))
		return ST_OK;
	if (a->ev.type != YAML_SEQUENCE_START_EVENT)
		return ap_err(a, ap_line(a), "%s is not a list of scripts",
		    a->event);
	for (;;) {
		if ((rc = ap_next(a)) != ST_OK)
			return rc;
		if (a->ev.type == YAML_SEQUENCE_END_EVENT)
			return ST_OK;
		if ((rc = ap_entry(a)) != ST_OK)
			return rc;
	}
}

/* A mapping whose keys are looked at (the root, hooks): calls fn with the
 * value of key `want` (once; twice is an error), skips the rest. */
static int
ap_map(struct ap *a, const char *what, const char *want,
    int (*fn)(struct ap *))
{
	unsigned long seen = 0, kline;
	int rc, match;

	if (a->ev.type != YAML_MAPPING_START_EVENT)
		return ap_err(a, ap_line(a), "%s is not a mapping", what);
	for (;;) {
		if ((rc = ap_next(a)) != ST_OK)
			return rc;
		if (a->ev.type == YAML_MAPPING_END_EVENT)
			return ST_OK;
		kline = ap_line(a);
		match = ap_is(a, want);
		if ((rc = ap_skip(a)) != ST_OK || (rc = ap_next(a)) != ST_OK)
			return rc;
		if (match && seen != 0)
			return ap_err(a, kline, "%s given twice in %s (lines "
			    "%lu and %lu)", want, what, seen, kline);
		if (match) {
			seen = kline;
			if ((rc = fn(a)) != ST_OK)
				return rc;
		} else if ((rc = ap_skip(a)) != ST_OK)
			return rc;
	}
}

static int
ap_hooks(struct ap *a)
{
	if (ap_null(a))
		return ST_OK;
	return ap_map(a, "hooks", a->event, ap_event);
}

static int
ap_root(struct ap *a)
{
	return ap_map(a, "the appspec", "hooks", ap_hooks);
}

int
appspec_parse(const char *path, const char *buf, size_t len,
    const char *event, struct appspec_doc *d, struct status *st)
{
	struct ap a;
	int rc;

	memset(d, 0, sizeof(*d));
	memset(&a, 0, sizeof(a));
	a.path = path;
	a.event = event;
	a.d = d;
	a.st = st;
	if (!yaml_parser_initialize(&a.p))
		return status_set(st, ST_OSERR, "appspec '%s': out of memory",
		    path);
	yaml_parser_set_input_string(&a.p, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&a.p, YAML_UTF8_ENCODING);
	/* stream start, document start */
	if ((rc = ap_next(&a)) != ST_OK || (rc = ap_next(&a)) != ST_OK)
		goto out;
	if (a.ev.type == YAML_STREAM_END_EVENT) {
		rc = ap_err(&a, ap_line(&a), "empty: no hooks");
		goto out;
	}
	if ((rc = ap_next(&a)) != ST_OK)
		goto out;
	if (ap_null(&a)) {
		rc = ap_err(&a, ap_line(&a), "empty: no hooks");
		goto out;
	}
	if ((rc = ap_root(&a)) != ST_OK)
		goto out;
	/* document end, then the end of the stream: one document only */
	if ((rc = ap_next(&a)) != ST_OK || (rc = ap_next(&a)) != ST_OK)
		goto out;
	if (a.ev.type != YAML_STREAM_END_EVENT)
		rc = ap_err(&a, ap_line(&a), "a second YAML document: an "
		    "appspec is one document");
out:
	if (a.have_ev)
		yaml_event_delete(&a.ev);
	yaml_parser_delete(&a.p);
	if (rc != ST_OK) {
		d->n = 0;
		d->has_event = 0;
	}
	return rc;
}

/* dir/name into out; -1 when it does not fit. */
static int
ap_join(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s%s%s", dir, strcmp(dir, "/") == 0 ?
	    "" : "/", name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Reads and parses the appspec at path (root: its directory) and matches
 * its entries for event against the program self, or its dispatcher disp
 * (may be NULL); cand: CAP_PATH bytes to work in. */
static int
ap_match(const char *path, const char *root, const char *event,
    const struct stat *self, const struct stat *disp, struct appspec_result *r,
    char *cand, struct status *st)
{
	struct appspec_doc *d;
	struct stat sb;
	char *buf;
	const char *loc;
	size_t len, i;
	int absent, rc, via;

	rc = file_read(path, "appspec", CAP_APPSPEC_FILE, FILE_TRUSTED |
	    FILE_TEXT, &buf, &len, NULL, &absent, st);
	if (rc != ST_OK) {
		st->code = rc == ST_OSERR ? ST_OSERR : ST_CONFIG;
		return st->code;
	}
	if ((d = malloc(sizeof(*d))) == NULL) {
		free(buf);
		return status_set(st, ST_OSERR, "out of memory");
	}
	rc = appspec_parse(path, buf, len, event, d, st);
	free(buf);
	for (i = 0; rc == ST_OK && i < d->n; i++) {
		const struct appspec_entry *e = &d->ent[i];

		/* the agent joins archive root and location (File.join) */
		for (loc = e->location; *loc == '/'; loc++)
			;
		if (ap_join(cand, CAP_PATH, root, loc) != 0 ||
		    stat(cand, &sb) != 0)
			continue;
		if (sb.st_dev == self->st_dev && sb.st_ino == self->st_ino)
			via = 0;
		else if (disp != NULL && sb.st_dev == disp->st_dev &&
		    sb.st_ino == disp->st_ino)
			via = 1;
		else
			continue;
		if (e->bad[0] != '\0') {
			rc = status_set(st, ST_CONFIG, "appspec '%s' line %lu: "
			    "this program's entry under %s: %s", path, e->tline,
			    event, e->bad);
			break;
		}
		if (r->matched++ == 0 || e->timeout < r->timeout) {
			r->timeout = e->timeout;
			r->line = e->tline;
			r->defaulted = !e->has_timeout;
			r->via_dispatcher = via;
		}
	}
	free(d);
	return rc;
}

/* appspec_lookup's paths: on the heap, together 12 KiB. */
struct ap_paths {
	char dir[CAP_PATH], up[CAP_PATH], path[CAP_PATH];
};

/*
 * The dispatcher of a several-architecture revision (tools/bundle): the
 * program is DIR/ARCH/PROG with ARCH this machine's (uname -m), and
 * DIR/PROG, a regular file, is what the agent ran and what execs it.
 * Its file in *sb, 0; -1 when the program is not laid out so.  Works in
 * the buffers of p.
 */
static int
ap_dispatcher(const char *exe, struct stat *sb, struct ap_paths *p)
{
	struct utsname u;
	char *dir = p->dir, *top = p->up, *path = p->path;
	const char *arch, *prog = strrchr(exe, '/');

	if (prog == NULL || uname(&u) != 0)
		return -1;
	file_dirname(exe, dir, sizeof(p->dir));
	if ((arch = strrchr(dir, '/')) == NULL ||
	    strcmp(arch + 1, u.machine) != 0)
		return -1;
	file_dirname(dir, top, sizeof(p->up));
	if (ap_join(path, sizeof(p->path), top, prog + 1) != 0 ||
	    stat(path, sb) != 0 || !S_ISREG(sb->st_mode))
		return -1;
	return 0;
}

int
appspec_lookup(const char *exe, const char *event, struct appspec_result *r,
    struct status *st)
{
	static const char *const names[] = { "appspec.yml", "appspec.yaml" };
	struct stat self, sb, disp;
	struct ap_paths *p;
	char *dir, *up, *path;
	const char *base;
	size_t i;
	int level, have_disp, rc;

	memset(r, 0, sizeof(*r));
	status_clear(st);
	if (exe[0] != '/' || stat(exe, &self) != 0) {
		snprintf(r->why, sizeof(r->why), "the running program '%s' "
		    "cannot be found: %s", exe, exe[0] != '/' ? "not an "
		    "absolute path" : strerror(errno));
		return ST_OK;
	}
	if ((p = malloc(sizeof(*p))) == NULL)
		return status_set(st, ST_OSERR, "appspec: out of memory");
	dir = p->dir;
	up = p->up;
	path = p->path;
	have_disp = ap_dispatcher(exe, &disp, p) == 0;
	file_dirname(exe, dir, sizeof(p->dir));
	text_copy(r->from, dir, sizeof(r->from));
	for (level = 0; ; level++) {
		text_copy(r->upto, dir, sizeof(r->upto));
		r->levels = level + 1;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (ap_join(path, sizeof(p->path), dir, names[i]) !=
			    0) {
				rc = status_set(st, ST_CONFIG, "appspec: the "
				    "path of '%s' is too long", dir);
				goto out;
			}
			/* there, of any kind (a link too): file_read judges */
			if (lstat(path, &sb) != 0 && errno == ENOENT)
				continue;
			r->found = 1;
			text_copy(r->path, path, sizeof(r->path));
			rc = ap_match(path, dir, event, &self, have_disp ?
			    &disp : NULL, r, up, st);
			goto out;
		}
		base = strrchr(dir, '/');
		if (level >= APPSPEC_MAX_UP || strcmp(dir, "/") == 0 ||
		    (base != NULL && strcmp(base + 1, APPSPEC_ARCHIVE_DIR) ==
		    0))
			break;
		file_dirname(dir, up, sizeof(p->up));
		text_copy(dir, up, sizeof(p->dir));
	}
	status_clear(st);
	rc = ST_OK;
out:
	free(p);
	return rc;
}

int
appspec_find(const char *event, struct appspec_result *r, struct status *st)
{
	char *exe;
	ssize_t n;
	int rc;

	/* on the heap: with appspec_lookup's locals, over 4 KiB */
	if ((exe = malloc(CAP_PATH)) == NULL) {
		memset(r, 0, sizeof(*r));
		return status_set(st, ST_OSERR, "appspec: out of memory");
	}
	n = readlink("/proc/self/exe", exe, CAP_PATH - 1);
	if (n <= 0 || (size_t)n >= CAP_PATH - 1) {
		memset(r, 0, sizeof(*r));
		status_clear(st);
		snprintf(r->why, sizeof(r->why), "the running program's path "
		    "is unknown: readlink /proc/self/exe: %s", n < 0 ?
		    strerror(errno) : "too long");
		free(exe);
		return ST_OK;
	}
	exe[n] = '\0';
	rc = appspec_lookup(exe, event, r, st);
	free(exe);
	return rc;
}

int
appspec_deadline(long configured, const struct appspec_result *r,
    long *in_force, int *from_appspec, struct status *st)
{
	*in_force = configured;
	*from_appspec = 0;
	if (!r->matched)
		return ST_OK;
	if (r->timeout <= APPSPEC_MARGIN)
		return status_set(st, ST_CONFIG, "appspec '%s' line %lu: "
		    "timeout %lds leaves no time once cdgate keeps %ds to "
		    "report before it; make it at least %ds (configured "
		    "deadline %lds)", r->path, r->line,
		    r->timeout, APPSPEC_MARGIN, APPSPEC_MARGIN + 1, configured);
	if (r->timeout - APPSPEC_MARGIN < configured) {
		*in_force = r->timeout - APPSPEC_MARGIN;
		*from_appspec = 1;
	}
	return ST_OK;
}

/*
 * Appends to buf (len bytes) at *off as snprintf would, cut at the end
 * like one snprintf of the whole; -1 when formatting fails.
 */
static int ap_addf(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
ap_addf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len == 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	*off = (size_t)n >= len - *off ? len - 1 : *off + (size_t)n;
	return 0;
}

/*
 * Written straight into buf, piece by piece: the text in the middle, made
 * apart first, took a buffer of two paths, a frame over 4 KiB.
 */
void
appspec_describe(const struct appspec_result *r, const char *event,
    long configured, long in_force, char *buf, size_t len)
{
	size_t off = 0, mid;
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (ap_addf(buf, len, &off, "configured %lds; ", configured) != 0)
		goto fail;
	mid = off;
	if (r->matched)
		n = ap_addf(buf, len, &off, "appspec '%s' line %lu: "
		    "timeout %lds%s%s", r->path, r->line, r->timeout,
		    r->defaulted ? " (none given: the agent's default)" : "",
		    r->via_dispatcher ? " (the entry of its dispatcher)" : "");
	else if (r->found)
		n = ap_addf(buf, len, &off, "appspec '%s' has no entry "
		    "for this program under %s", r->path, event);
	else if (r->why[0] != '\0')
		n = ap_addf(buf, len, &off, "no appspec found (%s)",
		    r->why);
	else
		n = ap_addf(buf, len, &off, "no appspec found (looked "
		    "in %d director%s, from the program's up to '%s')",
		    r->levels, r->levels == 1 ? "y" : "ies", r->upto);
	if (n != 0) {
		off = mid;
		if (ap_addf(buf, len, &off, "appspec unknown") != 0)
			goto fail;
	}
	if (ap_addf(buf, len, &off, "; in force %lds%s", in_force,
	    in_force < configured ? " (the appspec timeout less "
	    APPSPEC_MARGIN_TEXT " to report)" : "") != 0)
		goto fail;
	return;
fail:
	text_copy(buf, "configured", len);
}

int64_t
appspec_spawned_ms(void)
{
	char buf[1024], *p;
	struct timespec ts;
	unsigned long long ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int64_t now = mono_ms(), age;
	ssize_t n;
	int fd, field;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return now;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return now;
	buf[n] = '\0';
	/* after "pid (comm) ": field 3 (state) on; starttime is field 22 */
	if ((p = strrchr(buf, ')')) == NULL)
		return now;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || p[1] < '0' || p[1] > '9')
		return now;
	for (p++; *p >= '0' && *p <= '9' && ticks < (1ULL << 50); p++)
		ticks = ticks * 10 + (unsigned long long)(*p - '0');
	age = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
	    (int64_t)(ticks * 1000 / (unsigned long long)hz);
	if (age < 0)
		age = 0;
	if (age > APPSPEC_SPAWN_MAX_MS)
		age = APPSPEC_SPAWN_MAX_MS;
	return now - age;
}
