/*
 * digest.c: the provisioning digest; the byte format and the rules it keeps
 * are stated in digest.h.
 */
#include "fmt/digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/text.h"

#define DIGEST_MAGIC "cdgate-digest-v1\n"

/* walk_link reads a link's target into the read buffer */
_Static_assert(DIGEST_CAP_READ >= CAP_PATH, "the read buffer holds a path");

struct walk {
	EVP_MD_CTX *md;
	struct status *st;
	const char *root;		/* the PATH as given, for messages */
	int root_is_dir;
	char rel[CAP_PATH];		/* the current entry, from root */
	size_t nentries;
	unsigned char buf[DIGEST_CAP_READ];
};

struct names {
	char **v;
	size_t n, cap;
};

static int walk_entry(struct walk *, int, const char *, const struct stat *,
    int);
static int walk_fail(struct walk *, int, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* The longest "root/rel" named whole; a longer one is named by rel. */
#define WHERE_MAX (2 * CAP_PATH + 1)

/*
 * The current entry as the user would name it, in three pieces to print
 * one after the other (not joined in a buffer: two paths long, it made
 * walk_fail's frame over 4 KiB): root, or root/rel, or rel when root/rel
 * is over WHERE_MAX bytes.
 */
static void
walk_where(const struct walk *w, const char **a, const char **sep,
    const char **b)
{
	size_t rlen = strlen(w->root);

	*a = w->root;
	*sep = *b = "";
	if (!w->root_is_dir || w->rel[0] == '\0')
		return;
	*sep = w->root[rlen - 1] == '/' ? "" : "/";
	if (rlen + strlen(*sep) + strlen(w->rel) > WHERE_MAX) {
		*a = w->rel;
		*sep = "";
		return;
	}
	*b = w->rel;
}

/*
 * Sets st to "digest path 'WHERE' WHAT[: strerror(err)]" and returns code.
 */
static int
walk_fail(struct walk *w, int code, int err, const char *fmt, ...)
{
	char what[CAP_MSG];
	const char *a, *sep, *b;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (n < 0)
		text_copy(what, "cannot be hashed", sizeof(what));
	walk_where(w, &a, &sep, &b);
	if (err != 0)
		return status_set(w->st, code, "digest path '%s%s%s' %s: %s",
		    a, sep, b, what, strerror(err));
	return status_set(w->st, code, "digest path '%s%s%s' %s", a, sep, b,
	    what);
}

static int
walk_bytes(struct walk *w, const void *p, size_t n)
{
	if (EVP_DigestUpdate(w->md, p, n) != 1)
		return status_set(w->st, ST_SOFTWARE,
		    "digest: 'SHA-256' update failed");
	return ST_OK;
}

static int
walk_u64(struct walk *w, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return walk_bytes(w, b, sizeof(b));
}

/* type U64(plen) path: the head of every entry record. */
static int
walk_head(struct walk *w, char type)
{
	int rc;

	if (++w->nentries > CAP_DIGEST_FILES)
		return status_set(w->st, ST_USAGE,
		    "digest path '%s' holds more than %d entries", w->root,
		    CAP_DIGEST_FILES);
	if ((rc = walk_bytes(w, &type, 1)) != ST_OK ||
	    (rc = walk_u64(w, strlen(w->rel))) != ST_OK)
		return rc;
	return walk_bytes(w, w->rel, strlen(w->rel));
}

static const char *
type_name(mode_t m)
{
	if (S_ISFIFO(m))
		return "FIFO";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISCHR(m))
		return "character device";
	if (S_ISBLK(m))
		return "block device";
	return "special file";
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT);
}

