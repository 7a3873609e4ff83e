/*
 * test_config_store.c: a build whose CONFIG_STORE cannot hold every
 * check's conf refuses to load a configuration (exit 70, one line naming
 * CONFIG_STORE), and config_defaults never writes past the store.
 *
 * config.c is compiled here with a store of 64 bytes (run/config.h lets a
 * build choose it); this translation unit then defines every function of
 * config.c, so libcdgate.a's own config.o is not linked in.  Nothing else
 * in this program takes a struct config, so the two sizes never meet.
 */
#define CONFIG_STORE 64
#include "run/config.c"

#include "run/registry.h"
#include "testlib.h"

static struct tl_fx_spec fx_spec = {
	"config-store", "cdgate.ini", "CDGATE_CONFIG"
};

/* the store is too small for the registry at all */
static void
test_store_is_too_small_here(void **state)
{
	(void)state;
	assert_true(registry_count() > 1);
	assert_int_equal(config_offset(registry_count() - 1), -1);
}

/* defaults skip what does not fit: the guard bytes after the store stay */
static void
test_defaults_stay_inside_the_store(void **state)
{
	struct {
		struct config c;
		unsigned char guard[4096];
	} *b;
	size_t i;

	(void)state;
	assert_non_null(b = malloc(sizeof(*b)));
	memset(b->guard, 0xa5, sizeof(b->guard));
	config_defaults(&b->c);
	for (i = 0; i < sizeof(b->guard); i++)
		assert_int_equal(b->guard[i], 0xa5);
	free(b);
}

/* a file, and the search, both refuse with ST_SOFTWARE naming the cause */
static void
test_load_refuses(void **state)
{
	const struct tl_fx *x = *state;
	struct config *c;
	struct status st;

	assert_non_null(c = malloc(sizeof(*c)));
	tl_put_text(x->path, "[gate]\ntimeout = 30\n");
	config_defaults(c);
	status_clear(&st);
	assert_int_equal(config_load_file(c, x->path, &st), ST_SOFTWARE);
	assert_int_equal(st.code, ST_SOFTWARE);
	assert_non_null(strstr(st.msg, "do not fit in CONFIG_STORE (64 "
	    "bytes)"));
	assert_null(strchr(st.msg, '\n'));

	config_defaults(c);
	status_clear(&st);
	assert_int_equal(config_load_for(c, x->path, &st), ST_SOFTWARE);
	assert_non_null(strstr(st.msg, "CONFIG_STORE"));
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_is_too_small_here),
		cmocka_unit_test(test_defaults_stay_inside_the_store),
		TL_FX_TEST(test_load_refuses, &fx_spec),
	};

	return cmocka_run_group_tests_name("config_store", tests, NULL, NULL);
}
