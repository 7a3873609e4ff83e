/*
 * text.h: making outside text safe to print.
 *
 * Anything that came from outside (files, HTTP replies, environment, errno
 * strings in another locale) MUST pass through text_clean before it reaches
 * the output: the agent drops the whole failure message when its tail holds
 * invalid UTF-8.
 */
#ifndef CDGATE_TEXT_H
#define CDGATE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
int text_utf8_valid(const char *s, size_t n);
/* Length of the well-formed UTF-8 sequence at s (1..4), 0 if invalid. */
size_t text_utf8_seq(const unsigned char *s, size_t n);
/*
 * Copies src[0..srclen) into dst as valid UTF-8 with no control characters:
 * invalid bytes and controls become '?', tabs and newlines a space.  When it
 * does not fit, it is cut on a character boundary and ends in "...".  dst is
 * always NUL-terminated (dstlen >= 4).  Returns strlen(dst).
 */
size_t text_clean(char *dst, size_t dstlen, const char *src, size_t srclen);
/* Strips leading and trailing ASCII blanks in place; returns s. */
char *text_trim(char *s);
/* strlcpy: copies at most dstlen-1 bytes; returns strlen(src). */
size_t text_copy(char *dst, const char *src, size_t dstlen);
/*
 * Parses a decimal integer in [min, max] from the whole of s (leading and
 * trailing blanks allowed).  Returns 0 and sets *out, or -1.
 */
int text_long(const char *s, long min, long max, long *out);
/*
 * Case-sensitive glob match: '*' any run, '?' one character (a whole valid
 * UTF-8 sequence, else one byte), no classes or escapes.
 */
int text_glob(const char *pat, const char *s);
/* Characters (code points) of the valid UTF-8 string s. */
size_t text_utf8_chars(const char *s);
/* The value of one hex digit (either case), or -1. */
int text_hexval(char c);
/*
 * Tag keys in INI files: %XX escapes for the characters INI cannot hold in
 * a key (':', '=', '%', ';', '#', '[', ']', blanks, control characters).
 * Decoding refuses bad escapes, NUL and invalid UTF-8; both return 0, or
 * -1 (also on overflow).
 */
int text_pct_decode(const char *in, char *out, size_t len);
int text_pct_encode(const char *in, char *out, size_t len);

#endif
