/*
 * test_config.c: cdgate.ini, loaded from temporary files (config.h,
 * cdgate.ini(5): man/cdgate.ini.5).
 *
 * Every test works in its own mkdtemp directory (mode 0700) under /tmp,
 * removed at the end.  Other sections and keys are being added to config.c:
 * the tests name the keys they use and never the whole "(known: ...)" list,
 * and compare checks through DESIGN_CHECKS, the mask of the four first
 * checks.  The file ownership case needs root (chown to 65534).  /etc is
 * never touched.
 */
#include <errno.h>

#include "run/config.h"
#include "base/event.h"
#include "base/status.h"
#include "checks/drain.h"
#include "checks/health.h"
#include "checks/lifecycle.h"
#include "checks/marker.h"
#include "checks/tags.h"
#include "run/registry.h"
#include "testlib.h"

/* each check's conf in a configuration */
#define LC(c) ((const struct lifecycle_conf *)config_conf((c), &check_lifecycle))
#define MK(c) ((const struct marker_conf *)config_conf((c), &check_marker))
#define TG(c) ((const struct tags_conf *)config_conf((c), &check_tags))
#define HL(c) ((const struct health_conf *)config_conf((c), &check_health))
#define DR(c) ((const struct drain_conf *)config_conf((c), &check_drain))
#include "base/text.h"

#define DESIGN_CHECKS (registry_bit("lifecycle") | registry_bit("marker") | registry_bit("tags") | registry_bit("health"))
#define HEX64 "0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef"

/* ------------------------------------------------------------------ */
/* fixture and helpers */

/* CDGATE_CONFIG is unset for each test and restored after it */
static struct tl_fx_spec fx_spec = {
	"config", "cdgate.ini", "CDGATE_CONFIG"
};

/* defaults, then the file; the config is malloc'd (it is large) */
static int
load_text(const struct tl_fx *x, const char *text, struct config **c,
    struct status *st)
{
	assert_non_null(*c = malloc(sizeof(**c)));
	tl_put_text(x->path, text);
	config_defaults(*c);
	status_clear(st);
	return config_load_file(*c, x->path, st);
}

/* ------------------------------------------------------------------ */
/* good values */

static void
chk_defaults(const struct config *c)
{
	int i;

	assert_int_equal(c->timeout, CONFIG_DEFAULT_TIMEOUT);
	assert_int_equal(LC(c)->on_terminating, ON_STATE_SKIP);
	assert_int_equal(c->imds, 1);
	assert_string_equal(MK(c)->path, MARKER_DEFAULT_PATH);
	assert_int_equal(MK(c)->cloud_init, 0);
	assert_string_equal(MK(c)->cloud_init_result, MARKER_CLOUD_INIT_RESULT);
	assert_string_equal(MK(c)->cloud_init_status, MARKER_CLOUD_INIT_STATUS);
	assert_string_equal(MK(c)->digest, "");
	assert_int_equal(TG(c)->source, TAGS_AUTO);
	assert_int_equal(TG(c)->ntags, 0);
	assert_int_equal(((c)->configured & registry_bit("health")), 0);
	for (i = 0; i < EV_COUNT; i++) {
		assert_int_equal(c->ev[i].checks_set, 0);
		assert_int_equal(c->ev[i].timeout, 0);
		assert_int_equal(LC(c)->ev_on_terminating[i], -1);
		assert_int_equal(config_timeout(c, (enum event)i),
		    CONFIG_DEFAULT_TIMEOUT);
		assert_int_equal(lifecycle_on_terminating(LC(c), (enum event)i),
		    ON_STATE_SKIP);
	}
}

static void
chk_timeout_1(const struct config *c)
{
	assert_int_equal(c->timeout, 1);
}

static void
chk_timeout_3600(const struct config *c)
{
	assert_int_equal(c->timeout, 3600);
	assert_int_equal(config_timeout(c, EV_BEFORE_INSTALL), 3600);
}

static void
chk_on_term_fail(const struct config *c)
{
	assert_int_equal(LC(c)->on_terminating, ON_STATE_FAIL);
	assert_int_equal(lifecycle_on_terminating(LC(c), EV_AFTER_INSTALL),
	    ON_STATE_FAIL);
}

static void
chk_on_term_skip(const struct config *c)
{
	assert_int_equal(LC(c)->on_terminating, ON_STATE_SKIP);
}

static void
chk_imds_no(const struct config *c)
{
	assert_int_equal(c->imds, 0);
}

static void
chk_marker(const struct config *c)
{
	assert_string_equal(MK(c)->path, "/srv/app/provisioned");
	assert_int_equal(MK(c)->cloud_init, 1);
	assert_string_equal(MK(c)->cloud_init_result, "/x/result.json");
	assert_string_equal(MK(c)->cloud_init_status, "/x/status.json");
	assert_string_equal(MK(c)->digest, "sha256:" HEX64);
}

static void
chk_digest_lowered(const struct config *c)
{
	assert_string_equal(MK(c)->digest, "sha256:" HEX64);
}

static void
chk_tags(const struct config *c)
{
	assert_int_equal(TG(c)->source, TAGS_EC2);
	assert_int_equal(TG(c)->ntags, 3);
	assert_string_equal(TG(c)->tags[0].key, "Role");
	assert_string_equal(TG(c)->tags[0].glob, "api");
	assert_string_equal(TG(c)->tags[1].key, "Env");
	assert_string_equal(TG(c)->tags[1].glob, "prod-*");
	assert_string_equal(TG(c)->tags[2].key, "Cost Center");
	assert_string_equal(TG(c)->tags[2].glob, "");
}

