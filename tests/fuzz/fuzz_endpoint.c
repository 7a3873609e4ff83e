/*
 * fuzz_endpoint: URL and endpoint handling of the EC2 client (ec2.h) and
 * the IMDS endpoint variables (imds.h).  Fields (NUL separated): endpoint
 * URL, AWS_ENDPOINT_URL, region, services/domain, instance id, a filter
 * value, AWS_EC2_METADATA_SERVICE_ENDPOINT, ..._MODE.  Asserts the rules:
 * an accepted EC2 endpoint is https://, or http:// to a loopback host only;
 * its URL ends in '/', its Host has no '/', '@', blank or control; an
 * accepted IMDS endpoint is plain http:// without user info, query or
 * fragment.
 */
#include "fuzz.h"

#include "aws/ec2.h"
#include "aws/imds.h"

static void
check_ep(const struct ec2_endpoint *ep)
{
	size_t n = strlen(ep->url);

	FZ_ASSERT(ep->https || ep->loopback);
	FZ_ASSERT(strncmp(ep->url, ep->https ? "https://" : "http://",
	    ep->https ? 8 : 7) == 0);
	FZ_ASSERT(n > 0 && ep->url[n - 1] == '/');
	FZ_ASSERT(ep->host[0] != '\0' && fz_printable(ep->host));
	FZ_ASSERT(strpbrk(ep->host, "/@ ?#\\") == NULL);
	FZ_ASSERT(fz_printable(ep->url));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ec2_endpoint ep;
	struct status st;
	struct imds m;
	struct fz f;
	char *u1, *u2, *region, *domain, *iid, *filt, *ie, *im, esc[512];
	int rc;

	fz_init(&f, data, size);
	u1 = fz_field(&f);
	u2 = fz_field(&f);
	region = fz_field(&f);
	domain = fz_field(&f);
	iid = fz_field(&f);
	filt = fz_field(&f);
	ie = fz_field(&f);
	im = fz_field(&f);

	memset(&ep, 0, sizeof(ep));
	if (ec2_parse_endpoint(u1, "AWS_ENDPOINT_URL_EC2", &ep, &st) == ST_OK)
		check_ep(&ep);
	else
		FZ_ASSERT(st.code == ST_CONFIG && fz_printable(st.msg));
	memset(&ep, 0, sizeof(ep));
	rc = ec2_resolve_endpoint(u1[0] ? u1 : NULL, u2, region, domain, &ep,
	    &st);
	if (rc == ST_OK)
		check_ep(&ep);
	if (ec2_region_ok(region))
		FZ_ASSERT(strlen(region) < CAP_REGION &&
		    strpbrk(region, "/:@. ") == NULL);
	if (ec2_domain_ok(domain))
		FZ_ASSERT(strlen(domain) < EC2_CAP_DOMAIN &&
		    strpbrk(domain, "/:@ ") == NULL);
	if (imds_instance_id_ok(iid))
		FZ_ASSERT(strncmp(iid, "i-", 2) == 0 &&
		    strlen(iid) < CAP_INSTANCE_ID);
	if (ec2_filter_escape(esc, sizeof(esc), filt) == 0)
		FZ_ASSERT(strlen(esc) >= strlen(filt));

	/* the IMDS endpoint variables */
	if (ie[0])
		setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ie, 1);
	else
		unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", im, 1);
	if (imds_init(&m, &st) == ST_OK) {
		FZ_ASSERT(strncmp(m.base, "http://", 7) == 0);
		FZ_ASSERT(strpbrk(m.base, " \t\r\n?#@") == NULL);
		FZ_ASSERT(fz_printable(m.base));
		imds_free(&m);
	} else
		FZ_ASSERT(st.code == ST_CONFIG && fz_printable(st.msg));
	fz_free(&f);
	return 0;
}
