/*
 * curl-stub.c: a link-time stand-in for libcurl.so.4, never run.
 *
 * The programs are linked against this stub (soname libcurl.so.4, no
 * symbol versions) instead of the build machine's libcurl, so their
 * references to libcurl carry no version requirement and bind silently
 * to whichever libcurl.so.4 the instance has: Debian and Ubuntu version
 * libcurl's symbols (CURL_OPENSSL_4), Amazon Linux 2023 and RHEL do not,
 * and a versioned reference makes every run there print "no version
 * information available" (docs/portability.md).
 *
 * The programs themselves are compiled against the real <curl/curl.h>,
 * and so is this file: each definition below must match the header's
 * prototype or the build fails.  A libcurl function the programs start
 * to use must be added here, or the link fails naming it.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <stdlib.h>

#define STUB { abort(); }

CURLcode curl_global_init(long flags) STUB
void curl_global_cleanup(void) STUB
char *curl_version(void) STUB
curl_version_info_data *curl_version_info(CURLversion v) STUB
CURL *curl_easy_init(void) STUB
CURLcode (curl_easy_setopt)(CURL *c, CURLoption o, ...) STUB
CURLcode curl_easy_perform(CURL *c) STUB
void curl_easy_cleanup(CURL *c) STUB
void curl_easy_reset(CURL *c) STUB
CURLcode (curl_easy_getinfo)(CURL *c, CURLINFO i, ...) STUB
const char *curl_easy_strerror(CURLcode e) STUB
struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s) STUB
void curl_slist_free_all(struct curl_slist *l) STUB
CURLM *curl_multi_init(void) STUB
CURLMcode curl_multi_add_handle(CURLM *m, CURL *c) STUB
CURLMcode curl_multi_remove_handle(CURLM *m, CURL *c) STUB
CURLMcode curl_multi_perform(CURLM *m, int *running) STUB
CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned int n,
    int ms, int *numfds) STUB
CURLMcode curl_multi_wait(CURLM *m, struct curl_waitfd *fds, unsigned int n,
    int ms, int *numfds) STUB
CURLMsg *curl_multi_info_read(CURLM *m, int *left) STUB
CURLMcode curl_multi_cleanup(CURLM *m) STUB
const char *curl_multi_strerror(CURLMcode e) STUB
