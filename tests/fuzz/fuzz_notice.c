/*
 * fuzz_notice: EC2's notices in instance metadata (notice.h).  Input: the
 * whole of it is a reply body, given to each of the three parsers; up to
 * its first NUL it is also a time for utc_parse.  Asserts
 * notice.h's rules: an error leaves no notice and a message naming the
 * item; a notice has a known action and a time that reads back to the same
 * epoch; free text is valid UTF-8 without control characters; at most
 * NOTICE_MAX_EVENTS active events are kept, earliest first, and the counts
 * add up; a time accepted is one of the two forms and reads back exactly.
 */
#include "fuzz.h"

#include <time.h>

#include "aws/notice.h"
#include "base/text.h"
#include "base/utc.h"

static int
clean(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	return n < cap && text_utf8_valid(s, n) && fz_printable(s);
}

/* the time text as kept: it parses to the same epoch */
static void
check_time(const char *text, time_t when)
{
	time_t again;

	FZ_ASSERT(clean(text, NOTICE_CAP_TIME));
	FZ_ASSERT(utc_parse(text, &again) == 0 && again == when);
}

static void
check_error(int rc, const struct status *st, const char *item)
{
	FZ_ASSERT(rc == ST_UNAVAIL || rc == ST_OSERR);
	FZ_ASSERT(text_utf8_valid(st->msg, strlen(st->msg)) &&
	    fz_printable(st->msg));
	if (rc == ST_UNAVAIL)
		FZ_ASSERT(strstr(st->msg, item) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct notice_events *e;
	struct notice_spot sp;
	struct notice_rebalance rb;
	struct status st;
	const char *body = (const char *)data;
	char *tm, back[64];
	struct tm g;
	time_t t;
	size_t i, n;
	int rc;
	struct fz f;

	/* body is not NUL-terminated: ASan sees any read past size */
	memset(&st, 0, sizeof(st));
	rc = notice_parse_spot(body, size, &sp, &st);
	if (rc == ST_OK) {
		FZ_ASSERT(sp.present == 1);
		FZ_ASSERT(sp.action == NOTICE_TERMINATE ||
		    sp.action == NOTICE_STOP || sp.action == NOTICE_HIBERNATE);
		check_time(sp.time, sp.when);
	} else {
		check_error(rc, &st, NOTICE_ITEM_SPOT);
		FZ_ASSERT(sp.present == 0 && sp.action == 0);
	}

	memset(&st, 0, sizeof(st));
	rc = notice_parse_rebalance(body, size, &rb, &st);
	if (rc == ST_OK) {
		FZ_ASSERT(rb.present == 1);
		check_time(rb.time, rb.when);
	} else {
		check_error(rc, &st, NOTICE_ITEM_REBALANCE);
		FZ_ASSERT(rb.present == 0);
	}

	if ((e = malloc(sizeof(*e))) == NULL)
		abort();
	memset(&st, 0, sizeof(st));
	rc = notice_parse_events(body, size, e, &st);
	if (rc == ST_OK) {
		FZ_ASSERT(e->n <= NOTICE_MAX_EVENTS && e->n <= e->n_active);
		FZ_ASSERT(e->n == (e->n_active < NOTICE_MAX_EVENTS ?
		    e->n_active : NOTICE_MAX_EVENTS));
		for (i = 0; i < e->n; i++) {
			const struct notice_event *v = &e->ev[i];

			check_time(v->not_before, v->start);
			if (v->has_end)
				check_time(v->not_after, v->end);
			else
				FZ_ASSERT(v->not_after[0] == '\0' &&
				    v->end == 0);
			FZ_ASSERT(i == 0 || e->ev[i - 1].start <= v->start);
			FZ_ASSERT(v->code >= NOTICE_CODE_OTHER &&
			    v->code <= NOTICE_INSTANCE_STOP);
			FZ_ASSERT(clean(v->code_text, NOTICE_CAP_CODE));
			FZ_ASSERT(clean(v->id, NOTICE_CAP_ID));
			FZ_ASSERT(clean(v->desc, NOTICE_CAP_DESC));
		}
	} else {
		check_error(rc, &st, NOTICE_ITEM_SCHEDULED);
		FZ_ASSERT(e->n == 0 && e->n_active == 0 && e->n_done == 0);
	}
	free(e);

	fz_init(&f, data, size);
	tm = fz_field(&f);
	if (utc_parse(tm, &t) == 0) {
		/* one of the two forms, read back exactly (but for the
		 * fraction and a day's leading zero) */
		n = strlen(tm);
		FZ_ASSERT(n < NOTICE_CAP_TIME && gmtime_r(&t, &g) != NULL);
		if (tm[n - 1] == 'Z') {
			strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%S", &g);
			FZ_ASSERT(strncmp(back, tm, 19) == 0);
		} else {
			snprintf(back, sizeof(back), "%d %s %04d %02d:%02d:%02d "
			    "GMT", g.tm_mday, mon[g.tm_mon], g.tm_year + 1900,
			    g.tm_hour, g.tm_min, g.tm_sec);
			FZ_ASSERT(strcmp(back, tm[0] == '0' ? tm + 1 : tm) ==
			    0);
		}
	}
	fz_free(&f);
	return 0;
}
