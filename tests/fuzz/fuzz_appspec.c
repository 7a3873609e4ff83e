/*
 * fuzz_appspec: any bytes as an appspec, through appspec_parse and, as a
 * file beside a program in the target's private directory, through
 * appspec_lookup (file checks, the walk, matching by inode) and
 * appspec_deadline.  The first byte picks the event (low nibble) and
 * whether the file is looked up too (0x10).  Asserts appspec.h's rules:
 * ST_OK or ST_CONFIG (ST_OSERR for memory) only; an error names the file
 * and, from the parser, a line, printably; entries within their caps, each
 * with a location and a timeout of 1..APPSPEC_TIMEOUT_MAX or a printable
 * reason; a matched timeout never lengthens the configured deadline.
 */
#include "fuzz.h"

#include "fmt/appspec.h"
#include "base/event.h"

static void
check_doc(const struct appspec_doc *d)
{
	size_t i;

	FZ_ASSERT(d->n <= CAP_APPSPEC_ENTRIES);
	for (i = 0; i < d->n; i++) {
		const struct appspec_entry *e = &d->ent[i];

		FZ_ASSERT(e->location[0] != '\0');
		FZ_ASSERT(strlen(e->location) < CAP_APPSPEC_LOCATION);
		FZ_ASSERT(e->line >= 1 && e->tline >= e->line);
		if (e->bad[0] != '\0') {
			FZ_ASSERT(e->timeout == 0);
			FZ_ASSERT(fz_printable(e->bad));
		} else
			FZ_ASSERT(e->timeout >= 1 &&
			    e->timeout <= APPSPEC_TIMEOUT_MAX);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct appspec_doc d;
	static const char path[] = "/fuzz/appspec.yml";
	struct appspec_result r;
	struct status st;
	const char *event, *prog, *spec;
	char *text;
	size_t len;
	unsigned mode;
	long in_force;
	int rc, from;
	struct fz f;

	if (size == 0 || size > CAP_APPSPEC_FILE + 16)
		return 0;
	fz_init(&f, data, size);
	mode = fz_byte(&f);
	event = event_name((enum event)((mode & 0xf) % EV_COUNT));
	text = fz_rest(&f, &len);
	rc = appspec_parse(path, text, len, event, &d, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_CONFIG || rc == ST_OSERR);
	if (rc == ST_OK)
		check_doc(&d);
	else {
		FZ_ASSERT(d.n == 0);
		FZ_ASSERT(fz_printable(st.msg));
		if (rc == ST_CONFIG)
			FZ_ASSERT(strncmp(st.msg, "appspec '/fuzz/appspec.yml' "
			    "line ", 33) == 0 && st.msg[33] >= '1' &&
			    st.msg[33] <= '9');
	}
	/* the file, looked up from a program beside it; no `..` walks out */
	if ((mode & 0x10) && memmem(text, len, "..", 2) == NULL) {
		prog = fz_path(0, "before-install");
		spec = fz_path(1, "appspec.yml");
		fz_write(prog, "x", 1);
		fz_write(spec, text, len);
		rc = appspec_lookup(prog, event, &r, &st);
		FZ_ASSERT(rc == ST_OK || rc == ST_CONFIG || rc == ST_OSERR);
		FZ_ASSERT(r.found);
		if (rc != ST_OK)
			FZ_ASSERT(fz_printable(st.msg) && strncmp(st.msg,
			    "appspec '", 9) == 0);
		else if (r.matched) {
			FZ_ASSERT(r.timeout >= 1 &&
			    r.timeout <= APPSPEC_TIMEOUT_MAX);
			rc = appspec_deadline(300, &r, &in_force, &from, &st);
			FZ_ASSERT(rc == ST_OK || rc == ST_CONFIG);
			FZ_ASSERT(in_force >= 1 && in_force <= 300);
			FZ_ASSERT(rc != ST_OK || in_force <= r.timeout -
			    APPSPEC_MARGIN || !from);
		}
	}
	fz_free(&f);
	return 0;
}
