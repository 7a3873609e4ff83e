/*
 * ec2xml.c: EC2 Query API replies, read with expat; the rules it keeps are
 * stated in ec2xml.h.
 *
 * One small engine (struct xp) keeps the stack of element local names and
 * the text of the current element; each reply type supplies an end-element
 * callback (and optionally a start one) that looks at that stack.
 */
#include "aws/ec2xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "base/text.h"

#define NS_SEP '\n'	/* between namespace URI and local name */

struct xp;
typedef void (*xp_fn)(struct xp *);

struct xp {
	XML_Parser p;
	const char *action;		/* "DescribeTags", in messages */
	const char *const *roots;	/* accepted root names, NULL-ended */
	xp_fn start, end;
	void *ctx;
	int depth;			/* elements open; root = 1 */
	char name[EC2XML_CAP_DEPTH][EC2XML_CAP_NAME];
	char text[EC2XML_CAP_TEXT];	/* of the innermost element */
	size_t textlen;
	int textover;			/* text did not fit */
	int code;			/* ST_OK until a callback fails */
	char msg[CAP_MSG];
};

/* Stops the parse with "reply to ACTION: line N: WHAT". */
static void xp_fail(struct xp *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
xp_fail(struct xp *x, int code, const char *fmt, ...)
{
	char what[CAP_LINE];
	va_list ap;
	int n;

	if (x->code != ST_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (n < 0)
		text_copy(what, "refused", sizeof(what));
	n = snprintf(x->msg, sizeof(x->msg), "reply to %s: line %lu: %s",
	    x->action, (unsigned long)XML_GetCurrentLineNumber(x->p), what);
	if (n < 0)
		text_copy(x->msg, "reply refused", sizeof(x->msg));
	x->code = code;
	XML_StopParser(x->p, XML_FALSE);
}

/* Is the element at depth d (1 = root) named name? */
static int
xp_is(const struct xp *x, int d, const char *name)
{
	return d >= 1 && d <= x->depth && strcmp(x->name[d - 1], name) == 0;
}

/* The current element's name. */
static const char *
xp_cur(const struct xp *x)
{
	return x->name[x->depth - 1];
}

static void XMLCALL
on_start(void *ud, const XML_Char *qname, const XML_Char **atts)
{
	struct xp *x = ud;
	const char *local = strrchr(qname, NS_SEP);
	const char *const *r;

	(void)atts;
	if (x->code != ST_OK)
		return;
	local = local == NULL ? qname : local + 1;
	if (x->depth >= EC2XML_CAP_DEPTH) {
		xp_fail(x, ST_UNAVAIL, "elements nested deeper than %d",
		    EC2XML_CAP_DEPTH);
		return;
	}
	if (text_copy(x->name[x->depth], local, EC2XML_CAP_NAME) >=
	    EC2XML_CAP_NAME) {
		xp_fail(x, ST_UNAVAIL, "an element name longer than %d bytes",
		    EC2XML_CAP_NAME - 1);
		return;
	}
	x->depth++;
	x->textlen = 0;
	x->textover = 0;
	if (x->depth == 1) {
		for (r = x->roots; *r != NULL && strcmp(*r, local) != 0; r++)
			;
		if (*r == NULL) {
			xp_fail(x, ST_UNAVAIL, "unexpected root element '%s', "
			    "not '%s'", local, x->roots[0]);
			return;
		}
	}
	if (x->start != NULL)
		x->start(x);
}

static void XMLCALL
on_end(void *ud, const XML_Char *qname)
{
	struct xp *x = ud;

	(void)qname;
	if (x->code != ST_OK || x->depth == 0)
		return;
	x->text[x->textlen] = '\0';
	x->end(x);
	x->depth--;
	x->textlen = 0;
	x->textover = 0;
}

/* Joins the pieces of text; keeps room for "..." and cuts on a character. */
static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct xp *x = ud;
	size_t n = (size_t)len, room = sizeof(x->text) - 4 - x->textlen;

	if (x->code != ST_OK || x->textover)
		return;
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		x->textover = 1;
	}
	memcpy(x->text + x->textlen, s, n);
	x->textlen += n;
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xp_fail(ud, ST_UNAVAIL, "a DOCTYPE, which is refused");
}

