/*
 * oldcurl.so: LD_PRELOAD'ed by tests/blackbox/test_portable.py, makes the
 * system's libcurl answer like one older than 7.85 (RHEL 9's 7.76, Ubuntu
 * 22.04's 7.81): CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR are
 * unknown options.  Every protocol bitmask set is appended to the file
 * $OLDCURL_LOG ("PROTOCOLS 1", "REDIR_PROTOCOLS 2"), so the test sees the
 * fallback that src/aws/http.c takes.  Test code only, never in a product.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CURL_DISABLE_TYPECHECK 1
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>

typedef CURLcode (*setopt_fn)(CURL *, CURLoption, ...);

static void
oldcurl_log(const char *name, long mask)
{
	const char *path = getenv("OLDCURL_LOG");
	char line[64];
	int fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) == -1)
		return;
	n = snprintf(line, sizeof(line), "%s %ld\n", name, mask);
	if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

CURLcode (curl_easy_setopt)(CURL *c, CURLoption o, ...)
{
	setopt_fn real = (setopt_fn)(uintptr_t)dlsym(RTLD_NEXT,
	    "curl_easy_setopt");
	va_list ap;
	CURLcode rc;

	if (o == CURLOPT_PROTOCOLS_STR || o == CURLOPT_REDIR_PROTOCOLS_STR)
		return CURLE_UNKNOWN_OPTION;
	va_start(ap, o);
	if (o < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);
		if (o == CURLOPT_PROTOCOLS)
			oldcurl_log("PROTOCOLS", v);
		if (o == CURLOPT_REDIR_PROTOCOLS)
			oldcurl_log("REDIR_PROTOCOLS", v);
		rc = real(c, o, v);
	} else if (o >= CURLOPTTYPE_OFF_T && o < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);
		rc = real(c, o, v);
	} else {
		void *v = va_arg(ap, void *);
		rc = real(c, o, v);
	}
	va_end(ap);
	return rc;
}
