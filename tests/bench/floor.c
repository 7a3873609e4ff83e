/*
 * floor: the cost of merely starting a program linked like the hooks, with
 * the same flags and $(PKG_LIBS), so the dynamic loader maps, relocates
 * and initialises the same libraries (libcurl's whole dependency tree) and
 * the program carries the same static parsers.
 * It does nothing else.  Each library is referenced once, never called,
 * so that --as-needed keeps it; bench.py checks that the floor and
 * before-install load exactly the same set of shared objects.
 */
#include <curl/curl.h>
#include <expat.h>
#include <ini.h>
#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <yaml.h>

static void (*volatile const floor_keep[])(void) = {
	(void (*)(void))curl_version,
	(void (*)(void))OpenSSL_version_num,
	(void (*)(void))ini_parse_string,
	(void (*)(void))json_c_version,
	(void (*)(void))XML_ExpatVersion,
	(void (*)(void))yaml_get_version_string,
};

int
main(void)
{
	return floor_keep[0] == NULL;
}
