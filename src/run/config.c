#include "run/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "fmt/history.h"
#include "base/inifile.h"
#include "base/text.h"

void
config_defaults(struct config *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->timeout = CONFIG_DEFAULT_TIMEOUT;
	c->on_terminating = ON_TERM_SKIP;
	c->imds = 1;
	/* check: see lifecycle.h for why these states run the checks */
	c->on_standby = c->on_detached = c->on_warmed = ON_STATE_CHECK;
	text_copy(c->history, HISTORY_DEFAULT, sizeof(c->history));
	c->history_max = HISTORY_DEFAULT_MAX;
	text_copy(c->marker_path, CONFIG_DEFAULT_MARKER, sizeof(c->marker_path));
	text_copy(c->cloud_init_result, CONFIG_CLOUD_INIT_RESULT,
	    sizeof(c->cloud_init_result));
	text_copy(c->cloud_init_status, CONFIG_CLOUD_INIT_STATUS,
	    sizeof(c->cloud_init_status));
	c->tags_source = TAGS_AUTO;
	text_copy(c->health_status, "200", sizeof(c->health_status));
	c->health_request_ms = HEALTH_REQUEST_MS;
	c->health_successes = 1;
	c->health_interval_ms = HEALTH_INTERVAL_MS;
	c->health_interval_max_ms = HEALTH_INTERVAL_MAX_MS;
	c->drain_on_timeout = DRAIN_PASS;
	for (i = 0; i < EV_COUNT; i++)
		c->ev[i].on_terminating = -1;
}

/* value parsers: 0 on success, else inifile_error */

static int
cf_bool(struct inifile *f, const char *key, const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return inifile_error(f, "%s = '%s': expected yes or no", key,
		    v);
	return 0;
}

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
cf_on_term(struct inifile *f, const char *v, int *out)
{
	if (strcmp(v, "skip") == 0)
		*out = ON_TERM_SKIP;
	else if (strcmp(v, "fail") == 0)
		*out = ON_TERM_FAIL;
	else
		return inifile_error(f, "on_terminating = '%s': expected skip "
		    "or fail", v);
	return 0;
}

static int
cf_on_state(struct inifile *f, const char *key, const char *v, int *out)
{
	if (strcmp(v, "check") == 0)
		*out = ON_STATE_CHECK;
	else if (strcmp(v, "skip") == 0)
		*out = ON_STATE_SKIP;
	else if (strcmp(v, "fail") == 0)
		*out = ON_STATE_FAIL;
	else
		return inifile_error(f, "%s = '%s': expected check, skip or "
		    "fail", key, v);
	return 0;
}

static int
cf_path(struct inifile *f, const char *key, const char *v, char *out,
    size_t len)
{
	if (v[0] != '/')
		return inifile_error(f, "%s = '%s': expected an absolute path",
		    key, v);
	if (strlen(v) >= len)
		return inifile_error(f, "%s: path too long", key);
	text_copy(out, v, len);
	return 0;
}

static int
cf_digest(struct inifile *f, const char *v, char *out, size_t len)
{
	size_t i;

	if (strncmp(v, "sha256:", 7) != 0 || strlen(v) != 7 + 64)
		return inifile_error(f, "digest = '%s': expected sha256: and "
		    "64 hex digits", v);
	for (i = 7; v[i] != '\0'; i++)
		if (!((v[i] >= '0' && v[i] <= '9') ||
		    (v[i] >= 'a' && v[i] <= 'f') ||
		    (v[i] >= 'A' && v[i] <= 'F')))
			return inifile_error(f, "digest = '%s': expected "
			    "sha256: and 64 hex digits", v);
	text_copy(out, v, len);
	for (i = 7; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'F')
			out[i] = (char)(out[i] - 'A' + 'a');
	return 0;
}

