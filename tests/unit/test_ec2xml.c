/*
 * test_ec2xml.c: DescribeTags, CreateTags and error replies.
 */
#include "aws/ec2xml.h"
#include "testlib.h"

#define MAXTAGS 4

#define NS " xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""
#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define ITEM(rid, key, value) "<item><resourceId>" rid "</resourceId>" \
	"<resourceType>instance</resourceType><key>" key "</key><value>" \
	value "</value></item>"
#define RID "i-0123456789abcdef0"

struct kv {
	const char *key, *value, *rid;
};

struct dt_case {
	const char *name;
	const char *xml;
	size_t cap;		/* 0: MAXTAGS */
	int no_token_buf;	/* pass next_token NULL, 0 */
	int code;
	const char *msg;	/* expected in st.msg; "" = empty */
	size_t ntags;
	struct kv tags[MAXTAGS];
	const char *next_token;
};

/* Filled in main: values at and over the caps. */
static char value_256_chars[2048], value_257_chars[2048];
static char key_128_chars[1024], key_129_chars[1024];
static char deep_16[2048], deep_17[2048];
static char long_token[8192];

static struct dt_case dt_cases[] = {
	{ "normal reply", DECL "<DescribeTagsResponse" NS ">\n"
	    "  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>\n"
	    "  <tagSet>\n    " ITEM(RID, "Role", "api") "\n    "
	    ITEM(RID, "Env", "prod") "\n  </tagSet>\n"
	    "</DescribeTagsResponse>\n", 0, 0, ST_OK, "", 2,
	    { { "Role", "api", RID }, { "Env", "prod", RID } }, "" },
	{ "reordered elements", "<DescribeTagsResponse" NS ">"
	    "<nextToken>tok</nextToken>"
	    "<tagSet><item><value>api</value><key>Role</key>"
	    "<resourceType>instance</resourceType><resourceId>" RID
	    "</resourceId></item></tagSet>"
	    "<requestId>r</requestId></DescribeTagsResponse>", 0, 0, ST_OK, "",
	    1, { { "Role", "api", RID } }, "tok" },
	{ "no namespace", "<DescribeTagsResponse><tagSet>"
	    ITEM(RID, "Role", "api") "</tagSet></DescribeTagsResponse>", 0, 0,
	    ST_OK, "", 1, { { "Role", "api", RID } }, "" },
	{ "namespace prefix", "<ec2:DescribeTagsResponse "
	    "xmlns:ec2=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
	    "<ec2:tagSet><ec2:item><ec2:key>Role</ec2:key><ec2:value>api"
	    "</ec2:value></ec2:item></ec2:tagSet></ec2:DescribeTagsResponse>",
	    0, 0, ST_OK, "", 1, { { "Role", "api", "" } }, "" },
	{ "undeclared prefix", "<ec2:DescribeTagsResponse><ec2:tagSet/>"
	    "</ec2:DescribeTagsResponse>", 0, 0, ST_UNAVAIL,
	    "XML parse error at line 1", 0, { { NULL, NULL, NULL } }, "" },
	{ "empty tagSet", "<DescribeTagsResponse" NS "><requestId>r"
	    "</requestId><tagSet/></DescribeTagsResponse>", 0, 0, ST_OK, "", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "no tagSet", "<DescribeTagsResponse" NS "><requestId>r"
	    "</requestId></DescribeTagsResponse>", 0, 0, ST_UNAVAIL,
	    "no 'tagSet' element", 0, { { NULL, NULL, NULL } }, "" },
	{ "nextToken present", "<DescribeTagsResponse" NS "><tagSet>"
	    ITEM(RID, "a", "1") "</tagSet><nextToken>\n  eyJ2IjoiMiJ9+/=\n"
	    "</nextToken></DescribeTagsResponse>", 0, 0, ST_OK, "", 1,
	    { { "a", "1", RID } }, "eyJ2IjoiMiJ9+/=" },
	{ "empty nextToken", "<DescribeTagsResponse><tagSet/><nextToken/>"
	    "</DescribeTagsResponse>", 0, 0, ST_OK, "", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "nextToken the caller cannot take", "<DescribeTagsResponse>"
	    "<tagSet/><nextToken>tok</nextToken></DescribeTagsResponse>", 0, 1,
	    ST_UNAVAIL, "does not read further pages", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "nextToken over the buffer", long_token, 0, 0, ST_UNAVAIL,
	    "a 'nextToken' longer than", 0, { { NULL, NULL, NULL } }, "" },
	{ "XML escapes and UTF-8", "<DescribeTagsResponse><tagSet>"
	    ITEM(RID, "\xe6\x97\xa5\xe6\x9c\xac", "a &amp; b &lt;c&gt; "
	    "&quot;q&apos; &#x65E5;&#26412;") "</tagSet>"
	    "</DescribeTagsResponse>", 0, 0, ST_OK, "", 1,
	    { { "\xe6\x97\xa5\xe6\x9c\xac",
	    "a & b <c> \"q' \xe6\x97\xa5\xe6\x9c\xac", RID } }, "" },
	{ "text split by entities, CDATA, line ends",
	    "<DescribeTagsResponse><tagSet><item><key>R&amp;o<![CDATA[l<e]]>"
	    "</key><value>a\r\nb&#10;c</value></item></tagSet>"
	    "</DescribeTagsResponse>", 0, 0, ST_OK, "", 1,
	    { { "R&ol<e", "a\nb\nc", "" } }, "" },
	{ "blanks in a value are kept", "<DescribeTagsResponse><tagSet>"
	    "<item><key> k </key><value>  v  </value><resourceId> " RID
	    " </resourceId><resourceType>instance</resourceType></item>"
	    "</tagSet></DescribeTagsResponse>", 0, 0,
	    ST_OK, "", 1, { { " k ", "  v  ", RID } }, "" },
	{ "empty and missing value", "<DescribeTagsResponse><tagSet>"
	    "<item><key>a</key><value/></item><item><key>b</key></item>"
	    "</tagSet></DescribeTagsResponse>", 0, 0, ST_OK, "", 2,
	    { { "a", "", "" }, { "b", "", "" } }, "" },
	{ "ISO-8859-1 reply", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
	    "<DescribeTagsResponse><tagSet><item><key>caf\xe9</key></item>"
	    "</tagSet></DescribeTagsResponse>", 0, 0, ST_OK, "", 1,
	    { { "caf\xc3\xa9", "", "" } }, "" },
	{ "unknown elements ignored", "<DescribeTagsResponse><extra><item>"
	    "<key>no</key></item></extra><tagSet><item><key>a</key>"
	    "<propagateAtLaunch>true</propagateAtLaunch><value>1</value>"
	    "</item></tagSet><item><key>no</key></item>"
	    "</DescribeTagsResponse>", 0, 0, ST_OK, "", 1,
	    { { "a", "1", "" } }, "" },
	{ "as many items as the cap", "<DescribeTagsResponse><tagSet>"
	    ITEM(RID, "a", "1") ITEM(RID, "b", "2") "</tagSet>"
	    "</DescribeTagsResponse>", 2, 0, ST_OK, "", 2,
	    { { "a", "1", RID }, { "b", "2", RID } }, "" },
	{ "too many items", "<DescribeTagsResponse><tagSet>\n"
	    ITEM(RID, "a", "1") "\n" ITEM(RID, "b", "2") "\n"
	    ITEM(RID, "c", "3") "\n</tagSet></DescribeTagsResponse>", 2, 0,
	    ST_UNAVAIL, "reply to DescribeTags: line 4: more than 2 tags", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "value of 256 characters", value_256_chars, 0, 0, ST_OK, "", 1,
	    { { "k", NULL, "" } }, "" },
	{ "value of 257 characters", value_257_chars, 0, 0, ST_UNAVAIL,
	    "a 'value' longer than 256 characters", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "key of 128 characters", key_128_chars, 0, 0, ST_OK, "", 1,
	    { { NULL, "v", "" } }, "" },
	{ "key of 129 characters", key_129_chars, 0, 0, ST_UNAVAIL,
	    "a 'key' longer than 128 characters", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "oversized resourceId", "<DescribeTagsResponse><tagSet><item>"
	    "<key>a</key><resourceId>i-0123456789abcdef0123456789abcdef0123"
	    "456789abcdef0123456789abcdef0</resourceId></item></tagSet>"
	    "</DescribeTagsResponse>", 0, 0, ST_UNAVAIL,
	    "a 'resourceId' longer than 63 characters", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "item without key", "<DescribeTagsResponse><tagSet><item>"
	    "<value>v</value></item></tagSet></DescribeTagsResponse>", 0, 0,
	    ST_UNAVAIL, "an item without a 'key'", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "item with two keys", "<DescribeTagsResponse><tagSet><item>"
	    "<key>a</key><key>b</key></item></tagSet></DescribeTagsResponse>",
	    0, 0, ST_UNAVAIL, "an item with two 'key' elements", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "mismatched tag", "<DescribeTagsResponse>\n<tagSet>\n<item>"
	    "<key>a</value></item></tagSet></DescribeTagsResponse>", 0, 0,
	    ST_UNAVAIL, "XML parse error at line 3, column 14: mismatched tag",
	    0, { { NULL, NULL, NULL } }, "" },
	{ "truncated", "<DescribeTagsResponse><tagSet>"
	    ITEM(RID, "a", "1") "<item><key>b</ke", 0, 0, ST_UNAVAIL,
	    "XML parse error at line 1", 0, { { NULL, NULL, NULL } }, "" },
	{ "truncated after an element", "<DescribeTagsResponse><tagSet>"
	    ITEM(RID, "a", "1"), 0, 0, ST_UNAVAIL,
	    "XML parse error at line 1", 0, { { NULL, NULL, NULL } }, "" },
	{ "empty reply", "", 0, 0, ST_UNAVAIL, "XML parse error at line 1",
	    0, { { NULL, NULL, NULL } }, "" },
	{ "JSON reply", "{\"Tags\": []}", 0, 0, ST_UNAVAIL,
	    "XML parse error at line 1", 0, { { NULL, NULL, NULL } }, "" },
	{ "two roots", "<DescribeTagsResponse><tagSet/>"
	    "</DescribeTagsResponse><DescribeTagsResponse/>", 0, 0, ST_UNAVAIL,
	    "XML parse error at line 1", 0, { { NULL, NULL, NULL } }, "" },
	{ "error reply as DescribeTags", "<Response><Errors><Error><Code>"
	    "AuthFailure</Code></Error></Errors></Response>", 0, 0, ST_UNAVAIL,
	    "unexpected root element 'Response', not 'DescribeTagsResponse'",
	    0, { { NULL, NULL, NULL } }, "" },
	{ "16 levels", deep_16, 0, 0, ST_OK, "", 0, { { NULL, NULL, NULL } },
	    "" },
	{ "17 levels", deep_17, 0, 0, ST_UNAVAIL,
	    "elements nested deeper than 16", 0, { { NULL, NULL, NULL } },
	    "" },
	{ "billion laughs refused", DECL "<!DOCTYPE lolz [\n"
	    "<!ENTITY lol \"lol\">\n"
	    "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    "]>\n<DescribeTagsResponse><tagSet><item><key>&lol3;</key></item>"
	    "</tagSet></DescribeTagsResponse>", 0, 0, ST_UNAVAIL,
	    "line 2: a DOCTYPE, which is refused", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "external entity refused", "<!DOCTYPE r [<!ENTITY x SYSTEM "
	    "\"file:///etc/passwd\">]><DescribeTagsResponse><tagSet><item>"
	    "<key>&x;</key></item></tagSet></DescribeTagsResponse>", 0, 0,
	    ST_UNAVAIL, "a DOCTYPE, which is refused", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "plain DOCTYPE refused", "<!DOCTYPE DescribeTagsResponse>"
	    "<DescribeTagsResponse><tagSet/></DescribeTagsResponse>", 0, 0,
	    ST_UNAVAIL, "a DOCTYPE, which is refused", 0,
	    { { NULL, NULL, NULL } }, "" },
	{ "undefined entity", "<DescribeTagsResponse><tagSet><item><key>"
	    "&foo;</key></item></tagSet></DescribeTagsResponse>", 0, 0,
	    ST_UNAVAIL, "XML parse error at line 1", 0,
	    { { NULL, NULL, NULL } }, "" },
};

