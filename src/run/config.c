#include "run/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/inifile.h"
#include "base/text.h"
#include "fmt/history.h"

long
config_offset(size_t i)
{
	size_t off = 0, j;

	/* the confs one after the other, each aligned as the store is */
	for (j = 0; j < i && j < registry_count(); j++)
		off += (registry_at(j)->conf_size + 15) & ~(size_t)15;
	if (i >= registry_count() || off + registry_at(i)->conf_size >
	    CONFIG_STORE)
		return -1;
	return (long)off;
}

const void *
config_conf(const struct config *c, const struct check_def *d)
{
	size_t i;

	for (i = 0; i < registry_count(); i++)
		if (registry_at(i) == d)
			return c->store + config_offset(i);
	return NULL;
}

static void *
config_conf_at(struct config *c, size_t i)
{
	return c->store + config_offset(i);
}

/*
 * Every check's conf fits in the store: else a build error (CONFIG_STORE
 * too small for the registry; test_registry.c fails on it first), refused
 * before any conf is used.
 */
static int
config_store_ok(struct status *st)
{
	if (config_offset(registry_count() - 1) < 0)
		return status_set(st, ST_SOFTWARE, "the checks' settings do "
		    "not fit in CONFIG_STORE (%d bytes): cdgate was built "
		    "wrong", CONFIG_STORE);
	return ST_OK;
}

void
config_defaults(struct config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->timeout = CONFIG_DEFAULT_TIMEOUT;
	c->imds = 1;
	text_copy(c->history, HISTORY_DEFAULT, sizeof(c->history));
	c->history_max = HISTORY_DEFAULT_MAX;
	for (i = 0; i < registry_count(); i++)
		if (registry_at(i)->defaults != NULL && config_offset(i) >= 0)
			registry_at(i)->defaults(config_conf_at(c, i));
}

/* value parsers: 0 on success, else inifile_error */

static int
cf_timeout(struct inifile *f, const char *v, long *out)
{
	if (text_long(v, 1, CONFIG_MAX_TIMEOUT, out) != 0)
		return inifile_error(f, "timeout = '%s': expected whole "
		    "seconds from 1 to %d (the appspec maximum)", v,
		    CONFIG_MAX_TIMEOUT);
	return 0;
}