/* F U64(plen) path U64(size) content, read from the fd opened here. */
static int
walk_file(struct walk *w, int dfd, const char *name, const struct stat *lsb)
{
	struct stat sb;
	uint64_t total = 0;
	ssize_t n;
	int fd, rc;

	fd = openat(dfd, name,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return walk_fail(w, ST_OSERR, errno, "cannot be opened");
	if (fstat(fd, &sb) == -1) {
		rc = walk_fail(w, ST_OSERR, errno, "cannot be examined");
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || !same_file(&sb, lsb)) {
		rc = walk_fail(w, ST_OSERR, 0, "changed while being hashed");
		goto out;
	}
	if ((rc = walk_head(w, 'F')) != ST_OK ||
	    (rc = walk_u64(w, (uint64_t)sb.st_size)) != ST_OK)
		goto out;
	for (;;) {
		n = read(fd, w->buf, sizeof(w->buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = walk_fail(w, ST_OSERR, errno, "cannot be read");
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > (uint64_t)sb.st_size)
			break;
		if ((rc = walk_bytes(w, w->buf, (size_t)n)) != ST_OK)
			goto out;
	}
	if (total != (uint64_t)sb.st_size)
		rc = walk_fail(w, ST_OSERR, 0,
		    "changed size while being hashed");
out:
	close(fd);
	return rc;
}

/* L U64(plen) path U64(tlen) target: the link itself, never followed. */
static int
walk_link(struct walk *w, int dfd, const char *name)
{
	/* the target in the read buffer, idle between files: CAP_PATH on
	 * the stack made this frame over 4 KiB */
	char *target = (char *)w->buf;
	ssize_t n;
	int rc;

	n = readlinkat(dfd, name, target, CAP_PATH);
	if (n == -1)
		return walk_fail(w, ST_OSERR, errno, "cannot be read");
	if ((size_t)n >= CAP_PATH)
		return walk_fail(w, ST_USAGE, 0,
		    "is a symbolic link with a target over %d bytes", CAP_PATH);
	if ((rc = walk_head(w, 'L')) != ST_OK ||
	    (rc = walk_u64(w, (uint64_t)n)) != ST_OK)
		return rc;
	return walk_bytes(w, target, (size_t)n);
}

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_free(struct names *nm)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	nm->v = NULL;
	nm->n = nm->cap = 0;
}

static int
names_add(struct walk *w, struct names *nm, const char *name)
{
	char **v;
	size_t cap;

	/* Bounds memory before walk_head counts the entries themselves. */
	if (w->nentries + nm->n >= CAP_DIGEST_FILES)
		return status_set(w->st, ST_USAGE,
		    "digest path '%s' holds more than %d entries", w->root,
		    CAP_DIGEST_FILES);
	if (nm->n == nm->cap) {
		cap = nm->cap == 0 ? 16 : nm->cap * 2;
		if ((v = reallocarray(nm->v, cap, sizeof(*v))) == NULL)
			return walk_fail(w, ST_OSERR, ENOMEM,
			    "cannot be listed");
		nm->v = v;
		nm->cap = cap;
	}
	if ((nm->v[nm->n] = strdup(name)) == NULL)
		return walk_fail(w, ST_OSERR, ENOMEM, "cannot be listed");
	nm->n++;
	return ST_OK;
}

/* Reads the names in d, without "." and "..", sorted by strcmp. */
static int
names_read(struct walk *w, DIR *d, struct names *nm)
{
	struct dirent *de;
	int rc;

	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((rc = names_add(w, nm, de->d_name)) != ST_OK)
			return rc;
	}
	if (errno != 0)
		return walk_fail(w, ST_OSERR, errno, "cannot be listed");
	if (nm->n > 1)
		qsort(nm->v, nm->n, sizeof(*nm->v), names_cmp);
	return ST_OK;
}