static void
check_tag(const struct ec2xml_tag *got, const struct kv *want)
{
	if (want->key != NULL)
		assert_string_equal(got->key, want->key);
	if (want->value != NULL)
		assert_string_equal(got->value, want->value);
	assert_string_equal(got->resource_id, want->rid);
	assert_string_equal(got->resource_type, want->rid[0] == '\0' ? "" :
	    "instance");
}

static void
run_dt(void **state)
{
	const struct dt_case *c = *state;
	struct ec2xml_tag tags[MAXTAGS + 1];
	char tok[EC2XML_CAP_NEXT_TOKEN];
	struct status st;
	size_t i, n = 99;
	int rc;

	memset(tags, 'x', sizeof(tags));
	memset(tok, 'x', sizeof(tok));
	rc = ec2xml_describe_tags(c->xml, strlen(c->xml), tags,
	    c->cap ? c->cap : MAXTAGS, &n, c->no_token_buf ? NULL : tok,
	    c->no_token_buf ? 0 : sizeof(tok), &st);
	if (rc != c->code)
		fail_msg("returned %d, not %d: %s", rc, c->code, st.msg);
	assert_int_equal(st.code, c->code);
	CHECK_MSG(c->name, st.msg, c->msg);
	assert_int_equal(n, c->ntags);
	for (i = 0; i < c->ntags; i++)
		check_tag(&tags[i], &c->tags[i]);
	if (!c->no_token_buf)
		assert_string_equal(tok, c->next_token);
}

