/*
 * notice.h: EC2's notices about this instance, read from instance metadata
 * (IMDSv2, through imds_get): a Spot interruption, a rebalance
 * recommendation and scheduled maintenance events.  Each item has a pure
 * parser (a 200 reply's bytes to a struct: unit tests, fuzzing) and a
 * reader (imds_get, then the parser).
 *
 * Items (below /latest/):
 *   NOTICE_ITEM_SPOT       {"action": "terminate"|"stop"|"hibernate",
 *                           "time": "2026-12-06T12:00:00Z"}
 *   NOTICE_ITEM_REBALANCE  {"noticeTime": "2026-12-06T11:58:00Z"}
 *   NOTICE_ITEM_SCHEDULED  [{"Code": ..., "State": ..., "NotBefore": ...,
 *                            "NotAfter": ..., "Description": ...,
 *                            "EventId": ...}, ...]   (may be [])
 *
 * Rules:
 * - only HTTP 404 means "no notice" (and, for the scheduled events, a 200
 *   with no active event); every other reply is a notice or an error, never
 *   "none": fail closed;
 * - an error is ST_UNAVAIL (or imds_get's code) with a message naming the
 *   item: malformed JSON, trailing bytes after it (blanks aside), a wrong
 *   JSON type, a missing member, an unknown action or State, a time that
 *   does not parse, a 200 with an empty body; the readers prefix imds_get's
 *   own errors with the notice's name;
 * - a reply over CAP_IMDS_BODY is refused by the transport ("reply larger
 *   than 65536 bytes"), never parsed truncated, and not retried; the
 *   parsers refuse len > CAP_IMDS_BODY too; no memory grows with the body
 *   beyond json-c's tree of one capped reply;
 * - a 401 is imds_get's: one fresh token, then an error;
 * - times are either form of base/utc.h ("21 Jan 2019 09:00:43 GMT", the
 *   form AWS documents for the scheduled events, or ISO 8601 UTC), in any
 *   of the three items; anything else is an error; the text is kept as
 *   sent (then plain ASCII) next to its epoch seconds (UTC);
 * - free text (Description, EventId, an unknown Code) is never an error:
 *   it is cleaned with text_clean (valid UTF-8, no control characters, cut
 *   with "..." when longer than its field), whether its bad bytes came
 *   raw (the readers take the reply as bytes, imds_get_bytes) or as JSON
 *   escapes (\u0007, \udc80); a NUL byte outside a string is bad JSON;
 * - an unknown Code is kept (NOTICE_CODE_OTHER, its text in code_text):
 *   an event of a new kind is still an event;
 * - scheduled events: State "completed" and "canceled" ones are dropped
 *   (counted in n_done), after being checked like the others; of the
 *   "active" ones (all counted in n_active) the NOTICE_MAX_EVENTS with the
 *   earliest NotBefore are kept in ev[], earliest first (ties in the
 *   reply's order), so the first one decides "starts before a deadline";
 * - nothing static or global: readers may run in several threads at once,
 *   each with its own struct imds (which is not thread-safe);
 * - no frame over 4 KiB: the reply buffer is malloc'd; struct
 *   notice_events is about 8 KiB, so callers MUST allocate it (calloc),
 *   never put it on the stack (programs run under ulimit -s 128).
 */
#ifndef CDGATE_NOTICE_H
#define CDGATE_NOTICE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws/imds.h"
#include "base/status.h"

#define NOTICE_ITEM_SPOT      "meta-data/spot/instance-action"
#define NOTICE_ITEM_REBALANCE "meta-data/events/recommendations/rebalance"
#define NOTICE_ITEM_SCHEDULED "meta-data/events/maintenance/scheduled"

#define NOTICE_MAX_EVENTS 16	/* active scheduled events kept */
#define NOTICE_CAP_TIME   40	/* a time as sent, bytes + NUL */
#define NOTICE_CAP_CODE   40	/* an event Code, cleaned */
#define NOTICE_CAP_ID     80	/* an EventId, cleaned */
#define NOTICE_CAP_DESC   256	/* a Description, cleaned */
#define NOTICE_JSON_DEPTH 8	/* nesting json-c may follow */

enum notice_action {
	NOTICE_ACTION_NONE = 0,
	NOTICE_TERMINATE,
	NOTICE_STOP,
	NOTICE_HIBERNATE
};

enum notice_code {
	NOTICE_CODE_OTHER = 0,		/* not one of those below */
	NOTICE_INSTANCE_REBOOT,
	NOTICE_SYSTEM_REBOOT,
	NOTICE_SYSTEM_MAINTENANCE,
	NOTICE_INSTANCE_RETIREMENT,
	NOTICE_INSTANCE_STOP
};

/* meta-data/spot/instance-action */
struct notice_spot {
	int present;			/* 0: no notice (404) */
	int action;			/* enum notice_action */
	char time[NOTICE_CAP_TIME];	/* as sent */
	time_t when;			/* the same, UTC epoch seconds */
};

/* meta-data/events/recommendations/rebalance */
struct notice_rebalance {
	int present;			/* 0: no notice (404) */
	char time[NOTICE_CAP_TIME];	/* noticeTime as sent */
	time_t when;
};

/* One active scheduled event. */
struct notice_event {
	int code;			/* enum notice_code */
	char code_text[NOTICE_CAP_CODE];	/* Code, cleaned */
	char not_before[NOTICE_CAP_TIME];	/* as sent */
	time_t start;			/* NotBefore, UTC epoch seconds */
	int has_end;			/* NotAfter given (not absent/null) */
	char not_after[NOTICE_CAP_TIME];	/* as sent, or "" */
	time_t end;			/* NotAfter, or 0 */
	char id[NOTICE_CAP_ID];		/* EventId, cleaned, or "" */
	char desc[NOTICE_CAP_DESC];	/* Description, cleaned, or "" */
};

/* meta-data/events/maintenance/scheduled: about 8 KiB, allocate it. */
struct notice_events {
	size_t n;			/* kept in ev[], earliest start first */
	size_t n_active;		/* active events in the reply (>= n) */
	size_t n_done;			/* completed or canceled: dropped */
	struct notice_event ev[NOTICE_MAX_EVENTS];
};

/*
 * Readers: ST_OK with the notice, or with none (present 0, n 0) on a 404;
 * otherwise as the rules say (out then holds no notice, and that MUST NOT
 * be read as "none").
 */
int notice_read_spot(struct imds *m, int64_t deadline,
    struct notice_spot *out, struct status *st);
int notice_read_rebalance(struct imds *m, int64_t deadline,
    struct notice_rebalance *out, struct status *st);
int notice_read_events(struct imds *m, int64_t deadline,
    struct notice_events *out, struct status *st);

/*
 * Parsers of a 200 reply's body[0..len) (body need not be NUL-terminated).
 * ST_OK (present 1), ST_UNAVAIL with a message naming the item, or
 * ST_OSERR (no memory); on an error out holds no notice.
 */
int notice_parse_spot(const char *body, size_t len, struct notice_spot *out,
    struct status *st);
int notice_parse_rebalance(const char *body, size_t len,
    struct notice_rebalance *out, struct status *st);
int notice_parse_events(const char *body, size_t len,
    struct notice_events *out, struct status *st);

/* "terminate", "stop", "hibernate", or "none". */
const char *notice_action_name(int action);

#endif