static void XMLCALL
on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
    int value_len, const XML_Char *base, const XML_Char *sysid,
    const XML_Char *pubid, const XML_Char *notation)
{
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	xp_fail(ud, ST_UNAVAIL, "an entity declaration '%s', which is refused",
	    name);
}

/* Runs the parse over xml[0..len); ST_OK or x->code with st set. */
static int
xp_run(struct xp *x, const char *xml, size_t len, struct status *st)
{
	enum XML_Status xs;
	int rc;

	if (xml == NULL && len > 0)
		return status_set(st, ST_SOFTWARE, "reply to %s: no buffer",
		    x->action);
	if (len > CAP_HTTP_BODY)
		return status_set(st, ST_UNAVAIL,
		    "reply to %s: larger than %d bytes", x->action,
		    CAP_HTTP_BODY);
	if ((x->p = XML_ParserCreateNS(NULL, NS_SEP)) == NULL)
		return status_set(st, ST_OSERR,
		    "reply to %s: no memory for the XML parser", x->action);
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
	XML_SetEntityDeclHandler(x->p, on_entity);
	if (!XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER)) {
		rc = status_set(st, ST_SOFTWARE,
		    "reply to %s: XML parser cannot be set up", x->action);
		goto out;
	}
	x->code = ST_OK;
	xs = XML_Parse(x->p, xml == NULL ? "" : xml, (int)len, XML_TRUE);
	if (x->code != ST_OK)
		rc = status_set(st, x->code, "%s", x->msg);
	else if (xs != XML_STATUS_OK)
		rc = status_set(st, ST_UNAVAIL, "reply to %s: XML parse error "
		    "at line %lu, column %lu: %s", x->action,
		    (unsigned long)XML_GetCurrentLineNumber(x->p),
		    (unsigned long)XML_GetCurrentColumnNumber(x->p),
		    XML_ErrorString(XML_GetErrorCode(x->p)));
	else
		rc = ST_OK;
out:
	XML_ParserFree(x->p);
	x->p = NULL;
	return rc;
}

/*
 * A zeroed engine for action's reply (NULL when out of memory): on the
 * heap, since its name stack and text make a frame over 4 KiB.
 */
static struct xp *
xp_new(const char *action, const char *const *roots, xp_fn start, xp_fn end,
    void *ctx)
{
	struct xp *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->action = action;
	x->roots = roots;
	x->start = start;
	x->end = end;
	x->ctx = ctx;
	return x;
}

/* Strips XML blanks from both ends of s in place. */
static char *
xml_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* UTF-8 characters in s (expat hands out valid UTF-8). */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* DescribeTags */

struct dt {
	struct ec2xml_tag *tags;
	size_t cap, n;
	char *next_token;
	size_t next_token_len;
	int in_item;			/* tags[n] is being filled */
	unsigned seen;			/* fields seen in the current item */
	int tagset;			/* a tagSet was seen */
};

#define SEEN_KEY   0x1
#define SEEN_VALUE 0x2
#define SEEN_RID   0x4
#define SEEN_RTYPE 0x8

static void
dt_start(struct xp *x)
{
	struct dt *d = x->ctx;

	if (x->depth == 2 && xp_is(x, 2, "tagSet"))
		d->tagset = 1;
	if (x->depth != 3 || !xp_is(x, 2, "tagSet") || !xp_is(x, 3, "item"))
		return;
	if (d->n >= d->cap) {
		xp_fail(x, ST_UNAVAIL, "more than %zu tags", d->cap);
		return;
	}
	memset(&d->tags[d->n], 0, sizeof(d->tags[d->n]));
	d->in_item = 1;
	d->seen = 0;
}

/* Copies the current text into dst (dstlen bytes, maxchars characters). */
static void
dt_field(struct xp *x, unsigned bit, char *dst, size_t dstlen,
    size_t maxchars, int trim)
{
	struct dt *d = x->ctx;
	const char *s = trim ? xml_trim(x->text) : x->text;

	if (d->seen & bit) {
		xp_fail(x, ST_UNAVAIL, "an item with two '%s' elements",
		    xp_cur(x));
		return;
	}
	d->seen |= bit;
	if (x->textover || utf8_chars(s) > maxchars ||
	    text_copy(dst, s, dstlen) >= dstlen)
		xp_fail(x, ST_UNAVAIL, "a '%s' longer than %zu characters",
		    xp_cur(x), maxchars);
}

