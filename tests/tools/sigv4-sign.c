/*
 * sigv4-sign: signs one request described on stdin with src/sigv4, for the
 * black-box tests that compare it with botocore.  Not installed.
 *
 * Input, one "key=value" a line (bytes after the first '=' are the value):
 *   method=POST            path=/             query=<raw query>
 *   normalize=1            sign the normalised path (sigv4_req.normalize_path)
 *   host=<Host value>      header=<Name>:<value>   (repeatable)
 *   region=us-east-1       service=ec2        date=YYYYMMDDTHHMMSSZ
 *   access=<key id>        secret=<secret>    token=<session token>
 *   body=<hex>                      the body, byte for byte, or
 *   param=<hex name>=<hex value>    (repeatable) a form body built with
 *                                   sigv4_form_add, in the order given
 * Output, on success (exit 0):
 *   body=<hex of the body signed>
 *   creq=<hex of the canonical request>
 *   sts=<hex of the string to sign>
 *   add=<name of a header to send>     (repeatable; values not printed)
 *   authorization=<Authorization value>    (last line)
 * On failure a message on stderr and the exit code of the status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/caps.h"
#include "aws/sigv4.h"
#include "base/status.h"
#include "base/text.h"

#define TOOL_CAP_BODY  65536			/* body, bytes */
#define TOOL_CAP_LINE  (2 * TOOL_CAP_BODY + 64)	/* one input line */
#define TOOL_CAP_FIELD 8192			/* a decoded param part */

struct input {
	char method[SIGV4_CAP_METHOD], path[SIGV4_CAP_PATH];
	char query[SIGV4_CAP_QUERY], region[CAP_REGION];
	char service[SIGV4_CAP_SERVICE], date[SIGV4_CAP_DATE];
	char access[SIGV4_CAP_ACCESS_KEY], secret[SIGV4_CAP_SECRET];
	char token[SIGV4_CAP_HEADER_VALUE], host[SIGV4_CAP_HEADER_VALUE];
	char hname[SIGV4_CAP_HEADERS][SIGV4_CAP_HEADER_NAME];
	char hvalue[SIGV4_CAP_HEADERS][SIGV4_CAP_HEADER_VALUE];
	size_t nh;
	unsigned char body[TOOL_CAP_BODY];
	size_t bodylen;
	int has_body, has_params, normalize;
};

static struct input in;
static char line[TOOL_CAP_LINE];

static int
fail(int code, const char *what, const char *key)
{
	fprintf(stderr, "sigv4-sign: %s '%s'\n", what, key);
	return code;
}

static int
set(char *dst, size_t cap, const char *v)
{
	return text_copy(dst, v, cap) < cap ? 0 : -1;
}

