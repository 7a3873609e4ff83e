/*
 * fuzz_text: text.h (UTF-8, cleaning, numbers, globs, %XX keys) and
 * digest_parse.  Asserts text.h's rules: text_clean's output is valid
 * UTF-8 without control characters and fits; text_utf8_valid agrees with
 * an independent decoder; %XX encoding round-trips.
 */
#include "fuzz.h"

#include "base/caps.h"
#include "fmt/digest.h"
#include "base/text.h"

/* RFC 3629 by the book, independent of text.c. */
static int
ref_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k, j;
	unsigned long cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			k = 2;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			k = 3;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			k = 4;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (i + k > n)
			return 0;
		for (j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) ||
		    (k == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k;
	}
	return 1;
}

/* No NUL, no C0 control, no DEL in s[0..n). */
static int
printable_n(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void
check_clean(const char *src, size_t n, size_t cap)
{
	char *dst = malloc(cap);
	size_t len, i;
	const unsigned char *u;

	FZ_ASSERT(dst != NULL);
	len = text_clean(dst, cap, src, n);
	if (cap < 4) {
		free(dst);
		return;
	}
	FZ_ASSERT(len == strlen(dst) && len < cap);
	FZ_ASSERT(text_utf8_valid(dst, len));
	u = (const unsigned char *)dst;
	for (i = 0; i < len; i++) {
		FZ_ASSERT(u[i] >= 0x20 && u[i] != 0x7f);
		FZ_ASSERT(!(u[i] == 0xc2 && u[i + 1] >= 0x80 &&
		    u[i + 1] < 0xa0));
	}
	/* clean text that fits comes out unchanged */
	if (n < cap && ref_utf8_valid((const unsigned char *)src, n) &&
	    printable_n(src, n)) {
		int c1 = 0;
		for (i = 0; i + 1 < n; i++)
			c1 |= (unsigned char)src[i] == 0xc2 &&
			    (unsigned char)src[i + 1] < 0xa0;
		if (!c1)
			FZ_ASSERT(len == n && memcmp(dst, src, n) == 0);
	}
	free(dst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	struct status st;
	char *a, *b, *rest, *enc, *dec, *t, dg[CAP_DIGEST];
	size_t n, cap, i;
	long v;

	/* the whole input as outside text */
	FZ_ASSERT(text_utf8_valid((const char *)data, size) ==
	    ref_utf8_valid(data, size));
	for (i = 0; i < size; i++) {
		size_t k = text_utf8_seq(data + i, size - i);
		FZ_ASSERT(k <= 4 && k <= size - i);
	}
	check_clean((const char *)data, size, size + 1);
	check_clean((const char *)data, size, 4);
	check_clean((const char *)data, size, 7);
	check_clean((const char *)data, size, CAP_LINE);

	fz_init(&f, data, size);
	cap = 4 + fz_byte(&f) % 64;
	a = fz_field(&f);
	b = fz_field(&f);
	rest = fz_rest(&f, &n);
	check_clean(rest, n, cap);

	/* numbers */
	if (text_long(a, -1000, 100000, &v) == 0)
		FZ_ASSERT(v >= -1000 && v <= 100000);
	if (text_long(a, 0, 0x7fffffffL, &v) == 0)
		FZ_ASSERT(v >= 0);

	/* globs: a string always matches itself, "*" matches anything */
	FZ_ASSERT(text_glob(a, a) == 1);
	FZ_ASSERT(text_glob("*", b) == 1);
	(void)text_glob(a, b);

	/* %XX keys: encode, then decode gives the key back */
	enc = malloc(3 * strlen(a) + 1);
	dec = malloc(strlen(a) + 1);
	FZ_ASSERT(enc != NULL && dec != NULL);
	FZ_ASSERT(text_pct_encode(a, enc, 3 * strlen(a) + 1) == 0);
	if (text_utf8_valid(a, strlen(a))) {
		FZ_ASSERT(text_pct_decode(enc, dec, strlen(a) + 1) == 0);
		FZ_ASSERT(strcmp(dec, a) == 0);
	}
	if (text_pct_decode(b, dec, strlen(a) + 1) == 0)
		FZ_ASSERT(text_utf8_valid(dec, strlen(dec)));
	(void)text_pct_encode(b, enc, 3 * strlen(a) + 1);
	free(enc);
	free(dec);

	/* trimming */
	t = fz_keep(&f, (const uint8_t *)b, strlen(b));
	t = text_trim(t);
	n = strlen(t);
	FZ_ASSERT(n == 0 || (t[0] != ' ' && t[0] != '\t' && t[n - 1] != ' ' &&
	    t[n - 1] != '\t' && t[n - 1] != '\n' && t[n - 1] != '\r'));

	/* digests */
	if (digest_parse(a, dg, &st) == ST_OK)
		FZ_ASSERT(strlen(dg) == 7 + 64 && strncmp(dg, "sha256:", 7)
		    == 0);
	else
		FZ_ASSERT(dg[0] == '\0' && st.code == ST_CONFIG);
	fz_free(&f);
	return 0;
}
