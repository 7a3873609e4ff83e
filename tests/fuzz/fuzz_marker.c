/*
 * fuzz_marker: the provisioning marker through markerfile_read (file checks,
 * strict INI, required keys, %XX tag keys), then markerfile_verify and
 * markerfile_format.  Asserts markerfile.h's rules: ST_OK or ST_FAIL only; a
 * marker read is complete (status, instance id, boot id, time); a
 * formatted marker reads back the same.
 */
#include "fuzz.h"

#include "fmt/markerfile.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct markerfile m, m2;
	static char buf[CAP_MARKER_FILE * 4];
	struct status st;
	const char *path = fz_path(0, "provisioned");
	const char *path2 = fz_path(1, "again");
	int absent, other, rc;
	size_t i;

	if (size > CAP_MARKER_FILE + 16)
		return 0;
	fz_write(path, data, size);
	rc = markerfile_read(path, &m, &absent, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_FAIL);
	FZ_ASSERT(!absent);
	FZ_ASSERT(rc == ST_OK || fz_printable(st.msg));
	if (rc != ST_OK)
		return 0;
	FZ_ASSERT(m.instance_id[0] != '\0' && strlen(m.finished_at) == 20);
	FZ_ASSERT(m.ntags <= CAP_TAGS);
	rc = markerfile_verify(path, &m, "i-0123456789abcdef0", NULL, &other, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_FAIL);
	rc = markerfile_verify(path, &m, NULL, "sha256:0000000000000000000000000"
	    "000000000000000000000000000000000000000", &other, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_FAIL);
	if (markerfile_format(&m, buf, sizeof(buf), &st) != ST_OK)
		return 0;
	fz_write(path2, buf, strlen(buf));
	rc = markerfile_read(path2, &m2, &absent, &st);
	if (rc != ST_OK) {
		fprintf(stderr, "formatted marker does not read back: %s\n%s",
		    st.msg, buf);
		abort();
	}
	FZ_ASSERT(m2.ok == m.ok && m2.ntags == m.ntags);
	FZ_ASSERT(strcmp(m2.instance_id, m.instance_id) == 0);
	FZ_ASSERT(strcmp(m2.boot_id, m.boot_id) == 0);
	FZ_ASSERT(strcmp(m2.digest, m.digest) == 0);
	for (i = 0; i < m.ntags; i++)
		FZ_ASSERT(strcmp(m2.tags[i].key, m.tags[i].key) == 0 &&
		    strcmp(m2.tags[i].value, m.tags[i].value) == 0);
	return 0;
}
