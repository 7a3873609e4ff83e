/*
 * utc.h: wall-clock times as AWS writes them, parsed to UTC epoch seconds.
 * The one parser for every AWS time: role credentials' Expiration, EC2's
 * notices (aws/notice.h).
 *
 * Rules:
 * - ISO 8601 in UTC only: "2026-12-06T12:00:00Z", with an optional
 *   fraction of 1 to 9 digits ("...00.123Z"); no other zone, no offset;
 * - or the form of EC2's scheduled events: "21 Jan 2019 09:00:43 GMT" (a
 *   day of one or two digits, the English month as written, GMT only);
 * - the whole string, nothing before or after it; a day that does not
 *   exist (30 February), a leap second, or a year before 1970 or after
 *   9999 is an error;
 * - no locale, no time zone database, no static state: any thread.
 */
#ifndef CDGATE_UTC_H
#define CDGATE_UTC_H

#include <time.h>

/* Either form; 0, or -1 when s is not one. */
int utc_parse(const char *s, time_t *out);
/* The ISO 8601 form only; 0 or -1. */
int utc_parse_iso(const char *s, time_t *out);

#endif
