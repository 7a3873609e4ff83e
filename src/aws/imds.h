/*
 * imds.h: an IMDSv2 client (docs/dev/aws.md).
 *
 * Rules:
 * - one token per run (PUT /latest/api/token); a 401 gets one fresh token,
 *   then fails;
 * - the endpoint is http://169.254.169.254, [fd00:ec2::254] with
 *   AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, or
 *   AWS_EC2_METADATA_SERVICE_ENDPOINT; AWS_EC2_METADATA_DISABLED=true
 *   disables it;
 * - plain http only, no proxy ever, no redirects;
 * - 429, 5xx and timeouts are retried with full-jitter backoff until the
 *   caller's deadline; 403 (disabled) and other codes are not retried;
 * - 200 and 404 are answers; the caller decides what 404 means.
 */
#ifndef CDGATE_IMDS_H
#define CDGATE_IMDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "aws/http.h"
#include "base/status.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_DEFAULT_V6 "http://[fd00:ec2::254]"
#define IMDS_TOKEN_TTL 21600
#define IMDS_ATTEMPT_MS 2000	/* one request, at most */
#define IMDS_CONNECT_MS 1000
#define IMDS_BACKOFF_BASE_MS 200
#define IMDS_BACKOFF_CAP_MS 5000
#define IMDS_LINE 256		/* a one-line item read to be checked */

struct imds {
	struct http *http;
	char base[CAP_URL];
	char token[CAP_TOKEN];
	int have_token;
	int disabled;
	unsigned long tokens;	/* tokens fetched */
};

/* Reads the environment; ST_OK or ST_CONFIG (bad endpoint variable). */
int imds_init(struct imds *m, struct status *st);
void imds_free(struct imds *m);
/*
 * GETs /latest/ITEM.  ST_OK with *code 200 or 404 and the body in buf
 * (NUL-terminated, at most cap-1 bytes, else an error); otherwise
 * ST_UNAVAIL (or ST_TIMEOUT when the deadline passed while retrying).
 */
int imds_get(struct imds *m, const char *item, int64_t deadline, char *buf,
    size_t cap, long *code, struct status *st);
/*
 * As imds_get, without refusing a body that is not UTF-8 text: for a
 * caller that parses the bytes itself and cleans what it keeps (JSON whose
 * free text EC2 does not promise to be valid UTF-8).  *len is the body's
 * length (it may hold NUL bytes); buf is NUL-terminated after it.
 */
int imds_get_bytes(struct imds *m, const char *item, int64_t deadline,
    char *buf, size_t cap, size_t *len, long *code, struct status *st);
/*
 * GETs a one-line item (an id, a state, a region) into out, blanks
 * trimmed: ST_OK with *code 200, or 404 and ""; ST_UNAVAIL when it does
 * not fit in len.
 */
int imds_get_line(struct imds *m, const char *item, int64_t deadline,
    char *out, size_t len, long *code, struct status *st);
/* Requests sent so far (tokens included). */
unsigned long imds_requests(const struct imds *m);
/*
 * 1 when id looks like an EC2 instance id: "i-" and 8 to 17 lower-case hex
 * digits ("i-0123456789abcdef0").  The one check, for IMDS replies, EC2
 * requests and --instance-id alike.
 */
int imds_instance_id_ok(const char *id);
/* Gets meta-data/instance-id, checked with imds_instance_id_ok. */
int imds_instance_id(struct imds *m, int64_t deadline, char *out,
    size_t len, struct status *st);

#endif