static void
chk_source_imds(const struct config *c)
{
	assert_int_equal(TG(c)->source, TAGS_IMDS);
	assert_int_equal(TG(c)->ntags, 0);
}

static void
chk_source_auto(const struct config *c)
{
	assert_int_equal(TG(c)->source, TAGS_AUTO);
}

static void
chk_health(const struct config *c)
{
	assert_true((c)->configured & registry_bit("health"));
	assert_string_equal(HL(c)->url, "http://127.0.0.1:8080/health");
	assert_string_equal(HL(c)->body, "ok");
}

static void
chk_event_override(const struct config *c)
{
	const struct config_event *e = &c->ev[EV_BEFORE_INSTALL];
	int i;

	assert_int_equal(e->checks_set, 1);
	assert_int_equal(e->checks, registry_bit("lifecycle") | registry_bit("marker"));
	assert_int_equal(config_checks(c, EV_BEFORE_INSTALL),
	    registry_bit("lifecycle") | registry_bit("marker"));
	assert_int_equal(config_timeout(c, EV_BEFORE_INSTALL), 120);
	assert_int_equal(lifecycle_on_terminating(LC(c), EV_BEFORE_INSTALL),
	    ON_STATE_FAIL);
	/* the other events keep [gate] and their defaults */
	for (i = 0; i < EV_COUNT; i++) {
		if (i == EV_BEFORE_INSTALL)
			continue;
		assert_int_equal(c->ev[i].checks_set, 0);
		assert_int_equal(config_timeout(c, (enum event)i), 600);
		assert_int_equal(lifecycle_on_terminating(LC(c), (enum event)i),
		    ON_STATE_SKIP);
	}
}

static void
chk_event_commas(const struct config *c)
{
	assert_int_equal(config_checks(c, EV_AFTER_ALLOW_TRAFFIC),
	    registry_bit("lifecycle") | registry_bit("tags") | registry_bit("health"));
	assert_int_equal(config_checks(c, EV_BEFORE_INSTALL) & DESIGN_CHECKS,
	    registry_bit("lifecycle") | registry_bit("marker") | registry_bit("tags"));
}

/* [gate] on_terminating = fail, an event says skip: the event wins */
static void
chk_event_on_term_skip(const struct config *c)
{
	assert_int_equal(lifecycle_on_terminating(LC(c), EV_VALIDATE_SERVICE),
	    ON_STATE_SKIP);
	assert_int_equal(lifecycle_on_terminating(LC(c), EV_BEFORE_INSTALL),
	    ON_STATE_FAIL);
	assert_int_equal(config_timeout(c, EV_VALIDATE_SERVICE), 30);
}

static void
chk_design_example(const struct config *c)
{
	assert_int_equal(c->timeout, 300);
	assert_int_equal(c->imds, 1);
	assert_string_equal(MK(c)->path, "/var/lib/cdgate/provisioned");
	assert_int_equal(TG(c)->ntags, 1);
	assert_string_equal(TG(c)->tags[0].key, "Role");
	assert_true((c)->configured & registry_bit("health"));
	assert_int_equal(config_checks(c, EV_BEFORE_INSTALL),
	    registry_bit("lifecycle") | registry_bit("marker") | registry_bit("tags"));
	assert_int_equal(config_timeout(c, EV_BEFORE_INSTALL), 120);
	assert_int_equal(config_checks(c, EV_VALIDATE_SERVICE) & DESIGN_CHECKS,
	    registry_bit("lifecycle") | registry_bit("health"));
}

static void
chk_long_tag_key(const struct config *c)
{
	assert_int_equal(TG(c)->ntags, 2);
	assert_int_equal(strlen(TG(c)->tags[0].key), CAP_TAG_KEY);
	/* 128 characters of two bytes each */
	assert_int_equal(strlen(TG(c)->tags[1].key), 2 * CAP_TAG_KEY);
}

static void
chk_crlf(const struct config *c)
{
	assert_int_equal(c->timeout, 60);
	assert_string_equal(MK(c)->path, "/m");
	assert_string_equal(TG(c)->tags[0].glob, "api");
}

struct good_case {
	const char *what;
	const char *text;
	void (*check)(const struct config *c);
};

