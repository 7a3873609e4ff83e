#include "fmt/markerfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt/digest.h"
#include "base/file.h"
#include "base/inifile.h"
#include "base/proc.h"
#include "base/text.h"

#define MARKER_HAVE_STATUS   0x1
#define MARKER_HAVE_INSTANCE 0x2
#define MARKER_HAVE_BOOT     0x4
#define MARKER_HAVE_TIME     0x8

struct markerfile_parse {
	struct markerfile *m;
	unsigned have;
};

/* 1 when s has the shape: 'd' a digit, 'x' a lowercase hex digit, any
 * other character itself */
static int
has_shape(const char *s, const char *shape)
{
	size_t i;

	if (strlen(s) != strlen(shape))
		return 0;
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') :
		    shape[i] == 'x' ? !((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')) : s[i] != shape[i])
			return 0;
	return 1;
}

static int
is_time(const char *s)
{
	return has_shape(s, "dddd-dd-ddTdd:dd:ddZ");
}

static int
mk_copy(struct inifile *f, const char *key, const char *v, char *out,
    size_t len)
{
	if (strlen(v) >= len)
		return inifile_error(f, "%s is too long", key);
	text_copy(out, v, len);
	return 0;
}

static int
mk_provision(struct inifile *f, struct markerfile_parse *p, const char *k,
    const char *v)
{
	struct markerfile *m = p->m;

	if (strcmp(k, "status") == 0) {
		if (strcmp(v, "ok") != 0 && strcmp(v, "failed") != 0)
			return inifile_error(f, "status = '%s': expected ok "
			    "or failed", v);
		m->ok = strcmp(v, "ok") == 0;
		p->have |= MARKER_HAVE_STATUS;
		return 0;
	}
	if (strcmp(k, "instance_id") == 0) {
		if (v[0] == '\0')
			return inifile_error(f, "instance_id is empty");
		p->have |= MARKER_HAVE_INSTANCE;
		return mk_copy(f, k, v, m->instance_id,
		    sizeof(m->instance_id));
	}
	if (strcmp(k, "boot_id") == 0) {
		/* informational (markerfile.h), but of the kernel's form: a marker
		 * from a previous boot passes, a made-up one does not */
		if (mk_copy(f, k, v, m->boot_id, sizeof(m->boot_id)) != 0)
			return -1;
		if (!markerfile_boot_id_ok(v))
			return inifile_error(f, "boot_id = '%.40s': expected a "
			    "boot id such as 8c0c0d6e-1a2b-4c3d-9e8f-"
			    "0123456789ab (/proc/sys/kernel/random/boot_id)",
			    v);
		p->have |= MARKER_HAVE_BOOT;
		return 0;
	}
	if (strcmp(k, "finished_at") == 0) {
		if (!is_time(v))
			return inifile_error(f, "finished_at = '%s': expected "
			    "YYYY-MM-DDTHH:MM:SSZ", v);
		p->have |= MARKER_HAVE_TIME;
		return mk_copy(f, k, v, m->finished_at,
		    sizeof(m->finished_at));
	}
	if (strcmp(k, "digest") == 0) {
		struct status dst;

		if (mk_copy(f, k, v, m->digest, sizeof(m->digest)) != 0)
			return -1;
		/* a bad value is an error, and one read is one rewritten */
		if (digest_parse(v, m->digest, &dst) != ST_OK)
			return inifile_error(f, "digest = '%s': expected "
			    "sha256: and 64 hex digits", v);
		return 0;
	}
	if (strcmp(k, "message") == 0)
		return mk_copy(f, k, v, m->message, sizeof(m->message));
	return inifile_error(f, "unknown key '%s' in [provision]", k);
}

static int
markerfile_handler(struct inifile *f, const char *sec, const char *k,
    const char *v)
{
	struct markerfile_parse *p = f->user;
	struct markerfile_tag *t;

	if (k == NULL)		/* a section header */
		return strcmp(sec, "provision") == 0 || strcmp(sec, "tags") ==
		    0 ? 0 : inifile_error(f, "unknown section [%s] (expected "
		    "[provision] and [tags])", sec);

	if (strcmp(sec, "provision") == 0)
		return mk_provision(f, p, k, v);
	if (strcmp(sec, "tags") != 0)
		return inifile_error(f, "unknown section [%s] (expected "
		    "[provision] and [tags])", sec);
	p->m->has_tags = 1;
	if (p->m->ntags >= CAP_TAGS)
		return inifile_error(f, "more than %d tags", CAP_TAGS);
	t = &p->m->tags[p->m->ntags];
	if (text_pct_decode(k, t->key, sizeof(t->key)) != 0)
		return inifile_error(f, "tag key '%s' is malformed", k);
	if (mk_copy(f, "tag value", v, t->value, sizeof(t->value)) != 0)
		return -1;
	p->m->ntags++;
	return 0;
}

int
markerfile_read(const char *path, struct markerfile *m, int *absent,
    struct status *st)
{
	struct markerfile_parse p = { m, 0 };
	char *dir = NULL, *buf = NULL;
	size_t len;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = file_read(path, "marker", CAP_MARKER_FILE,
	    FILE_TRUSTED | FILE_TEXT, &buf, &len, NULL, absent, st);
	if (rc != ST_OK)
		return rc;
	/* on the heap, as every path buffer here: a frame stays under 4 KiB */
	if ((dir = malloc(CAP_PATH)) == NULL) {
		rc = status_set(st, ST_OSERR, "out of memory");
		goto out;
	}
	file_dirname(path, dir, CAP_PATH);
	if ((rc = file_dir_trusted(dir, "marker", st)) != ST_OK)
		goto out;
	if (len == 0) {
		rc = status_set(st, ST_FAIL, "marker '%s' is empty", path);
		goto out;
	}
	rc = inifile_parse(path, buf, len, markerfile_handler, &p, ST_FAIL, st);
	if (rc != ST_OK) {
		status_wrap(st, "marker is malformed");
		goto out;
	}
	if (!(p.have & MARKER_HAVE_STATUS))
		rc = status_set(st, ST_FAIL, "marker '%s' has no status",
		    path);
	else if (!(p.have & MARKER_HAVE_INSTANCE))
		rc = status_set(st, ST_FAIL, "marker '%s' has no instance_id",
		    path);
	else if (!(p.have & MARKER_HAVE_BOOT))
		rc = status_set(st, ST_FAIL, "marker '%s' has no boot_id",
		    path);
	else if (!(p.have & MARKER_HAVE_TIME))
		rc = status_set(st, ST_FAIL, "marker '%s' has no finished_at",
		    path);
out:
	free(dir);
	free(buf);
	return rc;
}

int
markerfile_verify(const char *path, const struct markerfile *m,
    const char *instance_id, const char *digest, int *other_instance,
    struct status *st)
{
	*other_instance = 0;
	/* the instance first: another instance's marker (even a failed one)
	 * says nothing about this instance, whose provisioning replaces it */
	if (instance_id != NULL && strcmp(m->instance_id, instance_id) != 0) {
		*other_instance = 1;
		return status_set(st, ST_FAIL, "marker '%s' was written on "
		    "instance %s, this is %s (baked into the AMI?); remove "
		    "it from the image", path, m->instance_id, instance_id);
	}
	if (!m->ok)
		return status_set(st, ST_FAIL, "provisioning failed at %s: %s "
		    "(marker '%s'); fix provisioning and relaunch",
		    m->finished_at, m->message[0] ? m->message :
		    "no message recorded", path);
	if (digest != NULL && digest[0] != '\0' &&
	    strcmp(m->digest, digest) != 0)
		return status_set(st, ST_FAIL, "marker '%s' digest %.23s is "
		    "not the configured %s: provisioning ran other code or "
		    "config", path, m->digest[0] ? m->digest : "(none)",
		    digest);
	return ST_OK;
}

int
markerfile_value_ok(const char *v)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t n = strlen(v);

	if (n > 0 && (strchr(" \t;", v[0]) != NULL ||
	    strchr(" \t", v[n - 1]) != NULL))
		return 0;
	for (; *u != '\0'; u++)
		if (*u < 0x20 || *u == 0x7f || ((*u == ' ' || *u == '\t') &&
		    u[1] == ';'))
			return 0;
	return 1;
}

int
markerfile_format(const struct markerfile *m, char *buf, size_t len,
    struct status *st)
{
	char key[CAP_TAG_KEY_B * 3], msg[CAP_MSG];
	size_t used, i;
	int n;

	/* ';' would start an INI comment: the message keeps ',' instead */
	text_clean(msg, sizeof(msg), m->message, strlen(m->message));
	for (i = 0; msg[i] != '\0'; i++)
		if (msg[i] == ';' || msg[i] == '#')
			msg[i] = ',';
	n = snprintf(buf, len, "[provision]\nstatus = %s\ninstance_id = %s\n"
	    "boot_id = %s\nfinished_at = %s\n", m->ok ? "ok" : "failed",
	    m->instance_id, m->boot_id, m->finished_at);
	if (n < 0 || (size_t)n >= len)
		goto toolong;
	used = (size_t)n;
	if (m->digest[0] != '\0') {
		n = snprintf(buf + used, len - used, "digest = %s\n",
		    m->digest);
		if (n < 0 || (size_t)n >= len - used)
			goto toolong;
		used += (size_t)n;
	}
	if (msg[0] != '\0') {
		n = snprintf(buf + used, len - used, "message = %s\n", msg);
		if (n < 0 || (size_t)n >= len - used)
			goto toolong;
		used += (size_t)n;
	}
	if (m->ntags > 0) {
		n = snprintf(buf + used, len - used, "[tags]\n");
		if (n < 0 || (size_t)n >= len - used)
			goto toolong;
		used += (size_t)n;
	}
	if (!markerfile_value_ok(m->instance_id) || !markerfile_value_ok(m->boot_id))
		return status_set(st, ST_USAGE, "instance id '%s' or boot id "
		    "'%s' cannot be held in the marker", m->instance_id,
		    m->boot_id);
	for (i = 0; i < m->ntags; i++) {
		/* a newline in a value would add lines: [provision] keys */
		if (!markerfile_value_ok(m->tags[i].value))
			return status_set(st, ST_USAGE, "tag '%s': its value "
			    "holds a control character, a leading or trailing "
			    "blank, or ' ;', which the marker cannot hold",
			    m->tags[i].key);
		if (text_pct_encode(m->tags[i].key, key, sizeof(key)) != 0)
			goto toolong;
		n = snprintf(buf + used, len - used, "%s = %s\n", key,
		    m->tags[i].value);
		if (n < 0 || (size_t)n >= len - used)
			goto toolong;
		used += (size_t)n;
	}
	return ST_OK;
toolong:
	/* reachable with many long --tag values: the caller's input */
	return status_set(st, ST_USAGE, "marker text longer than %zu bytes "
	    "(fewer or shorter tags)", len);
}

/* mkdir -p with mode 0755 for the missing parts of dir; p: CAP_PATH bytes
 * to work in. */
static int
markerfile_mkdirs(const char *dir, char *p, struct status *st)
{
	size_t i;

	if (text_copy(p, dir, CAP_PATH) >= CAP_PATH)
		return status_set(st, ST_FAIL, "path '%s' too long", dir);
	for (i = 1; ; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		/* chmod: a umask like 077 must not leave it 0700, closed
		 * to a hook that runs as another user (runas) */
		if (mkdir(p, 0755) == 0 ? chmod(p, 0755) == -1 :
		    errno != EEXIST)
			return status_set(st, ST_OSERR, "cannot create "
			    "directory '%s': %s", p, strerror(errno));
		p[i] = c;
		if (c == '\0')
			break;
	}
	return ST_OK;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int
markerfile_write(const char *path, const struct markerfile *m, struct status *st)
{
	return markerfile_write_cb(path, m, NULL, st);
}

int
markerfile_write_cb(const char *path, const struct markerfile *m,
    void (*renamed)(void), struct status *st)
{
	static char tmp[CAP_PATH + 32];	/* static: the SIGTERM handler */
	/* the rest on the heap: together 24 KiB */
	struct {
		char dir[CAP_PATH], work[CAP_PATH];
		char text[CAP_MARKER_FILE];
	} *b;
	char *dir, *text;
	const char *base;
	sigset_t block, old;
	int fd = -1, dfd = -1, rc;

	if ((b = malloc(sizeof(*b))) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	dir = b->dir;
	text = b->text;
	tmp[0] = '\0';
	if ((rc = markerfile_format(m, text, sizeof(b->text), st)) != ST_OK)
		goto out;
	file_dirname(path, dir, sizeof(b->dir));
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (base[0] == '\0') {
		rc = status_set(st, ST_CONFIG, "marker path '%s' names a "
		    "directory", path);
		goto out;
	}
	if ((rc = markerfile_mkdirs(dir, b->work, st)) != ST_OK)
		goto out;
	if ((rc = file_dir_trusted(dir, "marker", st)) != ST_OK)
		goto out;
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >=
	    (int)sizeof(tmp)) {
		tmp[0] = '\0';
		rc = status_set(st, ST_FAIL, "marker path too long");
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		tmp[0] = '\0';
		rc = status_set(st, ST_OSERR, "cannot create a temporary "
		    "file in '%s': %s", dir, strerror(errno));
		goto out;
	}
	proc_term_unlink(tmp);
	if (write_all(fd, text, strlen(text)) != 0 || fchmod(fd, 0644) != 0 ||
	    fsync(fd) != 0) {
		rc = status_set(st, ST_OSERR, "cannot write '%s': %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = status_set(st, ST_OSERR, "cannot write '%s': %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	/* the signals that end the program wait while the rename and the
	 * hook run: the line a signal prints matches what is on disk */
	sigfillset(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (rename(tmp, path) != 0) {
		rc = status_set(st, ST_OSERR, "cannot rename '%s' to '%s': %s",
		    tmp, path, strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		goto out;
	}
	tmp[0] = '\0';
	proc_term_unlink(NULL);
	/* the new marker is in place: from here on, a failure or a signal
	 * must not say that it was not written */
	if (renamed != NULL)
		renamed();
	sigprocmask(SIG_SETMASK, &old, NULL);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) != 0)
		rc = status_set(st, ST_OSERR, "cannot sync directory '%s': %s",
		    dir, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (tmp[0] != '\0')
		unlink(tmp);
	proc_term_unlink(NULL);
	free(b);
	return rc;
}

int
markerfile_withdraw(const char *path, int *withdrawn, struct status *st)
{
	char *dir;
	struct stat sb;
	int dfd, rc;

	*withdrawn = 0;
	if ((dir = malloc(CAP_PATH)) == NULL)
		return status_set(st, ST_OSERR, "out of memory");
	file_dirname(path, dir, CAP_PATH);
	if (lstat(dir, &sb) == -1 && errno == ENOENT) {
		rc = ST_OK;		/* nothing to withdraw */
		goto out;
	}
	if ((rc = file_dir_trusted(dir, "marker", st)) != ST_OK)
		goto out;
	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			rc = ST_OK;
		else
			rc = status_set(st, ST_OSERR, "cannot stat marker "
			    "'%s': %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = status_set(st, ST_CONFIG, "marker path '%s' names a "
		    "directory", path);
		goto out;
	}
	if (unlink(path) != 0) {
		rc = status_set(st, ST_OSERR, "cannot remove the previous "
		    "marker '%s': %s", path, strerror(errno));
		goto out;
	}
	*withdrawn = 1;
	/* on disk too: a crash must not bring the old marker back */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) != 0)
		rc = status_set(st, ST_OSERR, "cannot sync directory '%s': %s",
		    dir, strerror(errno));
	if (dfd != -1)
		close(dfd);
out:
	free(dir);
	return rc;
}

int
markerfile_boot_id_ok(const char *s)
{
	return has_shape(s, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
}

int
markerfile_boot_id(char *out, size_t len, struct status *st)
{
	char *buf = NULL;
	size_t n;
	int absent, rc;

	rc = file_read("/proc/sys/kernel/random/boot_id", "boot id", 64,
	    FILE_TEXT, &buf, &n, NULL, &absent, st);
	if (rc != ST_OK)
		return rc;
	text_trim(buf);
	if (!markerfile_boot_id_ok(buf) || strlen(buf) >= len)
		rc = status_set(st, ST_OSERR, "malformed boot id '%.40s' in "
		    "/proc/sys/kernel/random/boot_id", buf);
	else
		text_copy(out, buf, len);
	free(buf);
	return rc;
}
