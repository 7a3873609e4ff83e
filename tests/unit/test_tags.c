/*
 * test_tags.c: the pure parts of the tags check: evaluation of live tags
 * against [tags] globs and the marker's recorded tags, the metadata
 * listing, and the key characters metadata tags allow.
 */
#include "checks/tags.h"
#include "testlib.h"
#include "base/text.h"

#define MAXT 6

struct kv {
	const char *k, *v;
};

struct eval_case {
	struct kv req[MAXT];	/* key + glob; NULL-ended */
	struct kv mk[MAXT];	/* marker key + value */
	struct kv live[MAXT];
	size_t missing, mismatched;
	const char *why;	/* exact ev.why */
};

static const struct eval_case eval_cases[] = {
	{ { { "Role", "api" } }, { { NULL, NULL } },
	  { { "Role", "api" }, { "Env", "prod" } }, 0, 0, "" },
	{ { { "Role", "*" }, { "Env", "prod*" } }, { { NULL, NULL } },
	  { { "Env", "production" }, { "Role", "" } }, 0, 0, "" },
	{ { { "Role", "api" } }, { { NULL, NULL } }, { { NULL, NULL } },
	  1, 0, "Role is missing" },
	{ { { "Role", "*" } }, { { NULL, NULL } }, { { "role", "api" } },
	  1, 0, "Role is missing" },
	{ { { "Role", "web" }, { "Env", "prod" }, { "Tier", "?" } },
	  { { NULL, NULL } }, { { "Role", "api" }, { "Tier", "12" } },
	  1, 2, "Role is 'api' (want 'web'); Env is missing; "
	  "Tier is '12' (want '?')" },
	{ { { "Role", "API" } }, { { NULL, NULL } }, { { "Role", "api" } },
	  0, 1, "Role is 'api' (want 'API')" },
	{ { { NULL, NULL } }, { { "Role", "api" } }, { { "Role", "api" } },
	  0, 0, "" },
	{ { { NULL, NULL } }, { { "Role", "web" } }, { { "Role", "api" } },
	  0, 1, "marker has Role='web' but the instance has 'api'" },
	{ { { NULL, NULL } }, { { "Role", "a*" } }, { { "Role", "api" } },
	  0, 1, "marker has Role='a*' but the instance has 'api'" },
	{ { { NULL, NULL } }, { { "Tier", "blue" } }, { { "Role", "api" } },
	  1, 0, "marker has Tier='blue' but the instance has no Tier" },
	{ { { "Role", "*" } }, { { "Role", "web" } }, { { "Role", "api" } },
	  0, 1, "marker has Role='web' but the instance has 'api'" },
	{ { { "Role", "api" } }, { { NULL, NULL } },
	  { { "Role", "api\nX-Evil" } }, 0, 1,
	  "Role is 'api X-Evil' (want 'api')" },
};

static size_t
fill_req(struct tags_rule *t, const struct kv *kv)
{
	size_t n;

	for (n = 0; n < MAXT && kv[n].k != NULL; n++) {
		text_copy(t[n].key, kv[n].k, sizeof(t[n].key));
		text_copy(t[n].glob, kv[n].v, sizeof(t[n].glob));
	}
	return n;
}

static size_t
fill_tags(struct markerfile_tag *t, const struct kv *kv)
{
	size_t n;

	for (n = 0; n < MAXT && kv[n].k != NULL; n++) {
		text_copy(t[n].key, kv[n].k, sizeof(t[n].key));
		text_copy(t[n].value, kv[n].v, sizeof(t[n].value));
	}
	return n;
}

static void
test_evaluate(void **state)
{
	static struct tags_rule req[MAXT];
	static struct markerfile_tag mk[MAXT], live[MAXT];
	struct tags_eval ev;
	size_t i, nr, nm, nl, got;

	(void)state;
	for (i = 0; i < NELEM(eval_cases); i++) {
		const struct eval_case *c = &eval_cases[i];

		nr = fill_req(req, c->req);
		nm = fill_tags(mk, c->mk);
		nl = fill_tags(live, c->live);
		got = tags_evaluate(req, nr, mk, nm, live, nl, &ev);
		if (got != c->missing + c->mismatched ||
		    ev.missing != c->missing ||
		    ev.mismatched != c->mismatched ||
		    strcmp(ev.why, c->why) != 0)
			fail_msg("case %zu: %zu problems (%zu missing, %zu "
			    "mismatched) '%s'; want '%s'", i, got, ev.missing,
			    ev.mismatched, ev.why, c->why);
	}
}

static void
test_evaluate_long_values_cut(void **state)
{
	static struct tags_rule req[1];
	static struct markerfile_tag live[1];
	struct tags_eval ev;
	char big[CAP_TAG_VALUE + 1];

	(void)state;
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	text_copy(req[0].key, "Role", sizeof(req[0].key));
	text_copy(req[0].glob, "api", sizeof(req[0].glob));
	text_copy(live[0].key, "Role", sizeof(live[0].key));
	text_copy(live[0].value, big, sizeof(live[0].value));
	assert_int_equal(tags_evaluate(req, 1, NULL, 0, live, 1, &ev), 1);
	assert_true(strlen(ev.why) < 100);
	assert_non_null(strstr(ev.why, "...' (want 'api')"));
}

static void
test_evaluate_many_problems_fit(void **state)
{
	static struct tags_rule req[CAP_TAGS];
	struct tags_eval ev;
	size_t i;

	(void)state;
	for (i = 0; i < CAP_TAGS; i++) {
		memset(req[i].key, 'k', 100);
		req[i].key[100] = '\0';
		text_copy(req[i].glob, "*", sizeof(req[i].glob));
	}
	assert_int_equal(tags_evaluate(req, CAP_TAGS, NULL, 0, NULL, 0, &ev),
	    CAP_TAGS);
	assert_int_equal(ev.missing, CAP_TAGS);
	assert_true(strlen(ev.why) < sizeof(ev.why));
	assert_true(text_utf8_valid(ev.why, strlen(ev.why)));
}

static void
test_listed(void **state)
{
	(void)state;
	assert_true(tags_listed("Role\nEnv", "Role"));
	assert_true(tags_listed("Role\nEnv", "Env"));
	assert_true(tags_listed("Role\r\nEnv\n", "Env"));
	assert_true(tags_listed("Name", "Name"));
	assert_false(tags_listed("Role\nEnv", "Ro"));
	assert_false(tags_listed("Role\nEnv", "Roles"));
	assert_false(tags_listed("Role\nEnv", "role"));
	assert_false(tags_listed("", "Role"));
	assert_false(tags_listed("Role Env", "Env"));
}

static void
test_imds_key_ok(void **state)
{
	(void)state;
	assert_true(tags_imds_key_ok("Role"));
	assert_true(tags_imds_key_ok("app:tier-1_x+y=z,a.b@c"));
	assert_false(tags_imds_key_ok(""));
	assert_false(tags_imds_key_ok("a b"));
	assert_false(tags_imds_key_ok("a/b"));
	assert_false(tags_imds_key_ok("a?b"));
	assert_false(tags_imds_key_ok("a%2F"));
	assert_false(tags_imds_key_ok("r\xc3\xb4le"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_evaluate_long_values_cut),
		cmocka_unit_test(test_evaluate_many_problems_fit),
		cmocka_unit_test(test_listed),
		cmocka_unit_test(test_imds_key_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
