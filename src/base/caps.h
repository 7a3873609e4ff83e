/*
 * caps.h: every size and count limit of cdgate, in one place.
 *
 * Every buffer and every input read from outside (files, HTTP replies,
 * environment) has a cap named here.  Code MUST use these names, never a
 * bare number, so that a limit can be found and reviewed in one file.
 */
#ifndef CDGATE_CAPS_H
#define CDGATE_CAPS_H

#define CAP_MSG          512      /* one status message, bytes */
#define CAP_LINE         360      /* one output line after the prefix, bytes */
#define CAP_PATH         4096     /* a file system path */
#define CAP_CONFIG_FILE  65536    /* cdgate.ini, bytes */
#define CAP_MARKER_FILE  16384    /* the provisioning marker, bytes */
#define CAP_INI_LINE     1024     /* one line of an INI file, bytes */
#define CAP_VALUE        1024     /* one INI value, bytes */
#define CAP_TAGS         50       /* tags per instance (the EC2 limit) */
#define CAP_TAG_KEY      128      /* EC2 tag key, characters */
#define CAP_TAG_VALUE    256      /* EC2 tag value, characters */
#define CAP_TAG_KEY_B    (CAP_TAG_KEY * 4 + 1)   /* ...in UTF-8 bytes + NUL */
#define CAP_TAG_VALUE_B  (CAP_TAG_VALUE * 4 + 1)
#define CAP_CHECKS       8        /* checks named in one `checks =` */
#define CAP_INSTANCE_ID  32       /* i- plus 17 hex, with room */
#define CAP_BOOT_ID      40       /* a UUID */
#define CAP_DIGEST       80       /* "sha256:" + 64 hex + NUL */
#define CAP_REGION       32
#define CAP_URL          2048
#define CAP_TOKEN        512      /* IMDSv2 token */
#define CAP_IMDS_BODY    65536    /* one instance-metadata reply, bytes */
#define CAP_HTTP_BODY    (1024 * 1024)  /* any other HTTP reply, bytes */
#define CAP_HTTP_HEADERS 65536    /* one reply's header and trailer lines */
#define CAP_JSON_FILE    (1024 * 1024)  /* cloud-init's result.json */
#define CAP_ENV_VALUE    4096     /* an environment variable we read */
#define CAP_DIGEST_FILES 100000   /* files hashed by cdgate-mark --digest */
#define CAP_DIGEST_DEPTH 64       /* directory depth for --digest */
#define CAP_APPSPEC_FILE 131072   /* appspec.yml, bytes */
#define CAP_APPSPEC_EVENTS 20000  /* libyaml events in one appspec */
#define CAP_APPSPEC_DEPTH 32      /* nesting levels in one appspec */
#define CAP_APPSPEC_ENTRIES 32    /* scripts under one event */
#define CAP_APPSPEC_LOCATION 1024 /* one `location`, bytes */

#endif
