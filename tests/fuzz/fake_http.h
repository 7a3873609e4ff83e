/*
 * fake_http.h: the parts of a fake transport that every fake shares: the
 * handle and every http.h function but http_do, which the includer writes
 * (tests/fuzz/fake.h: a scripted one; tests/unit/test_regress.c: no server,
 * or a tiny instance metadata).  Included by one file of each binary: its
 * definitions replace http.o of libcdgate.a (the linker takes no archive
 * member whose symbols are all defined already).
 */
#ifndef CDGATE_FAKE_HTTP_H
#define CDGATE_FAKE_HTTP_H

#include <stdlib.h>
#include <string.h>

#include "aws/http.h"
#include "base/status.h"

struct http {
	unsigned long count;
};

int
http_global_init(struct status *st)
{
	(void)st;
	return ST_OK;
}

struct http *
http_new(struct status *st)
{
	struct http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		status_set(st, ST_OSERR, "out of memory");
	return h;
}

void
http_free(struct http *h)
{
	free(h);
}

unsigned long
http_count(const struct http *h)
{
	return h->count;
}

/* scheme://authority as given: enough for a fake transport */
int
http_origin(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (p == NULL)
		return -1;
	n = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
	if (n >= len)
		return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

void
http_resp_free(struct http_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

#endif
