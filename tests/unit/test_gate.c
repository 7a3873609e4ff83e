/*
 * test_gate.c: the exit-code table (cdgate(7)) as gate_verdict
 * applies it: every status a check can end with gives its documented exit
 * code and verdict word, the verdict is one line, and it is the last.
 * Exit 70 (an internal error) has no input that reaches it by design; this
 * is where its code and verdict are checked.
 */
#include "testlib.h"

#include "run/gate.h"
#include "base/out.h"
#include "base/status.h"

struct code_case {
	const char *what;
	int status;		/* what the checks ended with */
	int exit;		/* the documented exit code */
	const char *word;	/* the verdict word */
};

static const struct code_case code_cases[] = {
	{ "pass", ST_OK, 0, "PASS" },
	{ "check failed", ST_FAIL, 1, "FAIL" },
	{ "deadline", ST_TIMEOUT, 2, "FAIL" },
	{ "SIGTERM", ST_TERM, 3, "FAIL" },
	{ "usage", ST_USAGE, 64, "FAIL" },
	{ "unavailable", ST_UNAVAIL, 69, "FAIL" },
	{ "internal error", ST_SOFTWARE, 70, "FAIL" },
	{ "system error", ST_OSERR, 71, "FAIL" },
	{ "AWS permission", ST_NOPERM, 77, "FAIL" },
	{ "configuration", ST_CONFIG, 78, "FAIL" },
};

/* Runs gate_verdict with stdout in a temporary file; returns the output. */
static char *
verdict_of(struct gate *g, int status, int *code)
{
	static char buf[4096];
	FILE *tmp = tmpfile();
	int saved, n;

	assert_non_null(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	*code = gate_verdict(g, status);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = (int)fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n > 0 ? n : 0] = '\0';
	fclose(tmp);
	return buf;
}

static void
test_exit_code_table(void **state)
{
	char want[128];
	size_t i;
	int code;

	(void)state;
	out_label("BeforeInstall");
	for (i = 0; i < NELEM(code_cases); i++) {
		const struct code_case *c = &code_cases[i];
		static struct gate g;	/* a whole configuration */
		const char *out;

		gate_init(&g, "BeforeInstall");
		g.ev = EV_BEFORE_INSTALL;
		config_defaults(&g.cfg);
		g.cfg.history[0] = '\0';	/* no history file */
		if (c->status != ST_OK)
			status_set(&g.cx.st, c->status, "the reason of %s",
			    c->what);
		out = verdict_of(&g, c->status, &code);
		CHECK_INT(c->what, code, c->exit);
		snprintf(want, sizeof(want), "cdgate: BeforeInstall: %s: ",
		    c->word);
		CHECK_HAS(c->what, out, want);
		if (c->status != ST_OK)
			CHECK_HAS(c->what, out, "the reason of");
		/* one line, and it ends the output */
		CHECK_INT(c->what, strchr(out, '\n') - out + 1,
		    (long long)strlen(out));
	}
}

static void
test_status_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(code_cases); i++)
		CHECK_INT(code_cases[i].what,
		    strcmp(status_name(code_cases[i].status), "unknown") != 0,
		    1);
	CHECK_STR("internal", status_name(ST_SOFTWARE), "internal error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code_table),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
