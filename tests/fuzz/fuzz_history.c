/*
 * fuzz_history: the deployment history (history.h): lines formatted from
 * hostile values, and history files read back (history_load).  Input:
 * fields (NUL separated) for DEPLOYMENT_ID, APPLICATION_NAME,
 * BUNDLE_COMMIT, the instance id, the lifecycle state, the reason, then
 * the history file's text.  Asserts: a line is one JSON object on one
 * line, valid UTF-8, at most HISTORY_CAP_LINE bytes, and reads back; a
 * file yields at most the entries asked for, each an object.
 */
#include "fuzz.h"

#include <json-c/json.h>

#include "fmt/history.h"
#include "base/text.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct history h;
	static char line[HISTORY_CAP_LINE + 1];
	struct json_object *o, *arr = NULL;
	struct status st;
	struct fz f;
	char *dep, *app, *commit, *iid, *lc, *reason, *file;
	const char *path = fz_path(0, "history.jsonl");
	size_t len, n, bad, i;

	fz_init(&f, data, size);
	dep = fz_field(&f);
	app = fz_field(&f);
	commit = fz_field(&f);
	iid = fz_field(&f);
	lc = fz_field(&f);
	reason = fz_field(&f);
	file = fz_rest(&f, &len);

	setenv("DEPLOYMENT_ID", dep, 1);
	setenv("APPLICATION_NAME", app, 1);
	setenv("BUNDLE_COMMIT", commit, 1);
	history_begin(&h, "", 0, "before-install", "BeforeInstall");
	history_facts(&h, iid, lc, NULL, NULL);
	if (history_format(&h, 1, 0, reason, 1234, line, sizeof(line), &n,
	    &st) == ST_OK) {
		FZ_ASSERT(n == strlen(line) && n <= HISTORY_CAP_LINE);
		FZ_ASSERT(n > 0 && line[n - 1] == '\n' &&
		    memchr(line, '\n', n - 1) == NULL);
		FZ_ASSERT(text_utf8_valid(line, n));
		o = json_tokener_parse(line);
		FZ_ASSERT(o != NULL && json_object_is_type(o, json_type_object));
		json_object_put(o);
	}

	fz_write(path, file, len);
	bad = 0;
	if (history_load(path, 5, &arr, &bad, &st) == ST_OK) {
		FZ_ASSERT(arr != NULL && json_object_array_length(arr) <= 5);
		for (i = 0; i < json_object_array_length(arr); i++)
			FZ_ASSERT(json_object_is_type(
			    json_object_array_get_idx(arr, i),
			    json_type_object));
	} else
		FZ_ASSERT(fz_printable(st.msg));
	json_object_put(arr);
	fz_free(&f);
	return 0;
}