/* Values at the caps, checked beyond the table's fixed strings. */
static void
test_caps_content(void **state)
{
	struct ec2xml_tag tags[1];
	char tok[EC2XML_CAP_NEXT_TOKEN];
	struct status st;
	size_t n, i;

	(void)state;
	assert_int_equal(ec2xml_describe_tags(value_256_chars,
	    strlen(value_256_chars), tags, 1, &n, tok, sizeof(tok), &st),
	    ST_OK);
	assert_int_equal(strlen(tags[0].value), 256 * 3);
	for (i = 0; i < 256; i++)
		assert_memory_equal(tags[0].value + 3 * i, "\xe6\x97\xa5", 3);
	assert_int_equal(ec2xml_describe_tags(key_128_chars,
	    strlen(key_128_chars), tags, 1, &n, tok, sizeof(tok), &st), ST_OK);
	assert_int_equal(strlen(tags[0].key), 128 * 4);
}

static void
test_oversized_input(void **state)
{
	static const char head[] = "<DescribeTagsResponse><tagSet/>";
	static const char tail[] = "</DescribeTagsResponse>";
	struct ec2xml_tag tags[1];
	struct status st;
	size_t n, len = CAP_HTTP_BODY + 1;
	char *xml;

	(void)state;
	assert_non_null(xml = malloc(len));
	memset(xml, ' ', len);
	memcpy(xml + 1, head, strlen(head));
	memcpy(xml + len - strlen(tail), tail, strlen(tail));
	assert_int_equal(ec2xml_describe_tags(xml, len, tags, 1, &n, NULL, 0,
	    &st), ST_UNAVAIL);
	assert_non_null(strstr(st.msg, "larger than 1048576 bytes"));
	/* one byte less (the leading blank) is parsed */
	assert_int_equal(ec2xml_describe_tags(xml + 1, len - 1, tags, 1, &n,
	    NULL, 0, &st), ST_OK);
	free(xml);
}

