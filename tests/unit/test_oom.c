/*
 * test_oom.c: out of memory is a system error, exit 71 (issue 15, item
 * 15): in the SigV4 HMAC (it was 70, "internal error") and while loading
 * the configuration (it was 78, "configuration error").
 *
 * OpenSSL's allocations are failed through CRYPTO_set_mem_functions, set
 * before OpenSSL allocates anything.  The C library's are failed in a
 * forked child with RLIMIT_AS at its size and the heap used up; not under
 * AddressSanitizer, whose allocator ends the program on OOM instead of
 * returning NULL.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <openssl/crypto.h>

#include "base/caps.h"
#include "run/config.h"
#include "aws/sigv4.h"
#include "base/status.h"
#include "testlib.h"

static int fail_openssl;

static void *
t_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return fail_openssl ? NULL : malloc(n);
}

static void *
t_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return fail_openssl ? NULL : realloc(p, n);
}

static void
t_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static int
sign(struct sigv4_out *out, struct status *st)
{
	static const struct sigv4_header h[] = {
		{ "Host", "ec2.us-east-1.amazonaws.com" },
		{ "Content-Type", "application/x-www-form-urlencoded" },
	};
	static const char body[] = "Action=DescribeTags&Version=2016-11-15";
	struct sigv4_req req;
	struct sigv4_cred cred = { "AKIDEXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL };

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = "/";
	req.query = "";
	req.headers = h;
	req.nheaders = NELEM(h);
	req.body = (const unsigned char *)body;
	req.bodylen = strlen(body);
	req.region = "us-east-1";
	req.service = "ec2";
	req.amz_date = "20261126T020000Z";
	status_clear(st);
	return sigv4_sign(&req, &cred, out, st);
}

static void
test_sigv4_out_of_memory_is_a_system_error(void **state)
{
	static struct sigv4_out out;
	struct status st;

	(void)state;
	CHECK_INT("signs", sign(&out, &st), ST_OK);
	fail_openssl = 1;
	CHECK_INT("no memory", sign(&out, &st), ST_OSERR);
	fail_openssl = 0;
	CHECK_HAS("message", st.msg, "out of memory");
	CHECK_INT("signs again", sign(&out, &st), ST_OK);
}

#if !defined(__SANITIZE_ADDRESS__)
/* Maps stack pages ahead: under the tight RLIMIT_AS below, growing the
 * stack into a new page would be a SIGSEGV, not an allocation failure
 * (and how deep that is varies with where ASLR puts the stack top). */
static void __attribute__((noinline))
oom_touch_stack(void)
{
	volatile char pad[256 * 1024];
	size_t i;

	for (i = 0; i < sizeof(pad); i += 4096)
		pad[i] = 1;
}
#endif

static void
test_config_out_of_memory_is_a_system_error(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)state;
	skip();
#else
	char dir[64], path[128];
	struct config *c;
	struct status st;
	struct rlimit rl;
	unsigned long pages = 0;
	int ws, rc;
	FILE *f;
	pid_t pid;

	(void)state;
	tl_tmpdir(dir, sizeof(dir), "oom", 0755);
	tl_join(path, sizeof(path), dir, "cdgate.ini");
	tl_put_text(path, "[gate]\ntimeout = 5\n");
	assert_non_null(c = malloc(sizeof(*c)));
	if ((pid = fork()) == 0) {
		oom_touch_stack();
		f = fopen("/proc/self/statm", "re");
		if (f == NULL || fscanf(f, "%lu", &pages) != 1)
			_exit(90);
		fclose(f);
		rl.rlim_cur = rl.rlim_max = (rlim_t)pages *
		    (rlim_t)sysconf(_SC_PAGESIZE) + 4096;
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(91);
		/* use up the heap: no block of the file reader's size left */
		while (malloc(CAP_CONFIG_FILE / 2) != NULL)
			;
		while (malloc(1024) != NULL)
			;
		config_defaults(c);
		rc = config_load_file(c, path, &st);
		_exit(rc == ST_OK ? 92 : rc);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	tl_rmtree(dir);
	free(c);
	if (WIFSIGNALED(ws))
		fail_msg("the child was killed by signal %d", WTERMSIG(ws));
	assert_true(WIFEXITED(ws));
	CHECK_INT("config", WEXITSTATUS(ws), ST_OSERR);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_out_of_memory_is_a_system_error),
		cmocka_unit_test(test_config_out_of_memory_is_a_system_error),
	};

	/* before anything makes OpenSSL allocate */
	if (!CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free))
		return 99;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
