#include "base/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t
text_utf8_seq(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xe0 && s[1] < 0xa0)
			return 0;	/* overlong */
		if (s[0] == 0xed && s[1] >= 0xa0)
			return 0;	/* surrogate */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xf0 && s[1] < 0x90)
			return 0;	/* overlong */
		if (s[0] == 0xf4 && s[1] >= 0x90)
			return 0;	/* above U+10FFFF */
		return 4;
	}
	return 0;
}

int
text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if ((k = text_utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

size_t
text_clean(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t i = 0, o = 0, k, n, keep = 0;

	if (dstlen < 4) {
		if (dstlen > 0)
			dst[0] = '\0';
		return 0;
	}
	/* o never passes dstlen - 1; keep is the last character boundary
	 * where "..." and the NUL still fit, the place to cut */
	while (i < srclen) {
		k = text_utf8_seq(p + i, srclen - i);
		if (k == 0)
			k = 1;		/* an invalid byte: '?' */
		/* one '?' for a control, an invalid byte or a C1 control */
		n = (k == 1 || (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) ?
		    1 : k;
		if (o + n > dstlen - 1)
			goto cut;
		if (k == 2 && n == 1)
			dst[o] = '?';
		else if (k == 1 && (p[i] < 0x20 || p[i] >= 0x7f))
			dst[o] = (p[i] == '\t' || p[i] == '\n' ||
			    p[i] == '\r') ? ' ' : '?';
		else
			memcpy(dst + o, p + i, k);
		o += n;
		i += k;
		if (o <= dstlen - 4)
			keep = o;
	}
	dst[o] = '\0';
	return o;
cut:
	memcpy(dst + keep, "...", 4);
	return keep + 3;
}

char *
text_trim(char *s)
{
	size_t lead = strspn(s, " \t");
	char *e;

	/* one move: a long run of blanks (64 KB from IMDS) stays linear */
	if (lead > 0)
		memmove(s, s + lead, strlen(s + lead) + 1);
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

size_t
text_copy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);

	if (dstlen > 0) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
text_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	while (*s == ' ' || *s == '\t')
		s++;
	/* strtol would also skip '\n', '\v'... and take a '+' */
	if (*s != '-' && !(*s >= '0' && *s <= '9'))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * The character after the one at s: a whole valid UTF-8 sequence, else one
 * byte (so a pattern still matches itself byte for byte when it holds
 * stray continuation bytes: '?' then consumes the '?' and nothing more).
 */
static const char *
text_next_char(const char *s)
{
	size_t k = text_utf8_seq((const unsigned char *)s, strnlen(s, 4));

	return s + (k > 0 ? k : 1);
}

int
text_glob(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s != '\0') {
		if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (*pat == '?') {
			pat++;
			s = text_next_char(s);	/* one character, not a byte */
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star + 1;
			s = mark = text_next_char(mark);
		} else
			return 0;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

size_t
text_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)	/* continuation bytes do not count */
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int
text_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
text_pct_decode(const char *in, char *out, size_t len)
{
	size_t o = 0;
	int hi, lo;

	for (; *in != '\0'; in++) {
		if (o + 1 >= len)
			return -1;
		if (*in != '%') {
			out[o++] = *in;
			continue;
		}
		if ((hi = text_hexval(in[1])) < 0 || (lo = text_hexval(in[2])) < 0)
			return -1;
		out[o++] = (char)(hi * 16 + lo);
		in += 2;
	}
	out[o] = '\0';
	return text_utf8_valid(out, o) && memchr(out, '\0', o) == NULL ? 0 : -1;
}

int
text_pct_encode(const char *in, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		/* controls too: a key holding a newline would end its line */
		if (strchr(":=%;#[] \t", c) != NULL || c < 0x20 || c == 0x7f) {
			if (o + 4 > len)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			if (o + 2 > len)
				return -1;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return 0;
}
