/*
 * creds.h: AWS credentials for signing EC2 requests (docs/dev/aws.md).
 *
 * Rules:
 * - the environment comes first: AWS_ACCESS_KEY_ID with
 *   AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN when set); a key without
 *   a secret, or a secret or token without a key, MUST be an error, never
 *   a silent fall-through to the instance role;
 * - else the instance role: meta-data/iam/security-credentials/ names the
 *   role, .../ROLE gives JSON that MUST have Code "Success", an
 *   AccessKeyId, a SecretAccessKey, a Token and an Expiration
 *   (YYYY-MM-DDTHH:MM:SSZ, UTC);
 * - role credentials MUST be fetched again when less than
 *   CREDS_REFRESH_S seconds are left before their Expiration (IMDS has
 *   new ones by then), and refused once expired;
 * - a secret or a token MUST never be printed, logged or put in a message;
 *   every copy this module makes is wiped with OPENSSL_cleanse, by
 *   creds_free and before it is replaced.
 */
#ifndef CDGATE_CREDS_H
#define CDGATE_CREDS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws/imds.h"
#include "aws/sigv4.h"
#include "base/status.h"

#define CREDS_REFRESH_S 300	/* re-fetch role credentials this close */
#define CREDS_CAP_ROLE  128	/* an IAM role name, bytes + NUL (max 64) */
#define CREDS_ROLE_ITEM "meta-data/iam/security-credentials/"

enum creds_from { CREDS_NONE, CREDS_ENV, CREDS_ROLE };

struct creds {
	int from;				/* enum creds_from */
	char access_key[SIGV4_CAP_ACCESS_KEY];
	char secret_key[SIGV4_CAP_SECRET];
	char token[SIGV4_CAP_HEADER_VALUE];	/* "" for long-term keys */
	char role[CREDS_CAP_ROLE];		/* CREDS_ROLE: the role name */
	time_t expiration;			/* CREDS_ROLE: UTC; else 0 */
	unsigned long fetches;			/* role credential fetches */
};

/*
 * Loads credentials: the environment, else the instance role through m
 * (NULL: no instance metadata; the environment must then have them).
 * ST_OK; ST_CONFIG for a partial environment; ST_UNAVAIL (or the IMDS
 * code) when the role cannot be read; ST_NOPERM when the instance has no
 * role or IMDS refuses its credentials.
 */
int creds_load(struct creds *c, struct imds *m, int64_t deadline,
    struct status *st);
/*
 * Makes sure c can sign now: re-fetches role credentials when fewer than
 * CREDS_REFRESH_S seconds are left; ST_OK or as creds_load.
 */
int creds_fresh(struct creds *c, struct imds *m, int64_t deadline,
    struct status *st);
/* The signer's view of c (pointers into c). */
void creds_sigv4(const struct creds *c, struct sigv4_cred *out);
/* Where the credentials came from, for messages: never a secret. */
const char *creds_source(const struct creds *c, char *buf, size_t len);
/* Wipes every secret in c. */
void creds_free(struct creds *c);

/* Pure parts, for the unit tests. */

/*
 * Reads the environment's three variables (any may be NULL or "").
 * ST_OK with c->from CREDS_ENV, or CREDS_NONE when none is set;
 * ST_CONFIG for a partial or oversized set.
 */
int creds_from_env(struct creds *c, const char *key, const char *secret,
    const char *token, struct status *st);
/*
 * Parses the role's JSON document json[0..len) into c (CREDS_ROLE).
 * ST_OK; ST_NOPERM when Code is not "Success"; ST_UNAVAIL when the
 * document is malformed, incomplete or over a cap.
 */
int creds_parse_role(struct creds *c, const char *role, const char *json,
    size_t len, struct status *st);
/* 1 when c must be fetched again at wall time now. */
int creds_need_refresh(const struct creds *c, time_t now);

#endif
