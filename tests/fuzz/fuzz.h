/*
 * fuzz.h: helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * Rules for a target:
 * - it MUST NOT touch the network or any file outside its private
 *   directory (fz_dir), nor sleep: programs' HTTP and clock are replaced
 *   by fakes in the targets that need them (fuzz_imds, fuzz_ec2);
 * - every property it asserts (FZ_ASSERT) is a rule of the module's
 *   header, so a finding is a broken rule, not only a crash;
 * - inputs are split into NUL-terminated fields with fz_field, so a seed
 *   file is readable: fields separated by NUL bytes, the last one taking
 *   the rest.
 */
#ifndef CDGATE_FUZZ_H
#define CDGATE_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_MAX_FIELDS 32

#define FZ_ASSERT(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: broken rule: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

/* A cursor over the input handing out NUL-terminated copies. */
struct fz {
	const uint8_t *p;
	size_t n;
	char *bufs[FZ_MAX_FIELDS];
	size_t nbufs;
};

static inline void
fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	memset(f, 0, sizeof(*f));
	f->p = data;
	f->n = size;
}

static inline char *
fz_keep(struct fz *f, const uint8_t *p, size_t n)
{
	char *b;

	if (f->nbufs >= FZ_MAX_FIELDS || (b = malloc(n + 1)) == NULL)
		abort();
	memcpy(b, p, n);
	b[n] = '\0';
	f->bufs[f->nbufs++] = b;
	return b;
}

/* The bytes up to the next NUL (or the end), as a string. */
static inline char *
fz_field(struct fz *f)
{
	const uint8_t *z = memchr(f->p, '\0', f->n);
	size_t n = z ? (size_t)(z - f->p) : f->n;
	char *b = fz_keep(f, f->p, n);

	f->p += n + (z != NULL);
	f->n -= n + (z != NULL);
	return b;
}

/* Everything left (may hold NUL bytes), NUL-terminated, length in *len. */
static inline char *
fz_rest(struct fz *f, size_t *len)
{
	char *b = fz_keep(f, f->p, f->n);

	*len = f->n;
	f->p += f->n;
	f->n = 0;
	return b;
}

/* One byte, 0 at the end. */
static inline unsigned
fz_byte(struct fz *f)
{
	unsigned b = 0;

	if (f->n > 0) {
		b = f->p[0];
		f->p++;
		f->n--;
	}
	return b;
}

static inline void
fz_free(struct fz *f)
{
	size_t i;

	for (i = 0; i < f->nbufs; i++)
		free(f->bufs[i]);
	f->nbufs = 0;
}

static char fz_dirname[64];
static char fz_paths[4][128];

/* Removes the files of fz_path and the directory at exit. */
static inline void
fz_cleanup(void)
{
	size_t i;

	for (i = 0; i < 4; i++)
		if (fz_paths[i][0] != '\0')
			unlink(fz_paths[i]);
	rmdir(fz_dirname);
}

/* A private directory (0700, ours), made once per process. */
static inline const char *
fz_dir(void)
{
	if (fz_dirname[0] == '\0') {
		snprintf(fz_dirname, sizeof(fz_dirname), "%s",
		    "/tmp/cdgate-fuzz-XXXXXX");
		if (mkdtemp(fz_dirname) == NULL)
			abort();
		atexit(fz_cleanup);
	}
	return fz_dirname;
}

/* dir/name, in a static buffer per slot (0..3). */
static inline const char *
fz_path(int slot, const char *name)
{
	snprintf(fz_paths[slot], sizeof(fz_paths[slot]), "%s/%s", fz_dir(),
	    name);
	return fz_paths[slot];
}

/* Replaces path with data[0..n), mode 0644. */
static inline void
fz_write(const char *path, const void *data, size_t n)
{
	int fd;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) < 0)
		abort();
	if (n > 0 && write(fd, data, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* 1 when s is valid UTF-8 without control characters (printable). */
static inline int
fz_printable(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	for (; *u != '\0'; u++)
		if (*u < 0x20 || *u == 0x7f)
			return 0;
	return 1;
}

#endif
