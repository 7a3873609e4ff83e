/*
 * ec2.h: a client for the EC2 Query API, DescribeTags and CreateTags only
 * (docs/dev/aws.md).
 *
 * Rules:
 * - the endpoint is AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL, else
 *   https://ec2.REGION.DOMAIN with DOMAIN from instance metadata
 *   (meta-data/services/domain); an endpoint URL MUST be https://HOST[:PORT]
 *   with an optional trailing '/', and plain http:// is accepted only for
 *   a loopback host (127.0.0.0/8, [::1], localhost), which the tests use;
 * - the region is AWS_REGION, else AWS_DEFAULT_REGION, else instance
 *   metadata (meta-data/placement/region); requests are signed for service
 *   "ec2" and that region, whatever the endpoint;
 * - TLS verification is always on; AWS_CA_BUNDLE names the CA file;
 * - every request is POST / with a form body, signed by sigv4.c (never
 *   libcurl's signer) with the time of that attempt;
 * - replies are read with ec2xml.c (expat), never searched as text;
 * - throttling (RequestLimitExceeded, Throttling, ..., HTTP 429), HTTP 500,
 *   502, 503, 504, RequestTimeout and connection errors are retried with
 *   full jitter, sleep = random(0, min(cap, base * 2^attempt)), base
 *   EC2_BACKOFF_BASE_MS and cap EC2_BACKOFF_CAP_MS, until the caller's
 *   deadline; UnauthorizedOperation (ST_NOPERM, naming the missing
 *   permission), AuthFailure, InvalidClientTokenId, SignatureDoesNotMatch
 *   (ST_NOPERM) and RequestExpired (ST_NOPERM, naming clock skew) fail at
 *   once; a malformed or oversized reply fails at once with ST_UNAVAIL;
 * - credentials come from creds.h and MUST never appear in a message.
 *
 * Test-only: CDGATE_TEST_BACKOFF_MS=N (1..60000) replaces the base of every
 * backoff with N ms and the cap with 20 * N ms, so that the black-box tests
 * of retries run in a fraction of a second.  Not for production use.
 * Test-only: CDGATE_TEST_FIXED_RETRY_MS=N (1..60000) makes every retry
 * wait exactly N ms, without jitter or growth: the naive fixed-interval
 * policy the fleet benchmark compares with (docs/dev/bench.md).  Not for
 * production use.
 */
#ifndef CDGATE_EC2_H
#define CDGATE_EC2_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "aws/creds.h"
#include "aws/ec2xml.h"
#include "aws/http.h"
#include "aws/imds.h"
#include "base/status.h"

#define EC2_API_VERSION     "2016-11-15"
#define EC2_ATTEMPT_MS      10000	/* one request, at most */
#define EC2_CONNECT_MS      3000
#define EC2_BACKOFF_BASE_MS 1000
#define EC2_BACKOFF_CAP_MS  20000
#define EC2_TEST_BACKOFF    "CDGATE_TEST_BACKOFF_MS"
#define EC2_TEST_FIXED_RETRY "CDGATE_TEST_FIXED_RETRY_MS"
#define EC2_MAX_RESULTS     100		/* DescribeTags MaxResults per page */
#define EC2_CAP_PAGES       20		/* DescribeTags pages per call */
#define EC2_CAP_KEYS        (2 * CAP_TAGS)	/* keys asked for at once */
#define EC2_CAP_BODY        (256 * 1024)	/* one request body, bytes */
#define EC2_CAP_HOST        288		/* Host header value */
#define EC2_CAP_DOMAIN      128		/* services/domain */

enum ec2_class {
	EC2_C_OK,		/* 2xx */
	EC2_C_THROTTLE,		/* retried */
	EC2_C_TRANSIENT,	/* retried */
	EC2_C_DENIED,		/* UnauthorizedOperation */
	EC2_C_AUTH,		/* the credentials or signature refused */
	EC2_C_EXPIRED,		/* RequestExpired: clock skew */
	EC2_C_OTHER		/* any other error: not retried */
};