static int
cf_checks(struct inifile *f, const char *v, unsigned *out)
{
	char buf[CAP_VALUE], *tok, *save = NULL, names[256];
	unsigned bit, c = 0;

	registry_list(registry_all(), names, sizeof(names));
	text_copy(buf, v, sizeof(buf));
	for (tok = strtok_r(buf, " ,\t", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,\t", &save)) {
		if ((bit = registry_bit(tok)) == 0)
			return inifile_error(f, "checks: unknown check '%s' "
			    "(known: %s)", tok, names);
		c |= bit;
	}
	if (c == 0)
		return inifile_error(f, "checks is empty; name at least one "
		    "check (%s)", names);
	*out = c;
	return 0;
}

/*
 * A key of [gate] (where CHECK_IN_GATE) or of an event section: the checks'
 * handlers first, in registry order; CHECK_KEY_NOT_MINE when none took it.
 */
static int
cf_check_keys(struct inifile *f, struct config *c, int where, const char *k,
    const char *v)
{
	const struct check_def *d;
	size_t i;
	int r;

	for (i = 0; i < registry_count(); i++) {
		d = registry_at(i);
		if (d->key == NULL || (where == CHECK_IN_GATE ?
		    d->gate_keys : d->event_keys) == NULL)
			continue;
		if ((r = d->key(config_conf_at(c, i), f, where, k, v)) !=
		    CHECK_KEY_NOT_MINE)
			return r;
	}
	return CHECK_KEY_NOT_MINE;
}

/* Appends " words" to buf when it fits whole. */
static void
cf_append(char *buf, size_t len, const char *words)
{
	size_t used = strlen(buf);

	if (used + 1 + strlen(words) < len)
		snprintf(buf + used, len - used, " %s", words);
}

/* "timeout imds history history_max on_terminating ..." */
static void
cf_known(char *buf, size_t len, const char *own, int where)
{
	const struct check_def *d;
	const char *more;
	size_t i;

	text_copy(buf, own, len);
	for (i = 0; i < registry_count(); i++) {
		d = registry_at(i);
		more = where == CHECK_IN_GATE ? d->gate_keys : d->event_keys;
		if (more != NULL)
			cf_append(buf, len, more);
	}
}

static int
cf_gate(struct inifile *f, struct config *c, const char *k, const char *v)
{
	char known[CAP_MSG / 2];
	int r;

	if (strcmp(k, "timeout") == 0)
		return cf_timeout(f, v, &c->timeout);
	if (strcmp(k, "imds") == 0)
		return check_bool(f, k, v, &c->imds);
	if (strcmp(k, "history") == 0 && (strcmp(v, "none") == 0 ||
	    strcmp(v, "no") == 0)) {
		c->history[0] = '\0';
		return 0;
	}
	if (strcmp(k, "history") == 0)
		return check_path(f, k, v, c->history, sizeof(c->history));
	if (strcmp(k, "history_max") == 0) {
		if (text_long(v, HISTORY_MIN_MAX, HISTORY_MAX_MAX,
		    &c->history_max) != 0)
			return inifile_error(f, "history_max = '%s': expected "
			    "bytes from %ld to %ld", v, HISTORY_MIN_MAX,
			    HISTORY_MAX_MAX);
		return 0;
	}
	if ((r = cf_check_keys(f, c, CHECK_IN_GATE, k, v)) !=
	    CHECK_KEY_NOT_MINE)
		return r;
	cf_known(known, sizeof(known), "timeout imds history history_max",
	    CHECK_IN_GATE);
	return inifile_error(f, "unknown key '%s' in [gate] (known: %s)", k,
	    known);
}

static int
cf_event(struct inifile *f, struct config *c, int ev, const char *k,
    const char *v)
{
	struct config_event *e = &c->ev[ev];
	char known[CAP_MSG / 2];
	int r;

	if (strcmp(k, "checks") == 0) {
		e->checks_set = 1;
		return cf_checks(f, v, &e->checks);
	}
	if (strcmp(k, "timeout") == 0)
		return cf_timeout(f, v, &e->timeout);
	if ((r = cf_check_keys(f, c, ev, k, v)) != CHECK_KEY_NOT_MINE)
		return r;
	cf_known(known, sizeof(known), "checks timeout", ev);
	return inifile_error(f, "unknown key '%s' in an event section "
	    "(known: %s)", k, known);
}

/* A key of a check's own section. */
static int
cf_section(struct inifile *f, struct config *c, int i, const char *k,
    const char *v)
{
	const struct check_def *d = registry_at((size_t)i);
	int r;

	c->configured |= 1u << i;
	r = d->key(config_conf_at(c, (size_t)i), f, CHECK_IN_SECTION, k, v);
	if (r != CHECK_KEY_NOT_MINE)
		return r;
	return inifile_error(f, "unknown key '%s' in [%s] (known: %s)", k,
	    d->section, d->keys);
}

/* "gate marker tags health drain" */
static void
cf_sections(char *buf, size_t len)
{
	const struct check_def *d;
	size_t i;

	text_copy(buf, "gate", len);
	for (i = 0; i < registry_count(); i++) {
		d = registry_at(i);
		if (d->section != NULL)
			cf_append(buf, len, d->section);
	}
}

static int
config_handler(struct inifile *f, const char *sec, const char *k,
    const char *v)
{
	struct config *c = f->user;
	char known[CAP_MSG / 2];
	int ev, i;

	i = registry_by_section(sec);
	ev = event_by_name(sec);
	if (strcmp(sec, "gate") != 0 && i < 0 && ev < 0) {
		cf_sections(known, sizeof(known));
		return inifile_error(f, "unknown section [%s] (known: %s, or "
		    "an event name such as BeforeInstall)", sec, known);
	}
	if (k == NULL) {	/* a section header: a check's counts as set */
		if (i >= 0)
			c->configured |= 1u << i;
		return 0;
	}
	if (strcmp(sec, "gate") == 0)
		return cf_gate(f, c, k, v);
	if (i >= 0)
		return cf_section(f, c, i, k, v);
	return cf_event(f, c, ev, k, v);
}

/*
 * A directory searched for cdgate.ini must be trusted as the marker's is
 * (file_dir_trusted): whoever else could write it could remove or replace
 * the cdgate.ini there, and the program would run on another file or on
 * the built-in defaults.  So it is checked whether a cdgate.ini is there or
 * not.  A directory that does not exist is skipped when may_be_absent.
 */
static int
config_dir_ok(const char *dir, int may_be_absent, struct status *st)
{
	char why[CAP_MSG];
	struct stat sb;

	if (may_be_absent && stat(dir, &sb) == -1 && errno == ENOENT)
		return ST_OK;
	if (file_dir_trusted(dir, "config", st) != ST_OK) {
		text_copy(why, st->msg, sizeof(why));
		return status_set(st, ST_CONFIG, "another user could remove "
		    "or replace a cdgate.ini there: %s", why);
	}
	return ST_OK;
}

/*
 * Each check validates its conf after the whole file.  One that will run
 * counts as configured even without its section (an event's checks list
 * names it): "checks = drain" with no ports is refused here, not passed.
 */
static int
config_validate(struct config *c, const char *path, struct status *st)
{
	unsigned used = c->configured;
	size_t i;
	int rc = ST_OK;

	for (i = 0; i < EV_COUNT; i++)
		if (c->ev[i].checks_set)
			used |= c->ev[i].checks;
	for (i = 0; rc == ST_OK && i < registry_count(); i++)
		if (registry_at(i)->validate != NULL)
			rc = registry_at(i)->validate(config_conf_at(c, i),
			    (used >> i) & 1, path, st);
	return rc;
}

int
config_load_file(struct config *c, const char *path, struct status *st)
{
	char *dir, *buf = NULL;
	size_t len;
	int absent, rc;

	if (config_store_ok(st) != ST_OK)
		return ST_SOFTWARE;
	rc = file_read(path, "config", CAP_CONFIG_FILE,
	    FILE_TRUSTED | FILE_TEXT, &buf, &len, NULL, &absent, st);
	if (rc != ST_OK)	/* out of memory or descriptors stays 71 */
		return st->code = rc == ST_OSERR ? ST_OSERR : ST_CONFIG;
	/* on the heap: no frame over 4 KiB (Makefile, FRAME_WARN) */
	if ((dir = malloc(CAP_PATH)) == NULL) {
		free(buf);
		return status_set(st, ST_OSERR, "out of memory");
	}
	/* whoever could write its directory could replace it (-c and
	 * CDGATE_CONFIG too; the search checks each directory first) */
	file_dirname(path, dir, CAP_PATH);
	rc = config_dir_ok(dir, 0, st);
	free(dir);
	if (rc != ST_OK) {
		free(buf);
		return ST_CONFIG;
	}
	text_copy(c->path, path, sizeof(c->path));
	rc = inifile_parse(path, buf, len, config_handler, c, ST_CONFIG, st);
	free(buf);
	return rc == ST_OK ? config_validate(c, path, st) : rc;
}

/* Tries one candidate: ST_OK when loaded, -1 when absent, else ST_CONFIG. */
static int
config_try(struct config *c, const char *path, struct status *st)
{
	struct stat sb;

	/* lstat: a dangling link is not "absent" but refused by file_read */
	if (lstat(path, &sb) == -1 && errno == ENOENT)
		return -1;
	return config_load_file(c, path, st);
}

/*
 * The directory of the program: of exe when given (the unit tests), else
 * of /proc/self/exe, never of argv[0] or the working directory, which the
 * caller chooses (a symbolic link, exec -a, ./hook from another cwd);
 * path is scratch of CAP_PATH bytes.
 * ST_OK, or ST_CONFIG when it cannot be known: the program's own
 * cdgate.ini could then be skipped, so it does not run without one.
 */
static int
config_selfdir(const char *exe, char *path, char *dir, size_t len,
    struct status *st)
{
	static const char deleted[] = " (deleted)";
	char *real;
	size_t n;
	ssize_t r;

	if (exe != NULL) {
		if (text_copy(path, exe, CAP_PATH) >= CAP_PATH)
			return status_set(st, ST_CONFIG, "program path '%s' is "
			    "too long", exe);
	} else {
		r = readlink("/proc/self/exe", path, CAP_PATH - 1);
		if (r <= 0 || (size_t)r >= CAP_PATH - 1)
			return status_set(st, ST_CONFIG, "cannot read "
			    "/proc/self/exe (%s), so the cdgate.ini beside "
			    "this program cannot be found; mount /proc, or "
			    "give -c or CDGATE_CONFIG", r <= 0 ?
			    strerror(errno) : "path too long");
		path[r] = '\0';
		n = strlen(path);
		if (path[0] != '/' || (n > sizeof(deleted) - 1 &&
		    strcmp(path + n - (sizeof(deleted) - 1), deleted) == 0))
			return status_set(st, ST_CONFIG, "this program's file "
			    "'%s' was removed or replaced while it started, so "
			    "its cdgate.ini cannot be found; run it again",
			    path);
	}
	file_dirname(path, dir, len);
	/* a relative exe (tests): "." has no parent to search; resolve it */
	if (dir[0] != '/') {
		if ((real = realpath(dir, NULL)) == NULL)
			return status_set(st, ST_CONFIG, "cannot resolve the "
			    "directory '%s' of the program: %s", dir,
			    strerror(errno));
		text_copy(dir, real, len);
		free(real);
	}
	return ST_OK;
}

/* Tries dir/cdgate.ini after checking dir: as config_try. */
static int
config_try_in(struct config *c, const char *dir, struct status *st)
{
	enum { CAND_LEN = CAP_PATH + 16 };
	char *cand;
	int rc;

	/* on the heap: no frame over 4 KiB (Makefile, FRAME_WARN) */
	if ((cand = malloc(CAND_LEN)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	if (snprintf(cand, CAND_LEN, "%s/cdgate.ini", dir) >= CAND_LEN)
		rc = status_set(st, ST_CONFIG, "directory '%s': path too "
		    "long", dir);
	else if (config_dir_ok(dir, 0, st) != ST_OK)
		rc = ST_CONFIG;
	else
		rc = config_try(c, cand, st);
	free(cand);
	return rc;
}

/* config_load's directories: on the heap, no frame over 4 KiB (Makefile,
 * FRAME_WARN). */
struct config_search {
	char dir[CAP_PATH], parent[CAP_PATH];
	char path[CAP_PATH];		/* config_selfdir's scratch */
};

int
config_load(struct config *c, const char *exe, struct status *st)
{
	/* file_dirname's result is never longer than its path, or "." */
	char etc[sizeof(CONFIG_ETC)];
	struct config_search *s;
	const char *env = getenv("CDGATE_CONFIG");
	int rc;

	config_defaults(c);
	if (config_store_ok(st) != ST_OK)
		return ST_SOFTWARE;
	if (env != NULL && env[0] != '\0') {
		if (strlen(env) >= CAP_PATH)
			return status_set(st, ST_CONFIG, "CDGATE_CONFIG is "
			    "too long");
		if ((rc = config_try(c, env, st)) == -1)
			return status_set(st, ST_CONFIG, "config '%s' (from "
			    "CDGATE_CONFIG) does not exist", env);
		return rc;
	}
	if ((s = malloc(sizeof(*s))) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	if (config_selfdir(exe, s->path, s->dir, sizeof(s->dir), st) !=
	    ST_OK) {
		rc = ST_CONFIG;
		goto out;
	}
	if ((rc = config_try_in(c, s->dir, st)) != -1)
		goto out;
	file_dirname(s->dir, s->parent, sizeof(s->parent));
	if (strcmp(s->parent, s->dir) != 0 &&
	    (rc = config_try_in(c, s->parent, st)) != -1)
		goto out;
	file_dirname(CONFIG_ETC, etc, sizeof(etc));
	if (config_dir_ok(etc, 1, st) != ST_OK)
		rc = ST_CONFIG;
	else if ((rc = config_try(c, CONFIG_ETC, st)) == -1)
		rc = ST_OK;
out:
	free(s);
	return rc;
}

int
config_load_for(struct config *c, const char *path, struct status *st)
{
	if (path == NULL)
		return config_load(c, NULL, st);
	config_defaults(c);
	return config_load_file(c, path, st);
}

unsigned
config_checks(const struct config *c, enum event ev)
{
	const struct check_def *d;
	unsigned checks = 0;
	size_t i;

	if (c->ev[ev].checks_set)
		return c->ev[ev].checks;
	for (i = 0; i < registry_count(); i++) {
		d = registry_at(i);
		if ((d->default_events & CHECK_EVENT(ev)) &&
		    (!d->default_if_configured || (c->configured >> i) & 1))
			checks |= 1u << i;
	}
	return checks;
}

long
config_timeout(const struct config *c, enum event ev)
{
	return c->ev[ev].timeout > 0 ? c->ev[ev].timeout : c->timeout;
}