/* Decodes hex s[0..n) into dst (cap bytes); returns the length or -1. */
static long
unhex(unsigned char *dst, size_t cap, const char *s, size_t n)
{
	size_t i;
	int hi, lo;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n; i += 2) {
		if ((hi = text_hexval(s[i])) < 0 ||
		    (lo = text_hexval(s[i + 1])) < 0)
			return -1;
		dst[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* param=<hex name>=<hex value>: appended to the form body. */
static int
add_param(const char *v)
{
	static char name[TOOL_CAP_FIELD], value[TOOL_CAP_FIELD];
	const char *eq = strchr(v, '=');
	long n, m;

	if (eq == NULL || in.has_body)
		return -1;
	n = unhex((unsigned char *)name, sizeof(name) - 1, v, (size_t)(eq - v));
	m = unhex((unsigned char *)value, sizeof(value) - 1, eq + 1,
	    strlen(eq + 1));
	if (n < 0 || m < 0 || memchr(name, '\0', (size_t)n) != NULL ||
	    memchr(value, '\0', (size_t)m) != NULL)
		return -1;
	name[n] = '\0';
	value[m] = '\0';
	in.has_params = 1;
	return sigv4_form_add((char *)in.body, sizeof(in.body), &in.bodylen,
	    name, value);
}

static int
add_header(const char *v)
{
	const char *colon = strchr(v, ':');
	size_t n;

	if (colon == NULL || in.nh == SIGV4_CAP_HEADERS)
		return -1;
	n = (size_t)(colon - v);
	if (n >= SIGV4_CAP_HEADER_NAME)
		return -1;
	memcpy(in.hname[in.nh], v, n);
	in.hname[in.nh][n] = '\0';
	if (set(in.hvalue[in.nh], SIGV4_CAP_HEADER_VALUE, colon + 1) != 0)
		return -1;
	in.nh++;
	return 0;
}

static int
take(const char *key, const char *v)
{
	long n;

	if (strcmp(key, "method") == 0)
		return set(in.method, sizeof(in.method), v);
	if (strcmp(key, "path") == 0)
		return set(in.path, sizeof(in.path), v);
	if (strcmp(key, "query") == 0)
		return set(in.query, sizeof(in.query), v);
	if (strcmp(key, "normalize") == 0) {
		in.normalize = strcmp(v, "1") == 0;
		return strcmp(v, "0") == 0 || in.normalize ? 0 : -1;
	}
	if (strcmp(key, "host") == 0)
		return set(in.host, sizeof(in.host), v);
	if (strcmp(key, "region") == 0)
		return set(in.region, sizeof(in.region), v);
	if (strcmp(key, "service") == 0)
		return set(in.service, sizeof(in.service), v);
	if (strcmp(key, "date") == 0)
		return set(in.date, sizeof(in.date), v);
	if (strcmp(key, "access") == 0)
		return set(in.access, sizeof(in.access), v);
	if (strcmp(key, "secret") == 0)
		return set(in.secret, sizeof(in.secret), v);
	if (strcmp(key, "token") == 0)
		return set(in.token, sizeof(in.token), v);
	if (strcmp(key, "header") == 0)
		return add_header(v);
	if (strcmp(key, "param") == 0)
		return add_param(v);
	if (strcmp(key, "body") == 0 && !in.has_params && !in.has_body) {
		n = unhex(in.body, sizeof(in.body), v, strlen(v));
		in.bodylen = n < 0 ? 0 : (size_t)n;
		in.has_body = 1;
		return n < 0 ? -1 : 0;
	}
	return -1;
}

static int
read_input(void)
{
	char *eq;
	size_t n;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(stdin))
			return fail(ST_USAGE, "line too long after", "");
		if (n == 0)
			continue;
		if ((eq = strchr(line, '=')) == NULL)
			return fail(ST_USAGE, "no '=' in line", line);
		*eq = '\0';
		if (take(line, eq + 1) != 0)
			return fail(ST_USAGE, "bad, repeated or oversized",
			    line);
	}
	if (ferror(stdin))
		return fail(ST_OSERR, "cannot read", "stdin");
	return ST_OK;
}

static void
print_hex(const char *key, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	printf("%s=", key);
	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('\n');
}

static int
sign(void)
{
	static struct sigv4_out out;
	struct sigv4_header h[SIGV4_CAP_HEADERS + 1];
	struct sigv4_cred cred = { in.access, in.secret, in.token };
	struct sigv4_req req;
	struct status st;
	size_t i, nh = 0;

	h[nh].name = "Host";
	h[nh++].value = in.host;
	for (i = 0; i < in.nh; i++) {
		h[nh].name = in.hname[i];
		h[nh++].value = in.hvalue[i];
	}
	memset(&req, 0, sizeof(req));
	req.method = in.method[0] ? in.method : "POST";
	req.path = in.path[0] ? in.path : "/";
	req.normalize_path = in.normalize;
	req.query = in.query;
	req.headers = h;
	req.nheaders = nh;
	req.body = in.body;
	req.bodylen = in.bodylen;
	req.region = in.region;
	req.service = in.service[0] ? in.service : "ec2";
	req.amz_date = in.date;
	status_clear(&st);
	if (sigv4_sign(&req, &cred, &out, &st) != ST_OK)
		return fail(st.code, "cannot sign:", st.msg);
	print_hex("body", in.body, in.bodylen);
	print_hex("creq", out.creq, strlen(out.creq));
	print_hex("sts", out.sts, strlen(out.sts));
	for (i = 0; i < out.nadd; i++)
		printf("add=%s\n", out.add[i].name);
	printf("authorization=%s\n", out.authz);
	return fflush(stdout) == 0 ? ST_OK : ST_OSERR;
}

int
main(void)
{
	int rc;

	rc = read_input();
	if (rc == ST_OK)
		rc = sign();
	OPENSSL_cleanse(in.secret, sizeof(in.secret));
	OPENSSL_cleanse(in.token, sizeof(in.token));
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}
