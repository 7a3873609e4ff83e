#include "out.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "caps.h"
#include "text.h"

static char label[64] = "cdgate";
static int quiet;

void
out_label(const char *l)
{
	text_clean(label, sizeof(label), l, strlen(l));
}

const char *
out_get_label(void)
{
	return label;
}

void
out_quiet(int q)
{
	quiet = q;
}

static void out_emit(const char *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
out_emit(const char *kind, const char *fmt, va_list ap)
{
	char raw[CAP_LINE * 4], line[CAP_LINE];
	int n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		text_copy(raw, "(message could not be formatted)", sizeof(raw));
	text_clean(line, sizeof(line), raw, strlen(raw));
	if (kind != NULL)
		printf("cdgate: %s: %s: %s\n", label, kind, line);
	else
		printf("cdgate: %s: %s\n", label, line);
	fflush(stdout);
}

void
out_info(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	out_emit(NULL, fmt, ap);
	va_end(ap);
}

void
out_verdict(int code, int skip, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_emit(code != 0 ? "FAIL" : skip ? "SKIP" : "PASS", fmt, ap);
	va_end(ap);
}
