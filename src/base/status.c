#include "base/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"

int
status_set(struct status *st, int code, const char *fmt, ...)
{
	char raw[CAP_MSG];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		text_copy(raw, "(message could not be formatted)", sizeof(raw));
	st->code = code;
	text_clean(st->msg, sizeof(st->msg), raw, strlen(raw));
	return code;
}

int
status_wrap(struct status *st, const char *fmt, ...)
{
	char pre[CAP_MSG], raw[CAP_MSG * 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	if (n < 0)
		pre[0] = '\0';
	n = snprintf(raw, sizeof(raw), "%s: %s", pre, st->msg);
	if (n < 0)
		return st->code;
	text_clean(st->msg, sizeof(st->msg), raw, strlen(raw));
	return st->code;
}

int
status_sys(int err, int code)
{
	return err == EMFILE || err == ENFILE || err == ENOMEM ||
	    err == ENOBUFS ? ST_OSERR : code;
}

void
status_clear(struct status *st)
{
	st->code = ST_OK;
	st->msg[0] = '\0';
}

const char *
status_name(int code)
{
	switch (code) {
	case ST_OK:		return "pass";
	case ST_FAIL:		return "fail";
	case ST_TIMEOUT:	return "timeout";
	case ST_TERM:		return "terminated";
	case ST_USAGE:		return "usage";
	case ST_UNAVAIL:	return "unavailable";
	case ST_SOFTWARE:	return "internal error";
	case ST_OSERR:		return "system error";
	case ST_NOPERM:		return "permission denied";
	case ST_CONFIG:		return "configuration error";
	}
	return "unknown";
}