static const struct good_case good_cases[] = {
	{ "empty file", "", chk_defaults },
	{ "comments only", "; nothing\n# here\n", chk_defaults },
	{ "empty sections", "[gate]\n[marker]\n[tags]\n[BeforeInstall]\n",
	    chk_defaults },
	{ "timeout 1", "[gate]\ntimeout = 1\n", chk_timeout_1 },
	{ "timeout 3600", "[gate]\ntimeout = 3600\n", chk_timeout_3600 },
	{ "timeout with blanks and a comment",
	    "[gate]\ntimeout =   1   ; one second\n", chk_timeout_1 },
	{ "on_terminating fail", "[gate]\non_terminating = fail\n",
	    chk_on_term_fail },
	{ "on_terminating skip", "[gate]\non_terminating = skip\n",
	    chk_on_term_skip },
	{ "imds no", "[gate]\nimds = no\n", chk_imds_no },
	{ "imds false", "[gate]\nimds = false\n", chk_imds_no },
	{ "imds off", "[gate]\nimds = off\n", chk_imds_no },
	{ "imds 0", "[gate]\nimds = 0\n", chk_imds_no },
	{ "every [marker] key", "[marker]\npath = /srv/app/provisioned\n"
	    "cloud_init = yes\ncloud_init_result = /x/result.json\n"
	    "cloud_init_status = /x/status.json\ndigest = sha256:" HEX64 "\n",
	    chk_marker },
	{ "digest in capitals is stored in lowercase", "[marker]\ndigest = "
	    "sha256:0123456789ABCDEF0123456789abcdef0123456789ABCDEF"
	    "0123456789abcdef\n", chk_digest_lowered },
	{ "[tags] source and required tags", "[tags]\nsource = ec2\n"
	    "Role = api\nEnv = prod-*\nCost Center =\n", chk_tags },
	{ "[tags] source imds", "[tags]\nsource = imds\n", chk_source_imds },
	{ "[tags] source auto", "[tags]\nsource = auto\n", chk_source_auto },
	{ "[health] url and body", "[health]\n"
	    "url = http://127.0.0.1:8080/health\nbody = ok\n", chk_health },
	{ "event section overrides", "[gate]\ntimeout = 600\n"
	    "[BeforeInstall]\nchecks = lifecycle marker\ntimeout = 120\n"
	    "on_terminating = fail\n", chk_event_override },
	{ "checks separated by commas and tabs", "[AfterAllowTraffic]\n"
	    "checks = lifecycle,tags,\thealth\n"
	    "[health]\nurl = http://127.0.0.1/\n", chk_event_commas },
	{ "event on_terminating overrides [gate]", "[gate]\n"
	    "on_terminating = fail\n[ValidateService]\non_terminating = skip\n"
	    "timeout = 30\n", chk_event_on_term_skip },
	{ "a full example", "[gate]\ntimeout = 300 ; seconds\n"
	    "on_terminating = skip\nimds = yes\n\n[marker]\n"
	    "path = /var/lib/cdgate/provisioned\ncloud_init = no\n\n[tags]\n"
	    "source = auto\nRole = api\n\n[health]\n"
	    "url = http://127.0.0.1:8080/health\nstatus = 200\nbody = ok\n\n"
	    "[BeforeInstall]\nchecks = lifecycle marker tags\ntimeout = 120\n",
	    chk_design_example },
	{ "tag keys of 128 characters",
	    "[tags]\n"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	    " = a\n"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    " = b\n", chk_long_tag_key },
	{ "CRLF line endings", "[gate]\r\ntimeout = 60\r\n[marker]\r\n"
	    "path = /m\r\n[tags]\r\nRole = api\r\n", chk_crlf },
	{ "BOM", "\xef\xbb\xbf[gate]\ntimeout = 1\n", chk_timeout_1 },
};

static void
test_good_values(void **state)
{
	struct tl_fx *x = *state;
	struct config *c;
	struct status st;
	size_t i;

	for (i = 0; i < NELEM(good_cases); i++) {
		const struct good_case *k = &good_cases[i];
		int rc = load_text(x, k->text, &c, &st);

		if (rc != ST_OK)
			fail_msg("%s: rc %d: %s", k->what, rc, st.msg);
		CHECK_STR(k->what, c->path, x->path);
		k->check(c);
		free(c);
	}
}

/* every spelling of yes and no, for both boolean keys */
static void
test_booleans(void **state)
{
	static const struct {
		const char *v;
		int want;
	} vals[] = {
		{ "yes", 1 }, { "true", 1 }, { "on", 1 }, { "1", 1 },
		{ "no", 0 }, { "false", 0 }, { "off", 0 }, { "0", 0 },
	};
	struct tl_fx *x = *state;
	struct config *c;
	struct status st;
	char text[128];
	size_t i;

	for (i = 0; i < NELEM(vals); i++) {
		snprintf(text, sizeof(text), "[gate]\nimds = %s\n[marker]\n"
		    "cloud_init = %s\n", vals[i].v, vals[i].v);
		CHECK_INT(vals[i].v, load_text(x, text, &c, &st), ST_OK);
		CHECK_INT(vals[i].v, c->imds, vals[i].want);
		CHECK_INT(vals[i].v, MK(c)->cloud_init, vals[i].want);
		free(c);
	}
}

/* ------------------------------------------------------------------ */
/* bad values, unknown names: the file and the line in the message */

struct bad_case {
	const char *what;
	const char *text;
	const char *msg;	/* follows "PATH" */
};