/* Hashes the entries of the open directory d, which is at depth. */
static int
walk_children(struct walk *w, DIR *d, int depth)
{
	struct names nm = { NULL, 0, 0 };
	struct stat sb;
	size_t i, len = strlen(w->rel), room = sizeof(w->rel) - len;
	int n, rc, dfd = dirfd(d);

	if ((rc = names_read(w, d, &nm)) != ST_OK)
		goto out;
	for (i = 0; i < nm.n; i++) {
		n = snprintf(w->rel + len, room, "%s%s", len == 0 ? "" : "/",
		    nm.v[i]);
		if (n < 0 || (size_t)n >= room) {
			w->rel[len] = '\0';
			rc = walk_fail(w, ST_USAGE, 0,
			    "holds a path over %d bytes", CAP_PATH);
			goto out;
		}
		if (fstatat(dfd, nm.v[i], &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			rc = walk_fail(w, ST_OSERR, errno,
			    "cannot be examined");
			goto out;
		}
		if ((rc = walk_entry(w, dfd, nm.v[i], &sb, depth + 1)) != ST_OK)
			goto out;
		w->rel[len] = '\0';
	}
	rc = ST_OK;
out:
	names_free(&nm);
	return rc;
}

/* D U64(plen) path, then the directory's entries; depth 0 is a root. */
static int
walk_dir(struct walk *w, int dfd, const char *name, const struct stat *lsb,
    int depth)
{
	struct stat sb;
	DIR *d = NULL;
	int fd = -1, rc;

	if (depth > CAP_DIGEST_DEPTH) {
		rc = walk_fail(w, ST_USAGE, 0, "is more than %d levels deep",
		    CAP_DIGEST_DEPTH);
		goto out;
	}
	fd = openat(dfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		rc = walk_fail(w, ST_OSERR, errno, "cannot be opened");
		goto out;
	}
	if (fstat(fd, &sb) == -1 || !same_file(&sb, lsb)) {
		rc = walk_fail(w, ST_OSERR, 0, "changed while being hashed");
		goto out;
	}
	if ((d = fdopendir(fd)) == NULL) {
		rc = walk_fail(w, ST_OSERR, errno, "cannot be listed");
		goto out;
	}
	fd = -1;	/* owned by d now */
	if ((rc = walk_head(w, 'D')) != ST_OK)
		goto out;
	rc = walk_children(w, d, depth);
out:
	if (d != NULL)
		closedir(d);
	if (fd != -1)
		close(fd);
	return rc;
}

/* Hashes one entry, name in dfd, whose lstat is sb; w->rel names it. */
static int
walk_entry(struct walk *w, int dfd, const char *name, const struct stat *sb,
    int depth)
{
	if (S_ISREG(sb->st_mode))
		return walk_file(w, dfd, name, sb);
	if (S_ISDIR(sb->st_mode))
		return walk_dir(w, dfd, name, sb, depth);
	if (S_ISLNK(sb->st_mode))
		return walk_link(w, dfd, name);
	return walk_fail(w, ST_USAGE, 0, "is a %s: only regular files, "
	    "directories and symbolic links can be hashed",
	    type_name(sb->st_mode));
}

/* The last component of a file path, for a root given as a file. */
static const char *
last_component(const char *path)
{
	const char *s = strrchr(path, '/');

	return s == NULL ? path : s + 1;
}

/* R, then the entries of one PATH. */
static int
walk_root(struct walk *w, const char *path)
{
	struct stat sb;
	int rc;

	w->root = path;
	w->root_is_dir = 0;
	w->rel[0] = '\0';
	if (path[0] == '\0')
		return status_set(w->st, ST_USAGE, "digest path '' is empty");
	if (fstatat(AT_FDCWD, path, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return walk_fail(w, ST_USAGE, 0, "does not exist");
		return walk_fail(w, ST_OSERR, errno, "cannot be examined");
	}
	if (S_ISLNK(sb.st_mode))
		return walk_fail(w, ST_USAGE, 0,
		    "is a symbolic link: give the path it points to");
	if ((rc = walk_bytes(w, "R", 1)) != ST_OK)
		return rc;
	w->root_is_dir = S_ISDIR(sb.st_mode);
	if (S_ISREG(sb.st_mode) && text_copy(w->rel, last_component(path),
	    sizeof(w->rel)) >= sizeof(w->rel))
		return walk_fail(w, ST_USAGE, 0, "is longer than %d bytes",
		    CAP_PATH);
	return walk_entry(w, AT_FDCWD, path, &sb, 0);
}

static void
hex_lower(char *dst, const unsigned char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = hex[src[i] >> 4];
		dst[2 * i + 1] = hex[src[i] & 0x0f];
	}
	dst[2 * n] = '\0';
}

int
digest_paths(const char *const *paths, size_t npaths, char out[CAP_DIGEST],
    struct status *st)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct walk *w = NULL;
	size_t i, plen = sizeof(DIGEST_PREFIX) - 1;
	int rc;

	out[0] = '\0';
	if (npaths == 0) {
		rc = status_set(st, ST_USAGE, "digest: no path given");
		goto out;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->md = EVP_MD_CTX_new()) == NULL) {
		rc = status_set(st, ST_OSERR, "digest: out of memory");
		goto out;
	}
	w->st = st;
	if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
		rc = status_set(st, ST_SOFTWARE,
		    "digest: 'SHA-256' is not available");
		goto out;
	}
	if ((rc = walk_bytes(w, DIGEST_MAGIC, sizeof(DIGEST_MAGIC) - 1)) !=
	    ST_OK)
		goto out;
	for (i = 0; i < npaths; i++)
		if ((rc = walk_root(w, paths[i])) != ST_OK)
			goto out;
	if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 ||
	    mdlen * 2 != DIGEST_HEX_LEN) {
		rc = status_set(st, ST_SOFTWARE, "digest: 'SHA-256' failed");
		goto out;
	}
	memcpy(out, DIGEST_PREFIX, plen);
	hex_lower(out + plen, md, mdlen);
	status_clear(st);
	rc = ST_OK;
out:
	if (w != NULL) {
		EVP_MD_CTX_free(w->md);
		OPENSSL_cleanse(w->buf, sizeof(w->buf));
		free(w);
	}
	return rc;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

int
digest_parse(const char *s, char out[CAP_DIGEST], struct status *st)
{
	size_t i, plen = sizeof(DIGEST_PREFIX) - 1;
	int ok;

	out[0] = '\0';
	ok = strncasecmp(s, DIGEST_PREFIX, plen) == 0 &&
	    strlen(s + plen) == DIGEST_HEX_LEN;
	for (i = 0; ok && i < DIGEST_HEX_LEN; i++)
		ok = is_hex(s[plen + i]);
	if (!ok)
		return status_set(st, ST_CONFIG, "digest '%.100s' is not "
		    "\"sha256:\" followed by %d hex digits", s, DIGEST_HEX_LEN);
	memcpy(out, DIGEST_PREFIX, plen);
	for (i = 0; i < DIGEST_HEX_LEN; i++) {
		char c = s[plen + i];

		out[plen + i] = (c >= 'A' && c <= 'F') ?
		    (char)(c - 'A' + 'a') : c;
	}
	out[plen + DIGEST_HEX_LEN] = '\0';
	status_clear(st);
	return ST_OK;
}
