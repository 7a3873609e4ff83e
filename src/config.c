#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "inifile.h"
#include "text.h"

void
config_defaults(struct config *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->timeout = CONFIG_DEFAULT_TIMEOUT;
	c->on_terminating = ON_TERM_SKIP;
	c->imds = 1;
	text_copy(c->marker_path, CONFIG_DEFAULT_MARKER, sizeof(c->marker_path));
	text_copy(c->cloud_init_result, CONFIG_CLOUD_INIT_RESULT,
	    sizeof(c->cloud_init_result));
	text_copy(c->cloud_init_status, CONFIG_CLOUD_INIT_STATUS,
	    sizeof(c->cloud_init_status));
	c->tags_source = TAGS_AUTO;
	c->health_status = 200;
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
			    "(known: lifecycle marker tags health)", tok);
		c |= bit;
	}
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
	return inifile_error(f, "unknown key '%s' in [gate] (known: timeout "
	    "on_terminating imds)", k);
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
	if (strlen(k) >= sizeof(t->key) || strlen(k) > CAP_TAG_KEY)
		return inifile_error(f, "tag key too long");
	if (strlen(v) >= sizeof(t->glob))
		return inifile_error(f, "tag value pattern too long");
	t = &c->tags[c->ntags++];
	text_copy(t->key, k, sizeof(t->key));
	text_copy(t->glob, v, sizeof(t->glob));
	return 0;
}

static int
cf_health(struct inifile *f, struct config *c, const char *k, const char *v)
{
	c->has_health = 1;
	if (strcmp(k, "url") == 0) {
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0)
			return inifile_error(f, "url = '%s': expected http:// "
			    "or https://", v);
		if (strlen(v) >= sizeof(c->health_url))
			return inifile_error(f, "url too long");
		text_copy(c->health_url, v, sizeof(c->health_url));
		return 0;
	}
	if (strcmp(k, "status") == 0) {
		if (text_long(v, 100, 599, &c->health_status) != 0)
			return inifile_error(f, "status = '%s': expected an "
			    "HTTP status from 100 to 599", v);
		return 0;
	}
	if (strcmp(k, "body") == 0) {
		text_copy(c->health_body, v, sizeof(c->health_body));
		return 0;
	}
	return inifile_error(f, "unknown key '%s' in [health] (known: url "
	    "status body)", k);
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

	if (strcmp(sec, "gate") == 0)
		return cf_gate(f, c, k, v);
	if (strcmp(sec, "marker") == 0)
		return cf_marker(f, c, k, v);
	if (strcmp(sec, "tags") == 0)
		return cf_tags(f, c, k, v);
	if (strcmp(sec, "health") == 0)
		return cf_health(f, c, k, v);
	if ((ev = event_by_name(sec)) >= 0)
		return cf_event(f, &c->ev[ev], k, v);
	return inifile_error(f, "unknown section [%s] (known: gate marker "
	    "tags health, or an event name such as BeforeInstall)", sec);
}

int
config_load_file(struct config *c, const char *path, struct status *st)
{
	char *buf = NULL;
	size_t len;
	int absent, rc;

	rc = file_read(path, "config", CAP_CONFIG_FILE,
	    FILE_TRUSTED | FILE_TEXT, &buf, &len, NULL, &absent, st);
	if (rc != ST_OK)
		return st->code = ST_CONFIG;
	text_copy(c->path, path, sizeof(c->path));
	rc = inifile_parse(path, buf, len, config_handler, c, ST_CONFIG, st);
	free(buf);
	if (rc == ST_OK && c->has_health && c->health_url[0] == '\0')
		rc = status_set(st, ST_CONFIG, "%s: [health] needs a url",
		    path);
	return rc;
}

/* Tries one candidate: ST_OK when loaded, -1 when absent, else ST_CONFIG. */
static int
config_try(struct config *c, const char *path, struct status *st)
{
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return -1;
	return config_load_file(c, path, st);
}

static void
config_selfdir(const char *self, char *dir, size_t len)
{
	char exe[CAP_PATH];
	ssize_t n;

	if (self != NULL && strchr(self, '/') != NULL &&
	    strlen(self) < sizeof(exe)) {
		text_copy(exe, self, sizeof(exe));
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0) {
			dir[0] = '\0';
			return;
		}
		exe[n] = '\0';
	}
	file_dirname(exe, dir, len);
}

int
config_load(struct config *c, const char *self, struct status *st)
{
	char dir[CAP_PATH], parent[CAP_PATH], cand[CAP_PATH + 16];
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
	config_selfdir(self, dir, sizeof(dir));
	if (dir[0] != '\0') {
		if (snprintf(cand, sizeof(cand), "%s/cdgate.ini", dir) <
		    (int)sizeof(cand) && (rc = config_try(c, cand, st)) != -1)
			return rc;
		file_dirname(dir, parent, sizeof(parent));
		if (strcmp(parent, dir) != 0 &&
		    snprintf(cand, sizeof(cand), "%s/cdgate.ini", parent) <
		    (int)sizeof(cand) && (rc = config_try(c, cand, st)) != -1)
			return rc;
	}
	if ((rc = config_try(c, CONFIG_ETC, st)) != -1)
		return rc;
	return ST_OK;
}

unsigned
config_checks(const struct config *c, enum event ev)
{
	if (c->ev[ev].checks_set)
		return c->ev[ev].checks;
	return event_default_checks(ev, c->has_health);
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