/* ------------------------------------------------------------------ */
/* error replies */

struct er_case {
	const char *name;
	const char *xml;
	size_t codelen;		/* 0: sizeof(code) */
	int rc;
	const char *code, *message, *request_id;
};

static char unauthorized[8192];

static struct er_case er_cases[] = {
	{ "RequestLimitExceeded", DECL "<Response><Errors><Error><Code>"
	    "RequestLimitExceeded</Code><Message>Request limit exceeded."
	    "</Message></Error></Errors><RequestID>"
	    "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>", 0,
	    0, "RequestLimitExceeded", "Request limit exceeded.",
	    "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE" },
	{ "UnauthorizedOperation, long message cut", unauthorized, 0, 0,
	    "UnauthorizedOperation", "You are not authorized to perform this "
	    "operation. Encoded authorization failure message: AAAA", "rid" },
	{ "reordered, namespaced, blanks", "<Response" NS ">\n <RequestID>"
	    " rid \n</RequestID>\n <Errors>\n  <Error>\n   <Message>m"
	    "</Message>\n   <Code>\n    AuthFailure\n   </Code>\n  </Error>\n"
	    " </Errors>\n</Response>", 0, 0, "AuthFailure", "m", "rid" },
	{ "first of several errors", "<Response><Errors><Error><Code>A"
	    "</Code><Message>first</Message></Error><Error><Code>B</Code>"
	    "<Message>second</Message></Error></Errors></Response>", 0, 0, "A",
	    "first", "" },
	{ "ErrorResponse form", "<ErrorResponse><Error><Type>Sender</Type>"
	    "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
	    "<RequestId>r2</RequestId></ErrorResponse>", 0, 0, "Throttling",
	    "Rate exceeded", "r2" },
	{ "message cleaned", "<Response><Errors><Error><Code>X</Code>"
	    "<Message>a&#10;b&#9;c &lt;d&gt; \xe6\x97\xa5</Message></Error>"
	    "</Errors></Response>", 0, 0, "X", "a b c <d> \xe6\x97\xa5", "" },
	{ "code cut to a small buffer", "<Response><Errors><Error><Code>"
	    "RequestLimitExceeded</Code></Error></Errors></Response>", 8, 0,
	    "Requ...", "", "" },
	{ "Code outside Error ignored", "<Response><Code>X</Code><Errors>"
	    "<Error><Message>m</Message></Error></Errors></Response>", 0, 0,
	    "", "m", "" },
	{ "no Error element", "<Response><Errors/><RequestID>r</RequestID>"
	    "</Response>", 0, -1, "", "reply to EC2: no 'Error' element", "" },
	{ "not an error reply", "<DescribeTagsResponse><tagSet/>"
	    "</DescribeTagsResponse>", 0, -1, "",
	    "reply to EC2: line 1: unexpected root element "
	    "'DescribeTagsResponse', not 'Response'", "" },
	{ "malformed", "<Response><Errors><Error><Code>X</Code>", 0, -1, "",
	    "reply to EC2: XML parse error at line 1", "" },
	{ "HTML from a proxy", "<html><body>502 Bad Gateway</body></html>", 0,
	    -1, "", "reply to EC2: line 1: unexpected root element 'html'",
	    "" },
	{ "DOCTYPE refused", "<!DOCTYPE Response [<!ENTITY a \"b\">]>"
	    "<Response><Errors><Error><Code>&a;</Code></Error></Errors>"
	    "</Response>", 0, -1, "",
	    "reply to EC2: line 1: a DOCTYPE, which is refused", "" },
};

