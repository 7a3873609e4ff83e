/*
 * fuzz_inifile: inifile_parse over any bytes.  Asserts inifile.h's rules:
 * an error names the file and a line ("PATH:N: "), a value reaching the
 * callback is at most CAP_INI_LINE bytes, a key never reaches it twice in
 * one section.
 */
#include "fuzz.h"

#include "base/inifile.h"

#define SEEN_MAX 512

struct seen {
	char *keys[SEEN_MAX];
	size_t n;
	unsigned mode;
};

static int
cb(struct inifile *f, const char *section, const char *key,
    const char *value)
{
	struct seen *s = f->user;
	char *k;
	size_t i, ls;

	FZ_ASSERT(section != NULL);
	if (key == NULL) {
		FZ_ASSERT(value == NULL);
		if ((s->mode & 1) && strcmp(section, "bad") == 0)
			return inifile_error(f, "unknown section [%s]", section);
		return 0;
	}
	FZ_ASSERT(value != NULL && strlen(value) <= CAP_INI_LINE);
	FZ_ASSERT(strlen(key) <= CAP_INI_LINE);
	ls = strlen(section);
	for (i = 0; i < s->n; i++)
		FZ_ASSERT(!(strncmp(s->keys[i], section, ls) == 0 &&
		    s->keys[i][ls] == '\x1f' &&
		    strcmp(s->keys[i] + ls + 1, key) == 0));
	if (s->n < SEEN_MAX && (k = malloc(ls + strlen(key) + 2)) != NULL) {
		memcpy(k, section, ls);
		k[ls] = '\x1f';
		memcpy(k + ls + 1, key, strlen(key) + 1);
		s->keys[s->n++] = k;
	}
	if ((s->mode & 2) && strcmp(value, "error") == 0)
		return inifile_error(f, "bad value '%s'", value);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char path[] = "/fuzz/x.ini";
	struct status st;
	struct seen s;
	int rc;
	size_t i;

	if (size == 0)
		return 0;
	memset(&s, 0, sizeof(s));
	s.mode = data[0] & 3;
	rc = inifile_parse(path, (const char *)data + 1, size - 1, cb, &s,
	    ST_CONFIG, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_CONFIG || rc == ST_OSERR);
	if (rc == ST_CONFIG) {
		FZ_ASSERT(strncmp(st.msg, path, sizeof(path) - 1) == 0);
		FZ_ASSERT(st.msg[sizeof(path) - 1] == ':' &&
		    st.msg[sizeof(path)] >= '1' && st.msg[sizeof(path)] <= '9');
		FZ_ASSERT(fz_printable(st.msg));
	}
	for (i = 0; i < s.n; i++)
		free(s.keys[i]);
	return 0;
}
