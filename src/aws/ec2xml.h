/*
 * ec2xml.h: reading EC2 Query API replies (DescribeTags, CreateTags, errors).
 *
 * Rules:
 * - a reply MUST be parsed as XML with expat, never searched as text;
 *   elements are found by local name and position (parent), in any order,
 *   with or without a namespace (xmlns on the root, or a declared prefix);
 *   unknown elements are ignored, so that AWS may add some;
 * - a reply over CAP_HTTP_BODY bytes, not well-formed, with an unexpected
 *   root element, nested deeper than EC2XML_CAP_DEPTH, or over any cap
 *   below MUST be refused with a message, never cut silently (only an
 *   error reply's message text is cut, with "...");
 * - a reply with a DOCTYPE MUST be refused: EC2 never sends one, and
 *   without a DTD no entity can be declared, so entity expansion ("billion
 *   laughs") and external entities cannot happen.  expat never fetches
 *   external entities itself, and parameter entity parsing stays off;
 * - character data MAY arrive in several expat callbacks (entities, CDATA,
 *   buffer ends): it is joined before use;
 * - tag keys and values are returned as sent (valid UTF-8, possibly with
 *   spaces or control characters): the caller MUST pass them through
 *   text_clean before printing them.  Error codes and messages are already
 *   cleaned.
 */
#ifndef CDGATE_EC2XML_H
#define CDGATE_EC2XML_H

#include <stddef.h>

#include "base/caps.h"
#include "base/status.h"

#define EC2XML_CAP_DEPTH         16    /* element nesting, root = 1 */
#define EC2XML_CAP_NAME          64    /* element local name, bytes */
#define EC2XML_CAP_TEXT          4096  /* text kept of one element, bytes */
#define EC2XML_CAP_RESOURCE_ID   64
#define EC2XML_CAP_RESOURCE_TYPE 64
#define EC2XML_CAP_NEXT_TOKEN    2048  /* a buffer for nextToken */
#define EC2XML_CAP_CODE          128   /* a buffer for an error code */
#define EC2XML_CAP_REQUEST_ID    128   /* a buffer for a request id */

struct ec2xml_tag {
	char key[CAP_TAG_KEY_B];		/* at most CAP_TAG_KEY chars */
	char value[CAP_TAG_VALUE_B];	/* at most CAP_TAG_VALUE chars */
	char resource_id[EC2XML_CAP_RESOURCE_ID];
	char resource_type[EC2XML_CAP_RESOURCE_TYPE];
};

/*
 * Parses xml[0..len), a DescribeTags reply:
 *   <DescribeTagsResponse><requestId/><tagSet><item><resourceId/>
 *   <resourceType/><key/><value/></item>...</tagSet><nextToken/>
 *   </DescribeTagsResponse>
 * into tags[0..*ntags), at most cap of them, and next_token ("" when there
 * is no further page).  Every item MUST have exactly one key; value,
 * resourceId and resourceType default to "".  next_token may be NULL
 * (next_token_len 0) only if the caller does not paginate: a reply with a
 * nextToken is then refused.  Returns ST_OK; ST_UNAVAIL for a reply that
 * is malformed or over a cap (more than cap items, a key over CAP_TAG_KEY
 * or a value over CAP_TAG_VALUE characters, a nextToken that does not fit);
 * ST_OSERR when out of memory; ST_SOFTWARE for bad arguments.  *ntags is 0
 * on error.
 */
int ec2xml_describe_tags(const char *xml, size_t len, struct ec2xml_tag *tags,
    size_t cap, size_t *ntags, char *next_token, size_t next_token_len,
    struct status *st);

/*
 * Parses xml[0..len), an error reply:
 *   <Response><Errors><Error><Code/><Message/></Error>...</Errors>
 *   <RequestID/></Response>
 * (also the <ErrorResponse><Error>...</Error><RequestId/></ErrorResponse>
 * form of other Query APIs).  Returns 0 when an Error element was found,
 * with the first error's code, message and the request id (each "" if
 * absent) cleaned by text_clean and cut to the buffers (message with
 * "...").  Returns -1 otherwise, with code and request_id "" and message
 * saying why (not XML, another root, no Error element).  Buffers may be
 * NULL when their length is 0.
 */
int ec2xml_error(const char *xml, size_t len, char *code, size_t codelen,
    char *message, size_t msglen, char *request_id, size_t ridlen);

/*
 * Checks xml[0..len), a CreateTags reply:
 *   <CreateTagsResponse><requestId/><return>true</return></CreateTagsResponse>
 * Returns ST_OK when return is "true" (blanks around it allowed); ST_FAIL
 * when it is anything else; ST_UNAVAIL when the reply is malformed or has
 * no return element.
 */
int ec2xml_create_tags(const char *xml, size_t len, struct status *st);

#endif