static void
dt_end_item_field(struct xp *x)
{
	struct dt *d = x->ctx;
	struct ec2xml_tag *t = &d->tags[d->n];

	if (xp_is(x, 4, "key"))
		dt_field(x, SEEN_KEY, t->key, sizeof(t->key), CAP_TAG_KEY, 0);
	else if (xp_is(x, 4, "value"))
		dt_field(x, SEEN_VALUE, t->value, sizeof(t->value),
		    CAP_TAG_VALUE, 0);
	else if (xp_is(x, 4, "resourceId"))
		dt_field(x, SEEN_RID, t->resource_id, sizeof(t->resource_id),
		    sizeof(t->resource_id) - 1, 1);
	else if (xp_is(x, 4, "resourceType"))
		dt_field(x, SEEN_RTYPE, t->resource_type,
		    sizeof(t->resource_type), sizeof(t->resource_type) - 1, 1);
}

static void
dt_end(struct xp *x)
{
	struct dt *d = x->ctx;
	const char *tok;

	if (x->depth == 4 && d->in_item) {
		dt_end_item_field(x);
	} else if (x->depth == 3 && d->in_item) {
		if (!(d->seen & SEEN_KEY)) {
			xp_fail(x, ST_UNAVAIL, "an item without a 'key'");
			return;
		}
		d->in_item = 0;
		d->n++;
	} else if (x->depth == 2 && xp_is(x, 2, "nextToken")) {
		tok = xml_trim(x->text);
		if (x->textover)
			xp_fail(x, ST_UNAVAIL, "a 'nextToken' longer than %d "
			    "bytes", EC2XML_CAP_TEXT - 4);
		else if (*tok != '\0' && d->next_token_len == 0)
			xp_fail(x, ST_UNAVAIL, "a 'nextToken', but the caller "
			    "does not read further pages");
		else if (d->next_token_len > 0 && text_copy(d->next_token, tok,
		    d->next_token_len) >= d->next_token_len)
			xp_fail(x, ST_UNAVAIL, "a 'nextToken' longer than %zu "
			    "bytes", d->next_token_len - 1);
	}
}

int
ec2xml_describe_tags(const char *xml, size_t len, struct ec2xml_tag *tags,
    size_t cap, size_t *ntags, char *next_token, size_t next_token_len,
    struct status *st)
{
	static const char *const roots[] = { "DescribeTagsResponse", NULL };
	struct xp *x;
	struct dt d;
	int rc;

	*ntags = 0;
	if (next_token_len > 0)
		next_token[0] = '\0';
	if ((tags == NULL && cap > 0) ||
	    (next_token == NULL && next_token_len > 0))
		return status_set(st, ST_SOFTWARE,
		    "reply to DescribeTags: no buffer");
	memset(&d, 0, sizeof(d));
	d.tags = tags;
	d.cap = cap;
	d.next_token = next_token;
	d.next_token_len = next_token_len;
	if ((x = xp_new("DescribeTags", roots, dt_start, dt_end, &d)) == NULL)
		return status_set(st, ST_OSERR, "reply to %s: no memory for "
		    "the XML parser", "DescribeTags");
	rc = xp_run(x, xml, len, st);
	free(x);
	if (rc != ST_OK)
		goto out;
	if (!d.tagset) {
		rc = status_set(st, ST_UNAVAIL,
		    "reply to DescribeTags: no 'tagSet' element");
		goto out;
	}
	*ntags = d.n;
	status_clear(st);
	rc = ST_OK;
out:
	if (rc != ST_OK && next_token_len > 0)
		next_token[0] = '\0';
	return rc;
}

/* ------------------------------------------------------------------ */
/* error replies */

struct er {
	char code[EC2XML_CAP_TEXT];
	char message[EC2XML_CAP_TEXT];
	char request_id[EC2XML_CAP_TEXT];
	int found;		/* an Error element was seen */
	int in_first;		/* inside the first Error element */
};

