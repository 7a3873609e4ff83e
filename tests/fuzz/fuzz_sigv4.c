/*
 * fuzz_sigv4: SigV4 canonicalisation and signing (sigv4_sign) of any
 * request, sigv4_uri_encode and sigv4_form_add.  Input fields (NUL
 * separated): method, path, query, headers ("Name: value" lines), region,
 * service, amz_date, access key, secret, session token, then the body.
 * Asserts sigv4.h's rules: signing is deterministic; output fits its caps;
 * on error everything is empty; the secret never appears in any output;
 * encoding uses only unreserved characters and %XX.
 */
#include "fuzz.h"

#include "aws/sigv4.h"

#define HMAX (SIGV4_CAP_HEADERS + 2)

static int
unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

static void
check_encode(const char *s, size_t n, unsigned flags)
{
	char out[256];
	size_t i;

	if (sigv4_uri_encode(out, sizeof(out), s, n, flags) != 0) {
		FZ_ASSERT(out[0] == '\0');
		return;
	}
	for (i = 0; out[i] != '\0'; i++) {
		if (out[i] == '%') {
			FZ_ASSERT(strchr("0123456789ABCDEF", out[i + 1]) &&
			    out[i + 1] && strchr("0123456789ABCDEF",
			    out[i + 2]) && out[i + 2]);
			i += 2;
		} else
			FZ_ASSERT(unreserved(out[i]) ||
			    ((flags & SIGV4_KEEP_SLASH) && out[i] == '/'));
	}
}

/* 1 when s is n lowercase hex digits and nothing more. */
static int
hex_only(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

static void
check_shape(const struct sigv4_req *req, const struct sigv4_cred *cred,
    const struct sigv4_out *out)
{
	char scope[512], want[1024];
	const char *sig, *nl;

	snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request",
	    req->amz_date, req->region, req->service);
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=%s/%s, "
	    "SignedHeaders=", cred->access_key, scope);
	FZ_ASSERT(strncmp(out->authz, want, strlen(want)) == 0);
	sig = strstr(out->authz + strlen(want), ", Signature=");
	FZ_ASSERT(sig != NULL && hex_only(sig + 12, 64));
	/* the signed header names: lowercase names and ';' */
	FZ_ASSERT(strcspn(out->authz + strlen(want), ", ") ==
	    (size_t)(sig - out->authz - strlen(want)));
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256\n%s\n%s\n",
	    req->amz_date, scope);
	FZ_ASSERT(strncmp(out->sts, want, strlen(want)) == 0);
	FZ_ASSERT(hex_only(out->sts + strlen(want), 64));
	/* the canonical request ends with the body's hash */
	nl = strrchr(out->creq, '\n');
	FZ_ASSERT(nl != NULL && hex_only(nl + 1, 64));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sigv4_out out, out2;
	struct sigv4_header hdrs[HMAX];
	struct sigv4_req req;
	struct sigv4_cred cred;
	struct status st;
	struct fz f;
	char *hblock, *line, *save = NULL, *colon, *body, *secret;
	char form[512];
	size_t nh = 0, bodylen, flen = 0;
	int rc, rc2;

	fz_init(&f, data, size);
	memset(&req, 0, sizeof(req));
	req.method = fz_field(&f);
	req.path = fz_field(&f);
	req.query = fz_field(&f);
	hblock = fz_field(&f);
	req.region = fz_field(&f);
	req.service = fz_field(&f);
	req.amz_date = fz_field(&f);
	cred.access_key = fz_field(&f);
	cred.secret_key = secret = fz_field(&f);
	cred.session_token = fz_field(&f);
	body = fz_rest(&f, &bodylen);
	for (line = strtok_r(hblock, "\n", &save); line != NULL && nh < HMAX;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		hdrs[nh].name = line;
		hdrs[nh].value = colon + 1 + (colon[1] == ' ');
		nh++;
	}
	req.headers = hdrs;
	req.nheaders = nh;
	req.body = (const unsigned char *)body;
	req.bodylen = bodylen;

	rc = sigv4_sign(&req, &cred, &out, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_USAGE);
	if (rc != ST_OK) {
		FZ_ASSERT(out.creq[0] == '\0' && out.sts[0] == '\0' &&
		    out.authz[0] == '\0' && out.nadd == 0);
		FZ_ASSERT(fz_printable(st.msg));
	} else {
		FZ_ASSERT(strncmp(out.authz, "AWS4-HMAC-SHA256 Credential=",
		    28) == 0);
		FZ_ASSERT(out.nadd <= SIGV4_ADD_MAX);
		FZ_ASSERT(strlen(out.creq) < sizeof(out.creq));
		/* the secret only signs: the outputs hold nothing but the
		 * public inputs and hex digests (a check of their shape,
		 * not a search for the secret, which may equal public text) */
		check_shape(&req, &cred, &out);
		rc2 = sigv4_sign(&req, &cred, &out2, &st);
		FZ_ASSERT(rc2 == ST_OK && strcmp(out.authz, out2.authz) == 0 &&
		    strcmp(out.creq, out2.creq) == 0);
	}

	/* normalize_path: a path already normalised signs the same; any
	 * normalised canonical path has no empty, '.' or '..' segment */
	req.normalize_path = 1;
	rc2 = sigv4_sign(&req, &cred, &out2, &st);
	FZ_ASSERT(rc2 == ST_OK || rc2 == ST_USAGE);
	if (rc == ST_OK)
		FZ_ASSERT(rc2 == ST_OK && strcmp(out.authz, out2.authz) == 0);
	if (rc2 == ST_OK) {
		const char *p = strchr(out2.creq, '\n') + 1;
		size_t plen = strcspn(p, "\n");

		FZ_ASSERT(p[0] == '/' && (plen == 1 || memmem(p, plen, "//",
		    2) == NULL));
		FZ_ASSERT(memmem(p, plen, "/./", 3) == NULL &&
		    memmem(p, plen, "/../", 4) == NULL);
		FZ_ASSERT(!(plen >= 2 && p[plen - 1] == '.' &&
		    p[plen - 2] == '/'));
		FZ_ASSERT(!(plen >= 3 && memcmp(p + plen - 3, "/..", 3) == 0));
	}
	req.normalize_path = 0;
	check_encode(req.path, strlen(req.path), SIGV4_KEEP_SLASH);
	check_encode(body, bodylen, 0);
	form[0] = '\0';
	if (sigv4_form_add(form, sizeof(form), &flen, req.method, req.path)
	    == 0)
		FZ_ASSERT(flen == strlen(form));
	else
		FZ_ASSERT(flen == 0 && form[0] == '\0');
	(void)sigv4_form_add(form, sizeof(form), &flen, req.query, body);
	FZ_ASSERT(flen == strlen(form) && flen < sizeof(form));
	fz_free(&f);
	return 0;
}
