/*
 * cloudinit.c: cloud-init's result.json and status.json; the rules it
 * keeps are stated in cloudinit.h.
 */
#include "fmt/cloudinit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/text.h"

/* Copies the text of j (a string's content, else its JSON) into dst. */
static void
json_text(char *dst, size_t len, struct json_object *j)
{
	const char *s;
	size_t n;

	if (json_object_is_type(j, json_type_string)) {
		s = json_object_get_string(j);
		n = (size_t)json_object_get_string_len(j);
	} else {
		s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
		n = s == NULL ? 0 : strlen(s);
	}
	text_clean(dst, len, s == NULL ? "" : s, n);
}

/* Reads all of fd, whose fstat size is size, into a malloc'd *buf. */
static int
read_fd(int fd, size_t size, const char *what, const char *path, char **buf,
    size_t *len, struct status *st)
{
	size_t got = 0;
	ssize_t n;
	char *b;
	int rc;

	*buf = NULL;
	if ((b = malloc(size + 2)) == NULL) {
		rc = status_set(st, ST_OSERR, "%s '%s' cannot be read: %s",
		    what, path, strerror(ENOMEM));
		goto out;
	}
	/* Room for one byte more than fstat said, to see a file grow. */
	while (got < size + 1) {
		n = read(fd, b + got, size + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = status_set(st, ST_OSERR,
			    "%s '%s' cannot be read: %s", what, path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != size) {
		rc = status_set(st, ST_FAIL,
		    "%s '%s' changed while being read", what, path);
		goto out;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	b = NULL;
	rc = ST_OK;
out:
	free(b);
	return rc;
}

/*
 * Opens path the doas way and reads it into a malloc'd, NUL-terminated
 * *buf.  ST_TIMEOUT when it does not exist.
 */
static int
read_file(const char *path, const char *what, char **buf, size_t *len,
    struct status *st)
{
	struct stat sb;
	int fd, rc;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY);
	if (fd == -1) {
		if (errno == ENOENT)
			return status_set(st, ST_TIMEOUT,
			    "%s '%s' does not exist", what, path);
		if (errno == ELOOP)
			return status_set(st, ST_FAIL,
			    "%s '%s' is a symbolic link", what, path);
		return status_set(st, status_sys(errno, ST_FAIL),
		    "%s '%s' cannot be opened: %s", what, path,
		    strerror(errno));
	}
	if (fstat(fd, &sb) == -1)
		rc = status_set(st, ST_OSERR, "%s '%s' cannot be examined: %s",
		    what, path, strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		rc = status_set(st, ST_FAIL, "%s '%s' is not a regular file",
		    what, path);
	else if (sb.st_uid != 0 && sb.st_uid != geteuid())
		rc = status_set(st, ST_FAIL,
		    "%s '%s' is owned by uid %lu, not by root", what, path,
		    (unsigned long)sb.st_uid);
	else if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		rc = status_set(st, ST_FAIL,
		    "%s '%s' is writable by group or others", what, path);
	else if (sb.st_size > CAP_JSON_FILE)
		rc = status_set(st, ST_FAIL,
		    "%s '%s' is larger than %d bytes", what, path,
		    CAP_JSON_FILE);
	else
		rc = read_fd(fd, (size_t)sb.st_size, what, path, buf, len, st);
	close(fd);
	return rc;
}

/* Only JSON whitespace in s[0..n)? */
static int
all_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

/* Parses buf[0..len) as one strict JSON value into *root (caller puts). */
static int
parse_json(const char *buf, size_t len, const char *what, const char *path,
    struct json_object **root, struct status *st)
{
	struct json_tokener *tok = NULL;
	struct json_object *j = NULL;
	enum json_tokener_error err;
	size_t end;
	int rc;

	*root = NULL;
	if (memchr(buf, '\0', len) != NULL) {
		rc = status_set(st, ST_FAIL, "%s '%s' holds a NUL byte", what,
		    path);
		goto out;
	}
	if ((tok = json_tokener_new_ex(CLOUDINIT_CAP_DEPTH)) == NULL) {
		rc = status_set(st, ST_OSERR, "%s '%s' cannot be parsed: %s",
		    what, path, strerror(ENOMEM));
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/* The terminating NUL (len + 1) tells json-c the input ends here. */
	j = json_tokener_parse_ex(tok, buf, (int)len + 1);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (j == NULL && (err == json_tokener_continue ||
	    err == json_tokener_error_parse_eof)) {
		rc = status_set(st, ST_FAIL, all_blank(buf, len) ?
		    "%s '%s' is empty" : "%s '%s' is truncated: the JSON ends "
		    "early", what, path);
		goto out;
	}
	if (j == NULL) {
		rc = status_set(st, ST_FAIL, "%s '%s' is not valid JSON: %s "
		    "at byte %zu", what, path, json_tokener_error_desc(err),
		    end);
		goto out;
	}
	if (end < len && !all_blank(buf + end, len - end)) {
		rc = status_set(st, ST_FAIL, "%s '%s' is not valid JSON: data "
		    "after the value at byte %zu", what, path, end);
		goto out;
	}
	*root = j;
	j = NULL;
	rc = ST_OK;
out:
	json_object_put(j);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

/* root."v1", which MUST be an object. */
static int
get_v1(struct json_object *root, const char *what, const char *path,
    struct json_object **v1, struct status *st)
{
	if (!json_object_is_type(root, json_type_object))
		return status_set(st, ST_FAIL, "%s '%s' is not a JSON object",
		    what, path);
	if (!json_object_object_get_ex(root, "v1", v1))
		return status_set(st, ST_FAIL, "%s '%s' has no \"v1\"", what,
		    path);
	if (!json_object_is_type(*v1, json_type_object))
		return status_set(st, ST_FAIL,
		    "%s '%s' has a \"v1\" that is not an object", what, path);
	return ST_OK;
}

static int
check_result(struct json_object *root, const char *path,
    struct cloudinit_report *rep, struct status *st)
{
	static const char what[] = "cloud-init result";
	struct json_object *v1, *errs, *ds;
	int rc;

	if ((rc = get_v1(root, what, path, &v1, st)) != ST_OK)
		return rc;
	if (json_object_object_get_ex(v1, "datasource", &ds) &&
	    json_object_is_type(ds, json_type_string))
		json_text(rep->datasource, sizeof(rep->datasource), ds);
	if (!json_object_object_get_ex(v1, "errors", &errs))
		return status_set(st, ST_FAIL,
		    "%s '%s' has no \"v1\".\"errors\"", what, path);
	if (!json_object_is_type(errs, json_type_array))
		return status_set(st, ST_FAIL,
		    "%s '%s' has a \"v1\".\"errors\" that is not an array",
		    what, path);
	rep->nerrors = json_object_array_length(errs);
	if (rep->nerrors == 0)
		return ST_OK;
	json_text(rep->first_error, sizeof(rep->first_error),
	    json_object_array_get_idx(errs, 0));
	return status_set(st, ST_FAIL,
	    "cloud-init finished with %zu error%s: %s",
	    rep->nerrors, rep->nerrors == 1 ? "" : "s", rep->first_error);
}

/* Adds the recoverable errors of one stage ("init": {...}) to rep. */
static int
count_stage(const char *stage, struct json_object *obj, const char *path,
    struct cloudinit_report *rep, struct status *st)
{
	struct json_object *rec, *first;
	char text[CLOUDINIT_CAP_TEXT], raw[CAP_MSG];
	size_t n;
	int rc;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "recoverable_errors", &rec))
		return ST_OK;	/* "stage": null, or before cloud-init 23.4 */
	if (!json_object_is_type(rec, json_type_object))
		return status_set(st, ST_FAIL, "cloud-init status '%s' has a "
		    "\"v1\".\"%s\".\"recoverable_errors\" that is not an "
		    "object", path, stage);
	json_object_object_foreach(rec, level, list) {
		if (!json_object_is_type(list, json_type_array))
			return status_set(st, ST_FAIL, "cloud-init status '%s' "
			    "has a \"v1\".\"%s\".\"recoverable_errors\".\"%s\" "
			    "that is not an array", path, stage, level);
		n = json_object_array_length(list);
		if (n > 0 && rep->nrecoverable == 0) {
			first = json_object_array_get_idx(list, 0);
			json_text(text, sizeof(text), first);
			rc = snprintf(raw, sizeof(raw), "%s: %s: %s", stage,
			    level, text);
			if (rc < 0)
				return status_set(st, ST_SOFTWARE,
				    "cloud-init status '%s' cannot be reported",
				    path);
			text_clean(rep->first_recoverable,
			    sizeof(rep->first_recoverable), raw, strlen(raw));
		}
		rep->nrecoverable += n;
	}
	return ST_OK;
}

static int
check_status(struct json_object *root, const char *path,
    struct cloudinit_report *rep, struct status *st)
{
	struct json_object *v1;
	int rc;

	if ((rc = get_v1(root, "cloud-init status", path, &v1, st)) != ST_OK)
		return rc;
	json_object_object_foreach(v1, stage, obj)
		if ((rc = count_stage(stage, obj, path, rep, st)) != ST_OK)
			return rc;
	return ST_OK;
}

/* Reads status.json into rep; its problems go to rep->status_problem. */
static void
read_status(const char *path, struct cloudinit_report *rep)
{
	static const char what[] = "cloud-init status";
	struct json_object *root = NULL;
	struct status st;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	status_clear(&st);
	if ((rc = read_file(path, what, &buf, &len, &st)) != ST_OK)
		goto out;
	if ((rc = parse_json(buf, len, what, path, &root, &st)) != ST_OK)
		goto out;
	rc = check_status(root, path, rep, &st);
out:
	if (rc == ST_OK)
		rep->status_read = 1;
	else {
		rep->nrecoverable = 0;
		rep->first_recoverable[0] = '\0';
		text_copy(rep->status_problem, st.msg,
		    sizeof(rep->status_problem));
	}
	json_object_put(root);
	free(buf);
}

int
cloudinit_check(const char *result_path, const char *status_path,
    struct cloudinit_report *rep, struct status *st)
{
	static const char what[] = "cloud-init result";
	struct json_object *root = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(rep, 0, sizeof(*rep));
	status_clear(st);
	if (status_path != NULL)
		read_status(status_path, rep);
	rc = read_file(result_path, what, &buf, &len, st);
	if (rc == ST_TIMEOUT) {
		rep->pending = 1;
		rc = status_set(st, ST_TIMEOUT, "cloud-init has not finished: "
		    "'%s' does not exist yet", result_path);
		goto out;
	}
	if (rc != ST_OK)
		goto out;
	if ((rc = parse_json(buf, len, what, result_path, &root, st)) != ST_OK)
		goto out;
	rc = check_result(root, result_path, rep, st);
out:
	json_object_put(root);
	free(buf);
	return rc;
}
