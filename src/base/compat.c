/*
 * compat.c: libc functions the statically linked parsers may reference
 * that are newer than the oldest glibc cdgate runs on (2.34: Amazon Linux
 * 2023, RHEL 9).  Linked into every program as an object, ahead of the
 * archives, so their references bind here and never to a newer libc
 * symbol version.  Rules: MUST NOT fail silently, MUST NOT allocate.
 */
#include <sys/random.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

void arc4random_buf(void *buf, size_t len);

/*
 * Debian 12's libexpat.a seeds its hash salt with arc4random_buf
 * (GLIBC_2.36, over the 2.34 ceiling): the same kernel randomness from
 * getrandom(2) (GLIBC_2.25).  getrandom without flags only blocks before
 * the kernel's pool is first initialised, long before a hook runs; it
 * cannot otherwise fail on Linux 3.17+, so a failure is a broken system:
 * abort rather than hand out predictable bytes.
 */
void
arc4random_buf(void *buf, size_t len)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(p, len > 256 ? 256 : len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		p += n;
		len -= (size_t)n;
	}
}