struct ec2_endpoint {
	char url[CAP_URL];		/* "https://host[:port]/" */
	char host[EC2_CAP_HOST];	/* the Host header: host[:port] */
	int https;
	int loopback;
	const char *source;		/* static: where it came from */
};

struct ec2 {
	struct http *http;
	struct imds *imds;		/* NULL: no instance metadata */
	struct ec2_endpoint ep;
	char region[CAP_REGION];
	const char *region_source;	/* static */
	char ca_file[CAP_PATH];		/* "" for the system store */
	struct creds creds;
	long base_ms, cap_ms;		/* backoff */
	unsigned long requests;		/* HTTP requests sent */
	unsigned long retries;		/* of them, retries */
	char last_retry[96];		/* why the last retry happened */
};

/*
 * Resolves region and endpoint and loads the credentials; m may be NULL
 * when instance metadata is off.  ST_OK, or ST_CONFIG (bad environment),
 * ST_NOPERM (no credentials), ST_UNAVAIL (IMDS).
 */
int ec2_open(struct ec2 *e, struct imds *m, int64_t deadline,
    struct status *st);
/* Frees the connection and wipes the credentials. */
void ec2_close(struct ec2 *e);
/* "region R, endpoint URL (from SOURCE), CREDS" for progress lines. */
void ec2_describe(const struct ec2 *e, char *buf, size_t len);

/*
 * DescribeTags for one instance and the given keys (nkeys 1..EC2_CAP_KEYS),
 * following NextToken.  Fills out[0..*n) (at most cap items, one per key,
 * only for that instance).  ST_OK or an error as the rules say.
 */
int ec2_describe_tags(struct ec2 *e, const char *instance_id,
    const char *const *keys, size_t nkeys, int64_t deadline,
    struct ec2xml_tag *out, size_t cap, size_t *n, struct status *st);
/* CreateTags on one instance: keys[i] = values[i], n 1..CAP_TAGS. */
int ec2_create_tags(struct ec2 *e, const char *instance_id,
    const char *const *keys, const char *const *values, size_t n,
    int64_t deadline, struct status *st);

/* Pure parts, for the unit tests. */

/* Checks url (from `source`) and fills ep; ST_OK or ST_CONFIG. */
int ec2_parse_endpoint(const char *url, const char *source,
    struct ec2_endpoint *ep, struct status *st);
/*
 * The endpoint from the environment's two URLs (either may be NULL or ""),
 * else https://ec2.REGION.DOMAIN; domain NULL or "" means the partition's
 * default for the region.  ST_OK or ST_CONFIG.
 */
int ec2_resolve_endpoint(const char *url_ec2, const char *url_any,
    const char *region, const char *domain, struct ec2_endpoint *ep,
    struct status *st);
/* 1 when region looks like an AWS region name ("us-east-1"). */
int ec2_region_ok(const char *region);
/* 1 when domain looks like a services/domain value. */
int ec2_domain_ok(const char *domain);
/* Classifies a reply by HTTP status and error code ("" when none). */
enum ec2_class ec2_classify(long http_status, const char *code);
/* Escapes '*', '?' and '\' of a filter value; 0 or -1 (too long). */
int ec2_filter_escape(char *dst, size_t len, const char *src);
/*
 * The backoff base and cap: EC2_BACKOFF_BASE_MS and EC2_BACKOFF_CAP_MS, or
 * the test-only value of env (CDGATE_TEST_BACKOFF_MS) when valid.
 */
void ec2_backoff_params(const char *env, long *base, long *cap);
/*
 * A polling delay for waits that read tags again (the tags check,
 * cdgate-tag's confirmation): min(cap/2, base * 2^attempt) halved plus
 * jitter of the other half, so polls never come back to back.
 */
int64_t ec2_poll_delay(int attempt);

#endif