static const struct bad_case bad_cases[] = {
	/* [gate] */
	{ "timeout 0", "[gate]\ntimeout = 0\n",
	    ":2: timeout = '0': expected whole seconds from 1 to 3600" },
	{ "timeout 3601", "[gate]\ntimeout = 3601\n",
	    ":2: timeout = '3601': expected whole seconds" },
	{ "timeout negative", "[gate]\ntimeout = -5\n",
	    ":2: timeout = '-5': expected" },
	{ "timeout with a unit", "[gate]\ntimeout = 30s\n",
	    ":2: timeout = '30s': expected" },
	{ "timeout with a plus", "[gate]\ntimeout = +30\n",
	    ":2: timeout = '+30': expected" },
	{ "timeout empty", "[gate]\ntimeout =\n", ":2: timeout = '': expected" },
	{ "timeout fraction", "[gate]\ntimeout = 1.5\n",
	    ":2: timeout = '1.5': expected" },
	{ "timeout huge", "[gate]\ntimeout = 99999999999999999999\n",
	    ":2: timeout = '99999999999999999999': expected" },
	{ "on_terminating maybe", "[gate]\non_terminating = maybe\n",
	    ":2: on_terminating = 'maybe': expected skip or fail" },
	{ "on_terminating is case-sensitive", "[gate]\non_terminating = Skip\n",
	    ":2: on_terminating = 'Skip': expected skip or fail" },
	{ "imds maybe", "[gate]\nimds = maybe\n",
	    ":2: imds = 'maybe': expected yes or no" },
	{ "imds empty", "[gate]\nimds =\n", ":2: imds = '': expected yes or no" },
	{ "imds 2", "[gate]\nimds = 2\n", ":2: imds = '2': expected yes or no" },
	{ "unknown key in [gate]", "[gate]\ntimeout = 5\nfoo = 1\n",
	    ":3: unknown key 'foo' in [gate] (known: " },
	{ "keys are case-sensitive", "[gate]\nTimeout = 5\n",
	    ":2: unknown key 'Timeout' in [gate]" },
	/* [marker] */
	{ "relative marker path", "[marker]\npath = var/lib/x\n",
	    ":2: path = 'var/lib/x': expected an absolute path" },
	{ "empty marker path", "[marker]\npath =\n",
	    ":2: path = '': expected an absolute path" },
	{ "cloud_init 2", "[marker]\ncloud_init = 2\n",
	    ":2: cloud_init = '2': expected yes or no" },
	{ "relative cloud_init_result", "[marker]\ncloud_init_result = r.json\n",
	    ":2: cloud_init_result = 'r.json': expected an absolute path" },
	{ "relative cloud_init_status", "[marker]\ncloud_init_status = s\n",
	    ":2: cloud_init_status = 's': expected an absolute path" },
	{ "digest short", "[marker]\ndigest = sha256:abc\n",
	    ":2: digest = 'sha256:abc': expected sha256: and 64 hex digits" },
	{ "digest without prefix", "[marker]\ndigest = " HEX64 "\n",
	    ":2: digest = '" HEX64 "': expected sha256:" },
	{ "digest md5", "[marker]\ndigest = md5:" HEX64 "\n",
	    ":2: digest = 'md5:" },
	{ "digest 65 digits", "[marker]\ndigest = sha256:" HEX64 "0\n",
	    ":2: digest = 'sha256:" },
	{ "digest not hex", "[marker]\ndigest = sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\n",
	    ":2: digest = 'sha256:" },
	{ "unknown key in [marker]", "[marker]\nfoo = 1\n",
	    ":2: unknown key 'foo' in [marker]" },
	/* [tags] */
	{ "source both", "[tags]\nsource = both\n",
	    ":2: source = 'both': expected auto, imds or ec2" },
	{ "source empty", "[tags]\nsource =\n",
	    ":2: source = '': expected auto, imds or ec2" },
	{ "tag key of 129 characters", "[tags]\n"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	    "k = a\n", ":2: tag key too long" },
	{ "duplicate tag", "[tags]\nRole = a\nRole = b\n",
	    ":3: 'Role' is given twice in [tags]" },
	/* [health] */
	{ "health url ftp", "[health]\nurl = ftp://127.0.0.1/\n", ":2: url" },
	{ "health url not a url", "[health]\nurl = localhost\n", ":2: url" },
	{ "health status not a code", "[health]\n"
	    "url = http://127.0.0.1/\nstatus = abc\n", ":3: " },
	{ "health status 99", "[health]\nurl = http://127.0.0.1/\n"
	    "status = 99\n", ":3: " },
	{ "health status 600", "[health]\nurl = http://127.0.0.1/\n"
	    "status = 600\n", ":3: " },
	{ "health without a url", "[health]\nbody = ok\n",
	    ": [health] needs a url" },
	{ "unknown key in [health]", "[health]\nurl = http://127.0.0.1/\n"
	    "foo = 1\n", ":3: unknown key 'foo' in [health]" },
	/* a check that will run is validated without its section */
	{ "health listed, no [health]", "[ValidateService]\nchecks = health\n",
	    ": [health] needs a url or a tcp" },
	{ "drain listed, no [drain]", "[AfterBlockTraffic]\n"
	    "checks = lifecycle drain\n", ": [drain] needs ports" },
	{ "an empty [drain]", "[drain]\n", ": [drain] needs ports" },
	{ "an empty [health]", "[gate]\ntimeout = 5\n[health]\n",
	    ": [health] needs a url or a tcp" },
	/* event sections */
	{ "unknown check", "[BeforeInstall]\nchecks = lifecycle bogus\n",
	    ":2: checks: unknown check 'bogus'" },
	{ "check names are case-sensitive", "[BeforeInstall]\n"
	    "checks = Marker\n", ":2: checks: unknown check 'Marker'" },
	{ "event timeout 0", "[ValidateService]\ntimeout = 0\n",
	    ":2: timeout = '0': expected whole seconds" },
	{ "event timeout 3601", "[ValidateService]\ntimeout = 3601\n",
	    ":2: timeout = '3601': expected whole seconds" },
	{ "event on_terminating bad", "[ValidateService]\n"
	    "on_terminating = later\n",
	    ":2: on_terminating = 'later': expected skip or fail" },
	{ "unknown key in an event section", "[AfterInstall]\nimds = no\n",
	    ":2: unknown key 'imds' in an event section" },
	/* sections and syntax */
	{ "unknown section", "[gate]\ntimeout = 5\n[bogus]\nx = 1\n",
	    ":3: unknown section [bogus]" },
	{ "unknown empty section", "[gate]\n[bogus]\n; nothing\n",
	    ":2: unknown section [bogus]" },
	{ "event names are case-sensitive", "[beforeinstall]\ntimeout = 5\n",
	    ":1: unknown section [beforeinstall]" },
	{ "section names are case-sensitive", "[Gate]\ntimeout = 5\n",
	    ":1: unknown section [Gate]" },
	{ "program name is not a section", "[before-install]\ntimeout = 5\n",
	    ":1: unknown section [before-install]" },
	{ "key outside a section", "timeout = 5\n",
	    ":1: 'timeout' is outside any [section]" },
	{ "duplicate key", "[gate]\ntimeout = 1\ntimeout = 2\n",
	    ":3: 'timeout' is given twice in [gate]" },
	{ "duplicate key, section repeated", "[gate]\ntimeout = 1\n[marker]\n"
	    "[gate]\ntimeout = 2\n", ":5: 'timeout' is given twice in [gate]" },
	{ "duplicate key in an event", "[BeforeInstall]\ntimeout = 1\n"
	    "timeout = 2\n", ":3: 'timeout' is given twice in [BeforeInstall]" },
	{ "syntax error", "[gate]\ntimeout 5\n", ":2: syntax error" },
	{ "syntax error, CRLF", "[gate]\r\n\r\ntimeout 5\r\n",
	    ":3: syntax error" },
	{ "first error wins", "[gate]\ntimeout = 0\n[bogus]\n",
	    ":2: timeout = '0'" },
};