static void
run_er(void **state)
{
	const struct er_case *c = *state;
	char code[EC2XML_CAP_CODE], msg[CAP_MSG], rid[EC2XML_CAP_REQUEST_ID];
	int rc;

	memset(code, 'x', sizeof(code));
	memset(msg, 'x', sizeof(msg));
	memset(rid, 'x', sizeof(rid));
	rc = ec2xml_error(c->xml, strlen(c->xml), code,
	    c->codelen ? c->codelen : sizeof(code), msg, sizeof(msg), rid,
	    sizeof(rid));
	assert_int_equal(rc, c->rc);
	assert_string_equal(code, c->code);
	assert_string_equal(rid, c->request_id);
	if (strncmp(msg, c->message, strlen(c->message)) != 0)
		fail_msg("'%s' does not start with '%s'", msg, c->message);
	if (c->rc == 0 && strlen(c->message) < 60)
		assert_string_equal(msg, c->message);
	assert_true(strlen(msg) < sizeof(msg));
}

static void
test_error_cut(void **state)
{
	char msg[CAP_MSG], small[16];
	size_t n;

	(void)state;
	assert_int_equal(ec2xml_error(unauthorized, strlen(unauthorized), NULL,
	    0, msg, sizeof(msg), NULL, 0), 0);
	n = strlen(msg);
	assert_true(n > sizeof(msg) - 8 && n < sizeof(msg));
	assert_string_equal(msg + n - 3, "...");
	assert_int_equal(ec2xml_error(unauthorized, strlen(unauthorized), NULL,
	    0, small, sizeof(small), NULL, 0), 0);
	assert_string_equal(small, "You are not ...");
}

