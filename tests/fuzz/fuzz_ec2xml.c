/*
 * fuzz_ec2xml: EC2 Query API replies through expat (DescribeTags,
 * CreateTags, errors).  The first byte picks the caps.  Asserts ec2xml.h's
 * rules: never more items than the cap, keys and values within their
 * character caps and valid UTF-8, no DOCTYPE ever accepted, error texts
 * already cleaned, *ntags 0 on error.
 */
#include "fuzz.h"

#include "aws/ec2xml.h"
#include "base/text.h"

static size_t
chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/*
 * 1 when xml opens with a DOCTYPE (after an optional XML declaration and
 * blanks): "<!DOCTYPE" elsewhere may be text in a PI, comment or CDATA.
 */
static int
real_doctype(const char *xml, size_t len)
{
	const char *d = memmem(xml, len, "<!DOCTYPE", 9), *p = xml, *e;

	if (d == NULL)
		return 0;
	if ((size_t)(d - p) >= 5 && memcmp(p, "<?xml", 5) == 0) {
		if ((e = memmem(p, (size_t)(d - p), "?>", 2)) == NULL)
			return 0;
		p = e + 2;
	}
	for (; p < d; p++)
		if (!strchr(" \t\r\n", *p) || *p == '\0')
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ec2xml_tag tags[CAP_TAGS * 2];
	char next[EC2XML_CAP_NEXT_TOKEN], code[EC2XML_CAP_CODE];
	char msg[CAP_MSG], rid[EC2XML_CAP_REQUEST_ID];
	struct status st;
	size_t cap, n, i, len;
	unsigned sel;
	const char *xml;
	int rc, doctype;

	if (size == 0)
		return 0;
	sel = data[0];
	xml = (const char *)data + 1;
	len = size - 1;
	cap = 1 + sel % (CAP_TAGS * 2);
	doctype = real_doctype(xml, len);

	rc = ec2xml_describe_tags(xml, len, tags, cap, &n,
	    (sel & 0x80) ? NULL : next, (sel & 0x80) ? 0 : sizeof(next), &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_UNAVAIL || rc == ST_OSERR);
	if (rc != ST_OK) {
		FZ_ASSERT(n == 0 && fz_printable(st.msg));
	} else {
		FZ_ASSERT(!doctype);
		FZ_ASSERT(n <= cap);
		for (i = 0; i < n; i++) {
			FZ_ASSERT(chars(tags[i].key) <= CAP_TAG_KEY);
			FZ_ASSERT(chars(tags[i].value) <= CAP_TAG_VALUE);
			FZ_ASSERT(text_utf8_valid(tags[i].key,
			    strlen(tags[i].key)));
			FZ_ASSERT(text_utf8_valid(tags[i].value,
			    strlen(tags[i].value)));
		}
		if (!(sel & 0x80))
			FZ_ASSERT(strlen(next) < sizeof(next));
	}

	if (ec2xml_error(xml, len, code, sizeof(code), msg, sizeof(msg), rid,
	    sizeof(rid)) == 0) {
		FZ_ASSERT(!doctype);
		FZ_ASSERT(fz_printable(code) && fz_printable(msg) &&
		    fz_printable(rid));
	} else
		FZ_ASSERT(code[0] == '\0' && rid[0] == '\0' &&
		    fz_printable(msg));
	(void)ec2xml_error(xml, len, NULL, 0, msg, 8, NULL, 0);

	rc = ec2xml_create_tags(xml, len, &st);
	FZ_ASSERT(rc == ST_OK || rc == ST_FAIL || rc == ST_UNAVAIL ||
	    rc == ST_OSERR);
	FZ_ASSERT(rc != ST_OK || !doctype);
	return 0;
}