static void
test_bad_values(void **state)
{
	struct tl_fx *x = *state;
	struct config *c;
	struct status st;
	char want[512];
	size_t i;

	for (i = 0; i < NELEM(bad_cases); i++) {
		const struct bad_case *k = &bad_cases[i];

		CHECK_INT(k->what, load_text(x, k->text, &c, &st), ST_CONFIG);
		CHECK_INT(k->what, st.code, ST_CONFIG);
		snprintf(want, sizeof(want), "%s%s", x->path, k->msg);
		CHECK_HAS(k->what, st.msg, want);
		free(c);
	}
}

static void
test_at_most_cap_tags(void **state)
{
	struct tl_fx *x = *state;
	char text[4096], want[256];
	struct config *c;
	struct status st;
	size_t used;
	int i;

	used = (size_t)snprintf(text, sizeof(text), "[tags]\n");
	for (i = 0; i < CAP_TAGS; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		    "k%d = v%d\n", i, i);
	assert_int_equal(load_text(x, text, &c, &st), ST_OK);
	assert_int_equal(TG(c)->ntags, CAP_TAGS);
	free(c);
	snprintf(text + used, sizeof(text) - used, "one = more\n");
	assert_int_equal(load_text(x, text, &c, &st), ST_CONFIG);
	snprintf(want, sizeof(want), "%s:%d: more than %d required tags",
	    x->path, CAP_TAGS + 2, CAP_TAGS);
	assert_non_null(strstr(st.msg, want));
	free(c);
}

/* a line of CAP_INI_LINE bytes loads; one more is refused on its line */
static void
test_long_lines(void **state)
{
	struct tl_fx *x = *state;
	char text[CAP_INI_LINE + 64], want[256];
	struct config *c;
	struct status st;
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "[gate]\ntimeout = 5\n"
	    "[tags]\nRole = ");
	memset(text + n, 'a', CAP_INI_LINE - 7);
	text[n + CAP_INI_LINE - 7] = '\0';
	assert_int_equal(load_text(x, text, &c, &st), ST_OK);
	assert_int_equal(strlen(TG(c)->tags[0].glob), CAP_INI_LINE - 7);
	free(c);
	text[n + CAP_INI_LINE - 7] = 'a';
	text[n + CAP_INI_LINE - 6] = '\0';
	assert_int_equal(load_text(x, text, &c, &st), ST_CONFIG);
	snprintf(want, sizeof(want), "%s:4: line longer than %d bytes",
	    x->path, CAP_INI_LINE);
	assert_non_null(strstr(st.msg, want));
	free(c);
}

/* ------------------------------------------------------------------ */
/* config_checks: the defaults of cdgate-hooks(8), and the event overrides */

struct checks_case {
	enum event ev;
	const char *plain, *health;	/* without and with [health] */
};

static const struct checks_case checks_cases[] = {
	{ EV_APPLICATION_STOP, "lifecycle", "lifecycle" },
	{ EV_BEFORE_INSTALL, "lifecycle marker tags", "lifecycle marker tags" },
	{ EV_AFTER_INSTALL, "lifecycle", "lifecycle" },
	{ EV_APPLICATION_START, "lifecycle", "lifecycle" },
	{ EV_VALIDATE_SERVICE, "lifecycle", "lifecycle health" },
	{ EV_BEFORE_BLOCK_TRAFFIC, "lifecycle", "lifecycle" },
	{ EV_AFTER_BLOCK_TRAFFIC, "lifecycle", "lifecycle" },
	{ EV_BEFORE_ALLOW_TRAFFIC, "lifecycle marker tags",
	    "lifecycle marker tags health" },
	{ EV_AFTER_ALLOW_TRAFFIC, "lifecycle", "lifecycle" },
};

/* The names of an event's checks among DESIGN_CHECKS, as the plan says
 * them ("lifecycle marker tags"). */
static const char *
design_checks(const struct config *c, enum event ev, char *buf, size_t len)
{
	registry_list(config_checks(c, ev) & DESIGN_CHECKS, buf, len);
	return buf;
}

static void
test_default_checks_per_event(void **state)
{
	struct tl_fx *x = *state;
	struct config *plain, *health, *defaults;
	struct status st;
	char got[128];
	size_t i;

	assert_int_equal(NELEM(checks_cases), EV_COUNT);
	assert_non_null(defaults = malloc(sizeof(*defaults)));
	assert_int_equal(load_text(x, "", &plain, &st), ST_OK);
	assert_int_equal(load_text(x, "[health]\nurl = http://127.0.0.1/\n",
	    &health, &st), ST_OK);
	for (i = 0; i < NELEM(checks_cases); i++) {
		const struct checks_case *k = &checks_cases[i];
		const char *what = event_name(k->ev);

		CHECK_STR(what, design_checks(plain, k->ev, got, sizeof(got)),
		    k->plain);
		CHECK_STR(what, design_checks(health, k->ev, got, sizeof(got)),
		    k->health);
		/* the built-in defaults are the same as an empty file */
		config_defaults(defaults);
		CHECK_INT(what, config_checks(plain, k->ev),
		    config_checks(defaults, k->ev));
	}
	free(plain);
	free(health);
	free(defaults);
}