/* ------------------------------------------------------------------ */
/* CreateTags */

struct ct_case {
	const char *name;
	const char *xml;
	int code;
	const char *msg;
};

static struct ct_case ct_cases[] = {
	{ "true", DECL "<CreateTagsResponse" NS "><requestId>r</requestId>"
	    "<return>true</return></CreateTagsResponse>", ST_OK, "" },
	{ "true with blanks, reordered", "<CreateTagsResponse>\n<return>\n"
	    " true </return><requestId>r</requestId></CreateTagsResponse>",
	    ST_OK, "" },
	{ "false", "<CreateTagsResponse><return>false</return>"
	    "</CreateTagsResponse>", ST_FAIL,
	    "reply to CreateTags: 'return' is 'false', not 'true'" },
	{ "True is not true", "<CreateTagsResponse><return>True</return>"
	    "</CreateTagsResponse>", ST_FAIL, "'return' is 'True'" },
	{ "no return", "<CreateTagsResponse><requestId>r</requestId>"
	    "</CreateTagsResponse>", ST_UNAVAIL,
	    "reply to CreateTags: no 'return' element" },
	{ "return too deep", "<CreateTagsResponse><x><return>true</return>"
	    "</x></CreateTagsResponse>", ST_UNAVAIL, "no 'return' element" },
	{ "error reply", "<Response><Errors><Error><Code>X</Code></Error>"
	    "</Errors></Response>", ST_UNAVAIL,
	    "unexpected root element 'Response', not 'CreateTagsResponse'" },
	{ "truncated", "<CreateTagsResponse><return>true</return>",
	    ST_UNAVAIL, "XML parse error at line 1" },
};

static void
run_ct(void **state)
{
	const struct ct_case *c = *state;
	struct status st;

	assert_int_equal(ec2xml_create_tags(c->xml, strlen(c->xml), &st),
	    c->code);
	CHECK_MSG(c->name, st.msg, c->msg);
}

/* ------------------------------------------------------------------ */

static void
fmt(char *dst, size_t len, const char *head, const char *mid,
    const char *tail)
{
	int n = snprintf(dst, len, "%s%s%s", head, mid, tail);

	if (n < 0 || (size_t)n >= len)
		abort();
}

