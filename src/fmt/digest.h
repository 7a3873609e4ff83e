/*
 * digest.h: the provisioning digest (`cdgate-mark --digest PATH...`), the
 * value compared with `[marker] digest = sha256:HEX`.
 *
 * Rules:
 * - the digest MUST depend only on the names (relative to each given path),
 *   the types, the file contents and the symbolic link targets below the
 *   given paths, and on the order of the paths as given; it MUST NOT depend
 *   on readdir order, times, owners, modes or where the tree lives;
 * - symbolic links MUST NOT be followed: a link inside a tree is hashed as
 *   the text of its target, and a link given as a PATH is refused, since
 *   hashing only its target text would silently leave the content unchecked;
 * - anything else than a regular file, a directory or a symbolic link
 *   (FIFO, socket, device) MUST be refused, with the path in the message;
 * - every file MUST be opened O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK
 *   relative to its already opened directory and fstat'ed before it is read;
 *   a file that changes type or size while being hashed is an error;
 * - at most CAP_DIGEST_FILES entries and CAP_DIGEST_DEPTH directory levels
 *   below a given path.
 *
 * Byte format (version 1), so that another implementation can reproduce it.
 * The digest is "sha256:" followed by the lowercase hex SHA-256 of:
 *
 *   stream  = MAGIC root...              one root per PATH, in the order given
 *   MAGIC   = the 17 bytes "cdgate-digest-v1\n"
 *   root    = 'R' entry...
 *   entry   = 'D' U64(plen) path                        a directory
 *           | 'F' U64(plen) path U64(size) content      a regular file
 *           | 'L' U64(plen) path U64(tlen) target       a symbolic link
 *   U64     = 8 bytes, unsigned, big-endian
 *
 * - path is the entry's name relative to its root, components joined by
 *   '/', no leading "./" or "/": the root itself is "" when it is a
 *   directory, and its last component (e.g. "app.conf" for /etc/app.conf)
 *   when it is a file; "sub/file" is the file "file" in the directory "sub";
 * - target is the link's target as readlink(2) returns it, unresolved;
 * - walk order: a directory's own entry comes first, then its entries sorted
 *   by name in ascending unsigned byte order (strcmp), each subdirectory's
 *   contents walked completely before the next sibling (depth-first
 *   pre-order).  "." and ".." are not entries.
 *
 * Example: the directory /srv/p holding "a" (content "x") and the link
 * "sub/l" -> "../a" hashes MAGIC 'R' 'D' U64(0) 'F' U64(1) "a" U64(1) "x"
 * 'D' U64(3) "sub" 'L' U64(5) "sub/l" U64(4) "../a".
 */
#ifndef CDGATE_DIGEST_H
#define CDGATE_DIGEST_H

#include <stddef.h>

#include "base/caps.h"
#include "base/status.h"

#define DIGEST_PREFIX    "sha256:"
#define DIGEST_HEX_LEN   64
#define DIGEST_CAP_READ  65536    /* bytes read from a file at a time */

/*
 * Hashes paths[0..npaths) as described above into out ("sha256:" + 64
 * lowercase hex digits).  Returns ST_OK; ST_USAGE when a path cannot be
 * hashed as given (does not exist, is a link or a special file, exceeds a
 * cap); ST_OSERR when the system fails (permission, I/O, memory, a file
 * changing while read).  out is "" on any error.
 */
int digest_paths(const char *const *paths, size_t npaths,
    char out[CAP_DIGEST], struct status *st);

/*
 * Validates s as "sha256:" followed by exactly 64 hex digits (prefix and
 * digits in either case, nothing else) and writes it to out in lowercase.
 * Returns ST_OK, or ST_CONFIG with out "".
 */
int digest_parse(const char *s, char out[CAP_DIGEST], struct status *st);

#endif