/* checks = in an event section replaces its defaults, for every event,
 * and leaves the others alone */
static void
test_checks_override_every_event(void **state)
{
	struct tl_fx *x = *state;
	struct config *c, *d;
	struct status st;
	char text[256];
	size_t i, j;

	assert_int_equal(load_text(x, "", &d, &st), ST_OK);
	for (i = 0; i < EV_COUNT; i++) {
		const char *what = event_name((enum event)i);

		snprintf(text, sizeof(text), "[%s]\nchecks = tags\n", what);
		CHECK_INT(what, load_text(x, text, &c, &st), ST_OK);
		for (j = 0; j < EV_COUNT; j++)
			CHECK_INT(what, config_checks(c, (enum event)j),
			    i == j ? registry_bit("tags") : config_checks(d,
			    (enum event)j));
		free(c);
	}
	free(d);
}

/* ------------------------------------------------------------------ */
/* the file itself */

enum bad_kind {
	BAD_ABSENT, BAD_SYMLINK, BAD_DANGLING, BAD_DIR, BAD_FIFO, BAD_GROUP_W,
	BAD_WORLD_W, BAD_OWNER, BAD_BIG, BAD_NUL, BAD_UTF8
};

struct badfile_case {
	const char *what;
	enum bad_kind kind;
	const char *msg;	/* follows "config 'PATH' " */
};

static const struct badfile_case badfile_cases[] = {
	{ "absent", BAD_ABSENT, "does not exist" },
	{ "symlink to a good file", BAD_SYMLINK, "is a symbolic link" },
	{ "dangling symlink", BAD_DANGLING, "is a symbolic link" },
	{ "directory", BAD_DIR, "is a directory" },
	{ "FIFO", BAD_FIFO, "is a FIFO" },
	{ "group-writable", BAD_GROUP_W, "is group-writable; chmod go-w" },
	{ "world-writable", BAD_WORLD_W, "is world-writable; chmod go-w" },
	{ "owned by another user", BAD_OWNER,
	    "is owned by uid 65534, not root or the running user" },
	{ "larger than CAP_CONFIG_FILE", BAD_BIG, "is too large" },
	{ "NUL byte", BAD_NUL, "holds NUL bytes" },
	{ "invalid UTF-8", BAD_UTF8, "is not valid UTF-8" },
};

static void
make_bad(const char *dir, const char *path, enum bad_kind kind)
{
	const char good[] = "[gate]\ntimeout = 5\n";
	char other[160], *big;

	tl_join(other, sizeof(other), dir, "real.ini");
	switch (kind) {
	case BAD_ABSENT:
		break;
	case BAD_SYMLINK:
		tl_put_text(other, good);
		assert_int_equal(symlink(other, path), 0);
		break;
	case BAD_DANGLING:
		assert_int_equal(symlink("/nonexistent/cdgate.ini", path), 0);
		break;
	case BAD_DIR:
		assert_int_equal(mkdir(path, 0755), 0);
		break;
	case BAD_FIFO:
		assert_int_equal(mkfifo(path, 0644), 0);
		break;
	case BAD_GROUP_W:
		tl_put_file(path, good, strlen(good), 0664);
		break;
	case BAD_WORLD_W:
		tl_put_file(path, good, strlen(good), 0646);
		break;
	case BAD_OWNER:
		tl_put_text(path, good);
		assert_int_equal(chown(path, 65534, 65534), 0);
		break;
	case BAD_BIG:
		assert_non_null(big = malloc(CAP_CONFIG_FILE + 1));
		memset(big, '\n', CAP_CONFIG_FILE + 1);
		tl_put_file(path, big, CAP_CONFIG_FILE + 1, 0644);
		free(big);
		break;
	case BAD_NUL:
		tl_put_file(path, "[gate]\n\0", 8, 0644);
		break;
	case BAD_UTF8:
		tl_put_text(path, "[tags]\nRole = caf\xe9\n");
		break;
	}
}

static void
undo_bad(const char *dir, const char *path)
{
	char other[160];

	tl_join(other, sizeof(other), dir, "real.ini");
	unlink(other);
	if (unlink(path) != 0 && errno != ENOENT)
		assert_int_equal(rmdir(path), 0);
}

static void
test_bad_files(void **state)
{
	struct tl_fx *x = *state;
	struct config *c;
	struct status st;
	char want[256];
	size_t i;

	assert_int_equal(geteuid(), 0);	/* chown to 65534 needs root */
	assert_non_null(c = malloc(sizeof(*c)));
	for (i = 0; i < NELEM(badfile_cases); i++) {
		const struct badfile_case *k = &badfile_cases[i];

		make_bad(x->dir, x->path, k->kind);
		config_defaults(c);
		CHECK_INT(k->what, config_load_file(c, x->path, &st),
		    ST_CONFIG);
		CHECK_INT(k->what, st.code, ST_CONFIG);
		snprintf(want, sizeof(want), "config '%s' %s", x->path,
		    k->msg);
		CHECK_HAS(k->what, st.msg, want);
		undo_bad(x->dir, x->path);
	}
	free(c);
}