static void
repeat(char *dst, size_t len, const char *s, size_t times)
{
	size_t i, k = strlen(s);

	if (times * k >= len)
		abort();
	for (i = 0; i < times; i++)
		memcpy(dst + i * k, s, k);
	dst[times * k] = '\0';
}

/* A reply whose requestId holds levels - 2 nested <a> elements. */
static void
nest(char *dst, size_t len, int levels)
{
	char open[1024], close[1024], mid[2048];

	repeat(open, sizeof(open), "<a>", (size_t)levels - 2);
	repeat(close, sizeof(close), "</a>", (size_t)levels - 2);
	fmt(mid, sizeof(mid), open, "", close);
	fmt(dst, len, "<DescribeTagsResponse><tagSet/><requestId>", mid,
	    "</requestId></DescribeTagsResponse>");
}

static void
make_fixtures(void)
{
	char buf[4096];

	repeat(buf, sizeof(buf), "\xe6\x97\xa5", 256);
	fmt(value_256_chars, sizeof(value_256_chars), "<DescribeTagsResponse>"
	    "<tagSet><item><key>k</key><value>", buf,
	    "</value></item></tagSet></DescribeTagsResponse>");
	repeat(buf, sizeof(buf), "x", 257);
	fmt(value_257_chars, sizeof(value_257_chars), "<DescribeTagsResponse>"
	    "<tagSet><item><key>k</key><value>", buf,
	    "</value></item></tagSet></DescribeTagsResponse>");
	repeat(buf, sizeof(buf), "\xf0\x9f\x98\x80", 128);
	fmt(key_128_chars, sizeof(key_128_chars), "<DescribeTagsResponse>"
	    "<tagSet><item><value>v</value><key>", buf,
	    "</key></item></tagSet></DescribeTagsResponse>");
	repeat(buf, sizeof(buf), "k", 129);
	fmt(key_129_chars, sizeof(key_129_chars), "<DescribeTagsResponse>"
	    "<tagSet><item><key>", buf,
	    "</key></item></tagSet></DescribeTagsResponse>");
	nest(deep_16, sizeof(deep_16), 16);
	nest(deep_17, sizeof(deep_17), 17);
	repeat(buf, sizeof(buf), "t", EC2XML_CAP_NEXT_TOKEN);
	fmt(long_token, sizeof(long_token), "<DescribeTagsResponse><tagSet/>"
	    "<nextToken>", buf, "</nextToken></DescribeTagsResponse>");
	repeat(buf, sizeof(buf), "A", 3000);
	fmt(unauthorized, sizeof(unauthorized), "<Response><Errors><Error>"
	    "<Code>UnauthorizedOperation</Code><Message>You are not authorized "
	    "to perform this operation. Encoded authorization failure "
	    "message: ",
	    buf, "</Message></Error></Errors><RequestID>rid</RequestID>"
	    "</Response>");
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_caps_content),
		cmocka_unit_test(test_oversized_input),
		cmocka_unit_test(test_error_cut),
	};
	struct CMUnitTest td[NELEM(dt_cases)], te[NELEM(er_cases)];
	struct CMUnitTest tc[NELEM(ct_cases)];
	int fails = 0;

	make_fixtures();
	TL_ROW_TESTS(td, dt_cases, run_dt);
	TL_ROW_TESTS(te, er_cases, run_er);
	TL_ROW_TESTS(tc, ct_cases, run_ct);
	fails += cmocka_run_group_tests_name("ec2xml_describe_tags", td, NULL,
	    NULL);
	fails += cmocka_run_group_tests_name("ec2xml_error", te, NULL, NULL);
	fails += cmocka_run_group_tests_name("ec2xml_create_tags", tc, NULL,
	    NULL);
	fails += cmocka_run_group_tests_name("ec2xml", fixed, NULL, NULL);
	return fails == 0 ? 0 : 1;
}