/* Response/Errors/Error or ErrorResponse/Error */
static int
er_is_error(const struct xp *x, int d)
{
	if (!xp_is(x, d, "Error"))
		return 0;
	if (xp_is(x, 1, "Response"))
		return d == 3 && xp_is(x, 2, "Errors");
	return d == 2;
}

static void
er_start(struct xp *x)
{
	struct er *e = x->ctx;

	if (er_is_error(x, x->depth) && !e->found) {
		e->found = 1;
		e->in_first = 1;
	}
}

/* Copies the current text, trimmed, with "..." if it was cut. */
static void
er_copy(struct xp *x, char *dst, size_t len)
{
	char *s = xml_trim(x->text);

	if (x->textover)
		memcpy(s + strlen(s), "...", 4);  /* on_text kept room */
	text_copy(dst, s, len);
}

static void
er_end(struct xp *x)
{
	struct er *e = x->ctx;

	if (er_is_error(x, x->depth)) {
		e->in_first = 0;
	} else if (e->in_first && er_is_error(x, x->depth - 1)) {
		if (xp_is(x, x->depth, "Code"))
			er_copy(x, e->code, sizeof(e->code));
		else if (xp_is(x, x->depth, "Message"))
			er_copy(x, e->message, sizeof(e->message));
	} else if (x->depth == 2 && (xp_is(x, 2, "RequestID") ||
	    xp_is(x, 2, "RequestId"))) {
		er_copy(x, e->request_id, sizeof(e->request_id));
	}
}

/* text_clean into an optional buffer. */
static void
put(char *dst, size_t len, const char *src)
{
	if (dst != NULL && len > 0) {
		if (len < 4)
			dst[0] = '\0';
		else
			text_clean(dst, len, src, strlen(src));
	}
}

int
ec2xml_error(const char *xml, size_t len, char *code, size_t codelen,
    char *message, size_t msglen, char *request_id, size_t ridlen)
{
	static const char *const roots[] = { "Response", "ErrorResponse",
	    NULL };
	struct status st;
	struct xp *x = NULL;
	struct er *e;
	int rc = -1;

	put(code, codelen, "");
	put(request_id, ridlen, "");
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (x = xp_new("EC2", roots, er_start, er_end, e)) == NULL) {
		put(message, msglen, "reply to EC2: no memory to read it");
		goto out;
	}
	if (xp_run(x, xml, len, &st) != ST_OK) {
		put(message, msglen, st.msg);
		goto out;
	}
	if (!e->found) {
		put(message, msglen, "reply to EC2: no 'Error' element");
		goto out;
	}
	put(code, codelen, e->code);
	put(message, msglen, e->message);
	put(request_id, ridlen, e->request_id);
	rc = 0;
out:
	free(x);
	free(e);
	return rc;
}

/* ------------------------------------------------------------------ */
/* CreateTags */

struct rt {
	char value[EC2XML_CAP_TEXT];
	int found;
};

static void
rt_end(struct xp *x)
{
	struct rt *r = x->ctx;

	if (x->depth == 2 && xp_is(x, 2, "return")) {
		r->found = 1;
		text_copy(r->value, xml_trim(x->text), sizeof(r->value));
	}
}

int
ec2xml_create_tags(const char *xml, size_t len, struct status *st)
{
	static const char *const roots[] = { "CreateTagsResponse", NULL };
	struct xp *x = NULL;
	struct rt *r;
	int rc;

	/* both on the heap: together 10 KiB */
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (x = xp_new("CreateTags", roots, NULL, rt_end, r)) == NULL) {
		rc = status_set(st, ST_OSERR, "reply to %s: no memory for "
		    "the XML parser", "CreateTags");
		goto out;
	}
	if ((rc = xp_run(x, xml, len, st)) != ST_OK)
		goto out;
	if (!r->found)
		rc = status_set(st, ST_UNAVAIL,
		    "reply to CreateTags: no 'return' element");
	else if (strcmp(r->value, "true") != 0)
		rc = status_set(st, ST_FAIL,
		    "reply to CreateTags: 'return' is '%.64s', not 'true'",
		    r->value);
	else {
		status_clear(st);
		rc = ST_OK;
	}
out:
	free(x);
	free(r);
	return rc;
}