/* exactly CAP_CONFIG_FILE bytes is still accepted */
static void
test_cap_sized_file(void **state)
{
	struct tl_fx *x = *state;
	struct config *c;
	struct status st;
	char *big;

	assert_non_null(big = malloc(CAP_CONFIG_FILE));
	memset(big, '\n', CAP_CONFIG_FILE);
	memcpy(big, "[gate]\ntimeout = 7\n", 19);
	tl_put_file(x->path, big, CAP_CONFIG_FILE, 0644);
	free(big);
	assert_non_null(c = malloc(sizeof(*c)));
	config_defaults(c);
	assert_int_equal(config_load_file(c, x->path, &st), ST_OK);
	assert_int_equal(c->timeout, 7);
	free(c);
}

/* ------------------------------------------------------------------ */
/* config_load: the search order */

/* dir/app/hooks/before-install is the program; candidates are
 * dir/app/hooks/cdgate.ini and dir/app/cdgate.ini */
struct tree {
	char app[128], hooks[160], self[192], beside[192], parent[160];
	char env[160];
};

static void
make_tree(const struct tl_fx *x, struct tree *t)
{
	tl_join(t->app, sizeof(t->app), x->dir, "app");
	tl_join(t->hooks, sizeof(t->hooks), t->app, "hooks");
	tl_join(t->self, sizeof(t->self), t->hooks, "before-install");
	tl_join(t->beside, sizeof(t->beside), t->hooks, "cdgate.ini");
	tl_join(t->parent, sizeof(t->parent), t->app, "cdgate.ini");
	tl_join(t->env, sizeof(t->env), x->dir, "env.ini");
	assert_int_equal(mkdir(t->app, 0755), 0);
	assert_int_equal(mkdir(t->hooks, 0755), 0);
	tl_put_text(t->self, "#!/bin/sh\n");
}

/* config_load as the program self must return want; the config is
 * malloc'd, and filled with junk first: config_load starts from defaults */
static struct config *
load_as(const char *self, int want)
{
	struct config *c;
	struct status st;
	int rc;

	assert_non_null(c = malloc(sizeof(*c)));
	memset(c, 0x5a, sizeof(*c));
	status_clear(&st);
	rc = config_load(c, self, &st);
	if (rc != want)
		fail_msg("config_load('%s') is %d, want %d: %s", self, rc,
		    want, st.msg);
	return c;
}

/* config_load as the program self must fail with ST_CONFIG and a message
 * that holds the printf-formatted text */
