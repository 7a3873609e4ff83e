/*
 * fake.h: a scripted HTTP transport and a virtual clock for the fuzz
 * targets of the clients (fuzz_imds, fuzz_ec2).  Included by one target
 * each: its definitions replace http.o and mono.o of libcdgate.a (the
 * linker takes no archive member whose symbols are all defined already).
 *
 * The script is the fuzz input: replies of [kind][len lo][len hi][body].
 * kind & 7: 0 200, 1 404, 2 401, 3 403, 4 429, 5 500/503, 6 a transport
 * error (timed out when kind & 8), 7 any status (kind >> 3).  A body longer
 * than the request's cap fails as http.c does (oversize).  Past the end of
 * the script every request fails to connect.
 *
 * Every request is checked against http.h's and the client's rules
 * (fake_check, set by the target): the transport is the place where they
 * can be seen.  Every request costs 1 ms of virtual time; sleeps add
 * theirs, so every retry loop ends at its deadline.
 */
#ifndef CDGATE_FUZZ_FAKE_H
#define CDGATE_FUZZ_FAKE_H

#include "fuzz.h"

#include "fake_http.h"
#include "base/mono.h"

static const uint8_t *fake_p;
static size_t fake_n;
static int64_t fake_now = 1000000;
static int64_t fake_deadline;		/* the caller's, for the checks */
static unsigned long fake_requests;
static void (*fake_check)(const struct http_req *req);

static void
fake_script(const uint8_t *p, size_t n, int64_t deadline_in)
{
	fake_p = p;
	fake_n = n;
	fake_deadline = fake_now + deadline_in;
	fake_requests = 0;
}

int64_t
mono_ms(void)
{
	return fake_now;
}

int64_t
mono_left(int64_t deadline)
{
	return deadline > fake_now ? deadline - fake_now : 0;
}

void
mono_sleep(int64_t ms)
{
	FZ_ASSERT(ms >= 0 && ms <= 60000);
	fake_now += ms;
}

int64_t
mono_jitter(int64_t n)
{
	return n > 0 ? n / 2 + (fake_requests % 2) : 0;
}

void
mono_utc(char out[21])
{
	memcpy(out, "2026-01-01T00:00:00Z", 21);
}

int
http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
    struct status *st)
{
	static const long statuses[] = { 200, 404, 401, 403, 429, 500 };
	unsigned kind;
	size_t len;

	memset(resp, 0, sizeof(*resp));
	h->count++;
	fake_requests++;
	/* http.h: protocols limited, caps and timeouts always given */
	FZ_ASSERT(req->url != NULL && req->method != NULL);
	FZ_ASSERT(req->protocols != 0 &&
	    (req->protocols & ~(HTTP_PROTO_HTTP | HTTP_PROTO_HTTPS)) == 0);
	FZ_ASSERT(req->cap > 0 && req->total_ms > 0);
	if (fake_check != NULL)
		fake_check(req);
	fake_now += 1;
	if (fake_n < 3) {
		fake_n = 0;
		return status_set(st, ST_UNAVAIL, "Failed to connect");
	}
	kind = fake_p[0];
	len = (size_t)fake_p[1] | (size_t)fake_p[2] << 8;
	fake_p += 3;
	fake_n -= 3;
	if (len > fake_n)
		len = fake_n;
	if ((kind & 7) == 6) {
		fake_now += (kind & 8) ? req->total_ms : 0;
		resp->timed_out = (kind & 8) != 0;
		return status_set(st, ST_UNAVAIL, "transport error");
	}
	if (len > req->cap) {
		fake_p += len;
		fake_n -= len;
		resp->oversize = 1;
		return status_set(st, ST_UNAVAIL, "reply larger than %zu "
		    "bytes", req->cap);
	}
	resp->status = (kind & 7) == 7 ? 100 + (long)(kind >> 3) * 17 % 500 :
	    (kind & 7) == 5 ? 500 + (kind & 8 ? 3 : 0) : statuses[kind & 7];
	if ((resp->body = malloc(len + 1)) == NULL)
		abort();
	memcpy(resp->body, fake_p, len);
	resp->body[len] = '\0';
	resp->len = len;
	fake_p += len;
	fake_n -= len;
	return ST_OK;
}

#endif