static int
cf_checks(struct inifile *f, const char *v, unsigned *out)
{
	char buf[CAP_VALUE], *tok, *save = NULL;
	unsigned bit, c = 0;

	text_copy(buf, v, sizeof(buf));
	for (tok = strtok_r(buf, " ,\t", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,\t", &save)) {
		if ((bit = check_by_name(tok)) == 0)
			return inifile_error(f, "checks: unknown check '%s' "
			    "(known: lifecycle marker tags health drain)", tok);
		c |= bit;
	}
	if (c == 0)
		return inifile_error(f, "checks is empty; name at least one "
		    "check (lifecycle marker tags health drain)");
	*out = c;
	return 0;
}

static int
cf_gate(struct inifile *f, struct config *c, const char *k, const char *v)
{
	if (strcmp(k, "timeout") == 0)
		return cf_timeout(f, v, &c->timeout);
	if (strcmp(k, "on_terminating") == 0)
		return cf_on_term(f, v, &c->on_terminating);
	if (strcmp(k, "imds") == 0)
		return cf_bool(f, k, v, &c->imds);
	if (strcmp(k, "on_standby") == 0)
		return cf_on_state(f, k, v, &c->on_standby);
	if (strcmp(k, "on_detached") == 0)
		return cf_on_state(f, k, v, &c->on_detached);
	if (strcmp(k, "on_warmed") == 0)
		return cf_on_state(f, k, v, &c->on_warmed);
	if (strcmp(k, "history") == 0 && (strcmp(v, "none") == 0 ||
	    strcmp(v, "no") == 0)) {
		c->history[0] = '\0';
		return 0;
	}
	if (strcmp(k, "history") == 0)
		return cf_path(f, k, v, c->history, sizeof(c->history));
	if (strcmp(k, "history_max") == 0) {
		if (text_long(v, HISTORY_MIN_MAX, HISTORY_MAX_MAX,
		    &c->history_max) != 0)
			return inifile_error(f, "history_max = '%s': expected "
			    "bytes from %ld to %ld", v, HISTORY_MIN_MAX,
			    HISTORY_MAX_MAX);
		return 0;
	}
	return inifile_error(f, "unknown key '%s' in [gate] (known: timeout "
	    "on_terminating on_standby on_detached on_warmed imds history "
	    "history_max)", k);
}

static int
cf_marker(struct inifile *f, struct config *c, const char *k, const char *v)
{
	if (strcmp(k, "path") == 0)
		return cf_path(f, k, v, c->marker_path, sizeof(c->marker_path));
	if (strcmp(k, "cloud_init") == 0)
		return cf_bool(f, k, v, &c->cloud_init);
	if (strcmp(k, "cloud_init_result") == 0)
		return cf_path(f, k, v, c->cloud_init_result,
		    sizeof(c->cloud_init_result));
	if (strcmp(k, "cloud_init_status") == 0)
		return cf_path(f, k, v, c->cloud_init_status,
		    sizeof(c->cloud_init_status));
	if (strcmp(k, "digest") == 0)
		return cf_digest(f, v, c->digest, sizeof(c->digest));
	return inifile_error(f, "unknown key '%s' in [marker] (known: path "
	    "cloud_init cloud_init_result cloud_init_status digest)", k);
}

static int
cf_tags(struct inifile *f, struct config *c, const char *k, const char *v)
{
	struct config_tag *t;

	if (strcmp(k, "source") == 0) {
		if (strcmp(v, "auto") == 0)
			c->tags_source = TAGS_AUTO;
		else if (strcmp(v, "imds") == 0)
			c->tags_source = TAGS_IMDS;
		else if (strcmp(v, "ec2") == 0)
			c->tags_source = TAGS_EC2;
		else
			return inifile_error(f, "source = '%s': expected auto, "
			    "imds or ec2", v);
		return 0;
	}
	if (c->ntags >= CAP_TAGS)
		return inifile_error(f, "more than %d required tags", CAP_TAGS);
	/* CAP_TAG_KEY counts characters */
	if (strlen(k) >= sizeof(t->key) || text_utf8_chars(k) > CAP_TAG_KEY)
		return inifile_error(f, "tag key too long");
	if (strlen(v) >= sizeof(t->glob))
		return inifile_error(f, "tag value pattern too long");
	t = &c->tags[c->ntags];
	if (text_pct_decode(k, t->key, sizeof(t->key)) != 0)
		return inifile_error(f, "tag key '%s': bad %%XX escape", k);
	text_copy(t->glob, v, sizeof(t->glob));
	c->ntags++;
	return 0;
}

/* A [health] list (url, tcp): validated by health.c's grammar. */
static int
cf_health_list(struct inifile *f, const char *k, const char *v,
    int (*parse)(const char *, struct health_target *, struct status *),
    size_t max, char *out, size_t len)
{
	struct status st;
	size_t n = 0;

	if (strlen(v) >= len)
		return inifile_error(f, "%s: too long", k);
	if (health_list_parse(k, v, parse, NULL, &n, max, &st) != ST_OK)
		return inifile_error(f, "%s", st.msg);
	text_copy(out, v, len);
	return 0;
}

static int
cf_health_ms(struct inifile *f, const char *k, const char *v, long *out)
{
	if (health_ms_parse(v, HEALTH_MS_MIN, HEALTH_MS_MAX, out) != 0)
		return inifile_error(f, "%s = '%s': expected seconds (5, 5s) "
		    "or milliseconds (500ms) from %dms to %ds", k, v,
		    HEALTH_MS_MIN, HEALTH_MS_MAX / 1000);
	return 0;
}

static int
cf_health_more(struct inifile *f, struct config *c, const char *k,
    const char *v)
{
	struct status st;
	int yes;

	if (strcmp(k, "follow_redirects") == 0) {
		if (text_long(v, 0, HEALTH_MAX_REDIRS, &c->health_redirects) ==
		    0)
			return 0;
		if (cf_bool(f, k, v, &yes) != 0)
			return inifile_error(f, "follow_redirects = '%s': "
			    "expected yes, no or a count up to %d", v,
			    HEALTH_MAX_REDIRS);
		c->health_redirects = yes ? HEALTH_MAX_REDIRS : 0;
		return 0;
	}
	if (strcmp(k, "ca_file") == 0)
		return cf_path(f, k, v, c->health_ca_file,
		    sizeof(c->health_ca_file));
	if (strncmp(k, "header.", 7) == 0) {
		if (c->health_nheaders >= HEALTH_MAX_HEADERS)
			return inifile_error(f, "more than %d header.NAME keys",
			    HEALTH_MAX_HEADERS);
		if (health_header_make(k + 7, v,
		    c->health_headers[c->health_nheaders],
		    sizeof(c->health_headers[0]), &st) != ST_OK)
			return inifile_error(f, "%s", st.msg);
		c->health_nheaders++;
		return 0;
	}
	return inifile_error(f, "unknown key '%s' in [health] (known: url tcp "
	    "status body header.NAME request_timeout successes interval "
	    "interval_max follow_redirects ca_file)", k);
}

static int
cf_health(struct inifile *f, struct config *c, const char *k, const char *v)
{
	struct health_codes codes;
	struct status st;

	c->has_health = 1;
	if (strcmp(k, "url") == 0)
		return cf_health_list(f, k, v, health_url_parse,
		    HEALTH_MAX_URLS, c->health_url, sizeof(c->health_url));
	if (strcmp(k, "tcp") == 0)
		return cf_health_list(f, k, v, health_tcp_parse,
		    HEALTH_MAX_TCP, c->health_tcp, sizeof(c->health_tcp));
	if (strcmp(k, "status") == 0) {
		if (health_codes_parse(v, &codes, &st) != ST_OK)
			return inifile_error(f, "%s", st.msg);
		text_copy(c->health_status, v, sizeof(c->health_status));
		return 0;
	}
	if (strcmp(k, "body") == 0) {
		text_copy(c->health_body, v, sizeof(c->health_body));
		return 0;
	}
	if (strcmp(k, "request_timeout") == 0)
		return cf_health_ms(f, k, v, &c->health_request_ms);
	if (strcmp(k, "interval") == 0)
		return cf_health_ms(f, k, v, &c->health_interval_ms);
	if (strcmp(k, "interval_max") == 0)
		return cf_health_ms(f, k, v, &c->health_interval_max_ms);
	if (strcmp(k, "successes") == 0) {
		if (text_long(v, 1, HEALTH_MAX_SUCCESSES,
		    &c->health_successes) != 0)
			return inifile_error(f, "successes = '%s': expected a "
			    "count from 1 to %d", v, HEALTH_MAX_SUCCESSES);
		return 0;
	}
	return cf_health_more(f, c, k, v);
}

static int
cf_drain(struct inifile *f, struct config *c, const char *k, const char *v)
{
	struct status st;

	c->has_drain = 1;
	if (strcmp(k, "ports") == 0) {
		if (drain_ports_parse(v, c->drain_ports, &c->ndrain_ports,
		    DRAIN_MAX_PORTS, &st) != ST_OK)
			return inifile_error(f, "%s", st.msg);
		return 0;
	}
	if (strcmp(k, "on_timeout") == 0) {
		if (strcmp(v, "pass") == 0)
			c->drain_on_timeout = DRAIN_PASS;
		else if (strcmp(v, "fail") == 0)
			c->drain_on_timeout = DRAIN_FAIL;
		else
			return inifile_error(f, "on_timeout = '%s': expected "
			    "pass or fail", v);
		return 0;
	}
	return inifile_error(f, "unknown key '%s' in [drain] (known: ports "
	    "on_timeout)", k);
}

static int
cf_event(struct inifile *f, struct config_event *e, const char *k,
    const char *v)
{
	if (strcmp(k, "checks") == 0) {
		e->checks_set = 1;
		return cf_checks(f, v, &e->checks);
	}
	if (strcmp(k, "timeout") == 0)
		return cf_timeout(f, v, &e->timeout);
	if (strcmp(k, "on_terminating") == 0)
		return cf_on_term(f, v, &e->on_terminating);
	return inifile_error(f, "unknown key '%s' in an event section "
	    "(known: checks timeout on_terminating)", k);
}

static int
config_handler(struct inifile *f, const char *sec, const char *k,
    const char *v)
{
	struct config *c = f->user;
	int ev;

	if (k == NULL) {	/* a section header */
		if (strcmp(sec, "gate") == 0 || strcmp(sec, "marker") == 0 ||
		    strcmp(sec, "tags") == 0 || strcmp(sec, "health") == 0 ||
		    strcmp(sec, "drain") == 0 || event_by_name(sec) >= 0)
			return 0;
		return inifile_error(f, "unknown section [%s] (known: gate "
		    "marker tags health drain, or an event name such as "
		    "BeforeInstall)", sec);
	}

	if (strcmp(sec, "gate") == 0)
		return cf_gate(f, c, k, v);
	if (strcmp(sec, "marker") == 0)
		return cf_marker(f, c, k, v);
	if (strcmp(sec, "tags") == 0)
		return cf_tags(f, c, k, v);
	if (strcmp(sec, "health") == 0)
		return cf_health(f, c, k, v);
	if (strcmp(sec, "drain") == 0)
		return cf_drain(f, c, k, v);
	if ((ev = event_by_name(sec)) >= 0)
		return cf_event(f, &c->ev[ev], k, v);
	return inifile_error(f, "unknown section [%s] (known: gate marker "
	    "tags health drain, or an event name such as BeforeInstall)", sec);
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

int
config_load_file(struct config *c, const char *path, struct status *st)
{
	char dir[CAP_PATH], *buf = NULL;
	size_t len;
	int absent, rc;

	rc = file_read(path, "config", CAP_CONFIG_FILE,
	    FILE_TRUSTED | FILE_TEXT, &buf, &len, NULL, &absent, st);
	if (rc != ST_OK)	/* out of memory or descriptors stays 71 */
		return st->code = rc == ST_OSERR ? ST_OSERR : ST_CONFIG;
	/* whoever could write its directory could replace it (-c and
	 * CDGATE_CONFIG too; the search checks each directory first) */
	file_dirname(path, dir, sizeof(dir));
	if (config_dir_ok(dir, 0, st) != ST_OK) {
		free(buf);
		return ST_CONFIG;
	}
	text_copy(c->path, path, sizeof(c->path));
	rc = inifile_parse(path, buf, len, config_handler, c, ST_CONFIG, st);
	free(buf);
	if (rc == ST_OK && c->has_drain && c->ndrain_ports == 0)
		rc = status_set(st, ST_CONFIG, "%s: [drain] needs ports, such "
		    "as ports = 80 443", path);
	if (rc == ST_OK && c->has_health && c->health_url[0] == '\0' &&
	    c->health_tcp[0] == '\0')
		rc = status_set(st, ST_CONFIG, "%s: [health] needs a url or a tcp",
		    path);
	return rc;
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
 * caller chooses (a symbolic link, exec -a, ./hook from another cwd).
 * ST_OK, or ST_CONFIG when it cannot be known: the program's own
 * cdgate.ini could then be skipped, so it does not run without one.
 */
static int
config_selfdir(const char *exe, char *dir, size_t len, struct status *st)
{
	static const char deleted[] = " (deleted)";
	char path[CAP_PATH], *real;
	size_t n;
	ssize_t r;

	if (exe != NULL) {
		if (text_copy(path, exe, sizeof(path)) >= sizeof(path))
			return status_set(st, ST_CONFIG, "program path '%s' is "
			    "too long", exe);
	} else {
		r = readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (r <= 0 || (size_t)r >= sizeof(path) - 1)
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
	char cand[CAP_PATH + 16];

	if (snprintf(cand, sizeof(cand), "%s/cdgate.ini", dir) >=
	    (int)sizeof(cand))
		return status_set(st, ST_CONFIG, "directory '%s': path too "
		    "long", dir);
	if (config_dir_ok(dir, 0, st) != ST_OK)
		return ST_CONFIG;
	return config_try(c, cand, st);
}

int
config_load(struct config *c, const char *exe, struct status *st)
{
	char dir[CAP_PATH], parent[CAP_PATH], etc[CAP_PATH];
	const char *env = getenv("CDGATE_CONFIG");
	int rc;

	config_defaults(c);
	if (env != NULL && env[0] != '\0') {
		if (strlen(env) >= CAP_PATH)
			return status_set(st, ST_CONFIG, "CDGATE_CONFIG is "
			    "too long");
		if ((rc = config_try(c, env, st)) == -1)
			return status_set(st, ST_CONFIG, "config '%s' (from "
			    "CDGATE_CONFIG) does not exist", env);
		return rc;
	}
	if (config_selfdir(exe, dir, sizeof(dir), st) != ST_OK)
		return ST_CONFIG;
	if ((rc = config_try_in(c, dir, st)) != -1)
		return rc;
	file_dirname(dir, parent, sizeof(parent));
	if (strcmp(parent, dir) != 0 &&
	    (rc = config_try_in(c, parent, st)) != -1)
		return rc;
	file_dirname(CONFIG_ETC, etc, sizeof(etc));
	if (config_dir_ok(etc, 1, st) != ST_OK)
		return ST_CONFIG;
	if ((rc = config_try(c, CONFIG_ETC, st)) != -1)
		return rc;
	return ST_OK;
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
	if (c->ev[ev].checks_set)
		return c->ev[ev].checks;
	return event_default_checks(ev, c->has_health, c->has_drain);
}

long
config_timeout(const struct config *c, enum event ev)
{
	return c->ev[ev].timeout > 0 ? c->ev[ev].timeout : c->timeout;
}

int
config_on_terminating(const struct config *c, enum event ev)
{
	return c->ev[ev].on_terminating >= 0 ? c->ev[ev].on_terminating :
	    c->on_terminating;
}