static void load_refused(const char *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
load_refused(const char *self, const char *fmt, ...)
{
	struct config *c;
	struct status st;
	char want[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	assert_non_null(c = malloc(sizeof(*c)));
	CHECK_INT(want, config_load(c, self, &st), ST_CONFIG);
	CHECK_HAS(want, st.msg, want);
	free(c);
}

static void
test_load_env_first(void **state)
{
	struct config *c;
	struct tree t;

	make_tree(*state, &t);
	tl_put_text(t.env, "[gate]\ntimeout = 11\n");
	tl_put_text(t.beside, "[gate]\ntimeout = 22\n");
	tl_put_text(t.parent, "[gate]\ntimeout = 33\n");
	assert_int_equal(setenv("CDGATE_CONFIG", t.env, 1), 0);
	c = load_as(t.self, ST_OK);
	assert_string_equal(c->path, t.env);
	assert_int_equal(c->timeout, 11);
	free(c);
}

static void
test_load_env_absent_is_an_error(void **state)
{
	struct tree t;

	make_tree(*state, &t);
	tl_put_text(t.beside, "[gate]\ntimeout = 22\n");
	assert_int_equal(setenv("CDGATE_CONFIG", t.env, 1), 0);
	load_refused(t.self, "config '%s' (from CDGATE_CONFIG) does not exist",
	    t.env);
}

static void
test_load_env_bad_file_is_an_error(void **state)
{
	struct tree t;

	make_tree(*state, &t);
	tl_put_text(t.env, "[gate]\ntimeout = never\n");
	tl_put_text(t.beside, "[gate]\ntimeout = 22\n");
	assert_int_equal(setenv("CDGATE_CONFIG", t.env, 1), 0);
	load_refused(t.self, "%s:2: timeout = 'never'", t.env);
}

static void
test_load_env_dangling_symlink_is_refused(void **state)
{
	struct tree t;

	make_tree(*state, &t);
	assert_int_equal(symlink("/nonexistent/cdgate.ini", t.env), 0);
	assert_int_equal(setenv("CDGATE_CONFIG", t.env, 1), 0);
	load_refused(t.self, "config '%s' is a symbolic link", t.env);
}

/* an empty CDGATE_CONFIG is ignored: the search goes on */
static void
test_load_env_empty_is_ignored(void **state)
{
	struct config *c;
	struct tree t;

	make_tree(*state, &t);
	tl_put_text(t.beside, "[gate]\ntimeout = 22\n");
	assert_int_equal(setenv("CDGATE_CONFIG", "", 1), 0);
	c = load_as(t.self, ST_OK);
	assert_string_equal(c->path, t.beside);
	free(c);
}

static void
test_load_beside_before_parent(void **state)
{
	struct config *c;
	struct tree t;

	make_tree(*state, &t);
	tl_put_text(t.beside, "[gate]\ntimeout = 22\n");
	tl_put_text(t.parent, "[gate]\ntimeout = 33\n");
	c = load_as(t.self, ST_OK);
	assert_string_equal(c->path, t.beside);
	assert_int_equal(c->timeout, 22);
	free(c);
}

static void
test_load_parent(void **state)
{
	struct config *c;
	struct tree t;

	make_tree(*state, &t);
	tl_put_text(t.parent, "[gate]\ntimeout = 33\n");
	c = load_as(t.self, ST_OK);
	assert_string_equal(c->path, t.parent);
	assert_int_equal(c->timeout, 33);
	assert_string_equal(MK(c)->path, MARKER_DEFAULT_PATH);
	free(c);
}

/* a relative program path: the directories are still found */
static void
test_load_relative_self(void **state)
{
	struct tl_fx *x = *state;
	struct config *c;
	struct tree t;

	make_tree(x, &t);
	tl_put_text(t.parent, "[gate]\ntimeout = 33\n");
	assert_int_equal(chdir(t.hooks), 0);
	c = load_as("./before-install", ST_OK);
	assert_int_equal(c->timeout, 33);
	assert_non_null(strstr(c->path, "app/cdgate.ini"));
	assert_int_equal(chdir(x->cwd), 0);
	free(c);
}

/* a candidate that exists but cannot be used is an error, not a reason to
 * try the next one */
static void
test_load_bad_beside_does_not_fall_through(void **state)
{
	static const enum bad_kind kinds[] = {
		BAD_SYMLINK, BAD_DANGLING, BAD_DIR, BAD_GROUP_W, BAD_UTF8,
	};
	struct config *c;
	struct status st;
	struct tree t;
	char want[256];
	size_t i;

	make_tree(*state, &t);
	tl_put_text(t.parent, "[gate]\ntimeout = 33\n");
	assert_non_null(c = malloc(sizeof(*c)));
	for (i = 0; i < NELEM(kinds); i++) {
		const struct badfile_case *k = NULL;
		size_t j;

		for (j = 0; j < NELEM(badfile_cases); j++)
			if (badfile_cases[j].kind == kinds[i])
				k = &badfile_cases[j];
		assert_non_null(k);
		make_bad(t.hooks, t.beside, kinds[i]);
		CHECK_INT(k->what, config_load(c, t.self, &st), ST_CONFIG);
		snprintf(want, sizeof(want), "config '%s' %s", t.beside,
		    k->msg);
		CHECK_HAS(k->what, st.msg, want);
		undo_bad(t.hooks, t.beside);
	}
	free(c);
	/* and a bad parent, with nothing beside */
	tl_put_text(t.parent, "[gate]\nbogus = 1\n");
	load_refused(t.self, "%s:2: unknown key 'bogus'", t.parent);
}

/* nothing beside or above: /etc/cdgate/cdgate.ini, else the defaults */
static void
test_load_nothing_found(void **state)
{
	struct tl_fx *x = *state;
	struct config *c;
	struct status st;
	struct tree t;
	struct stat sb;
	int rc;

	make_tree(x, &t);
	assert_non_null(c = malloc(sizeof(*c)));
	rc = config_load(c, t.self, &st);
	if (lstat(CONFIG_ETC, &sb) == -1 && errno == ENOENT) {
		assert_int_equal(rc, ST_OK);
		assert_string_equal(c->path, "");
		chk_defaults(c);
	} else {
		/* this host has one: it is what was used */
		assert_string_equal(c->path, CONFIG_ETC);
	}
	free(c);
}

/*
 * Every directory searched must be trusted, whether it holds a cdgate.ini
 * or not (issue 15, item 8): otherwise another user could have removed or
 * replaced one, and the defaults would be used.
 */
static void
test_load_untrusted_dirs_are_refused(void **state)
{
	struct config *c;
	struct tree t;

	make_tree(*state, &t);
	/* beside, in a world-writable directory: refused */
	tl_put_text(t.beside, "[gate]\ntimeout = 22\n");
	assert_int_equal(chmod(t.hooks, 0777), 0);
	load_refused(t.self, "another user could remove or replace a "
	    "cdgate.ini there: config directory '%s' is writable by "
	    "everyone", t.hooks);
	/* none beside: no fall-through to the parent or the defaults */
	assert_int_equal(unlink(t.beside), 0);
	load_refused(t.self, "config directory '%s' is writable by everyone",
	    t.hooks);
	/* sticky is not enough (the marker's rule) */
	assert_int_equal(chmod(t.hooks, 01777), 0);
	load_refused(t.self, "config directory '%s' is writable by everyone",
	    t.hooks);
	/* the hooks' directory trusted, the parent searched: it must be too */
	assert_int_equal(chmod(t.hooks, 0755), 0);
	assert_int_equal(chmod(t.app, 0775), 0);
	load_refused(t.self, "config directory '%s' is writable by its group",
	    t.app);
	/* a cdgate.ini beside the program: the parent is not looked at */
	tl_put_text(t.beside, "[gate]\ntimeout = 22\n");
	c = load_as(t.self, ST_OK);
	assert_int_equal(c->timeout, 22);
	free(c);
	assert_int_equal(chmod(t.app, 0755), 0);
}

#define T(f) TL_FX_TEST(f, &fx_spec)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_good_values),
		T(test_booleans),
		T(test_bad_values),
		T(test_at_most_cap_tags),
		T(test_long_lines),
		T(test_default_checks_per_event),
		T(test_checks_override_every_event),
		T(test_bad_files),
		T(test_cap_sized_file),
		T(test_load_env_first),
		T(test_load_env_absent_is_an_error),
		T(test_load_env_bad_file_is_an_error),
		T(test_load_env_dangling_symlink_is_refused),
		T(test_load_env_empty_is_ignored),
		T(test_load_beside_before_parent),
		T(test_load_parent),
		T(test_load_relative_self),
		T(test_load_bad_beside_does_not_fall_through),
		T(test_load_nothing_found),
		T(test_load_untrusted_dirs_are_refused),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
