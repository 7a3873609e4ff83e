/*
 * fuzz_cloudinit: cloud-init's result.json and status.json through
 * cloudinit_check (file checks, json-c, the documented shapes).  Input:
 * result.json, a NUL byte, status.json (absent when there is no NUL).
 * Asserts cloudinit.h's rules: a pass only with an empty v1.errors, never
 * a pass for what is not of the documented shape; texts cleaned and cut.
 */
#include "fuzz.h"

#include "fmt/cloudinit.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cloudinit_report rep;
	struct status st;
	const char *rpath = fz_path(0, "result.json");
	const char *spath = fz_path(1, "status.json");
	const uint8_t *z = memchr(data, '\0', size);
	size_t rlen = z ? (size_t)(z - data) : size;
	int rc;

	fz_write(rpath, data, rlen);
	if (z != NULL)
		fz_write(spath, z + 1, size - rlen - 1);
	rc = cloudinit_check(rpath, z ? spath : NULL, &rep, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_FAIL || rc == ST_OSERR);
	FZ_ASSERT(!rep.pending);
	FZ_ASSERT(fz_printable(rep.datasource));
	FZ_ASSERT(fz_printable(rep.first_error));
	FZ_ASSERT(fz_printable(rep.first_recoverable));
	if (rc == ST_OK) {
		FZ_ASSERT(rep.nerrors == 0);
		/* a pass needs {"v1": {...}} at least */
		FZ_ASSERT(memchr(data, '{', rlen) != NULL);
	} else
		FZ_ASSERT(fz_printable(st.msg) && st.msg[0] != '\0');
	if (!rep.status_read && z != NULL)
		FZ_ASSERT(rep.nrecoverable == 0);
	return 0;
}
