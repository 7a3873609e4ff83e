/*
 * registry.h: the checks, in the order they run.  A check is one file pair
 * in src/checks/ (check.h) and one row of the table in registry.c.
 *
 * A check's bit is 1 << its index in the table: sets of checks (an event's
 * checks, the plan) are masks of those bits, and run in table order.
 */
#ifndef CDGATE_REGISTRY_H
#define CDGATE_REGISTRY_H

#include <stddef.h>

#include "checks/check.h"

#define REGISTRY_MAX 16		/* checks at most (bits of an unsigned) */

/* The number of checks. */
size_t registry_count(void);
/* The check at index i (< registry_count()). */
const struct check_def *registry_at(size_t i);
/* The bit of the check named name, 0 if none is. */
unsigned registry_bit(const char *name);
/* The index of the check whose own section is section, -1 if none. */
int registry_by_section(const char *section);
/* Writes "lifecycle marker tags" (or "none") into buf. */
void registry_list(unsigned checks, char *buf, size_t len);
/* Every check's bit. */
unsigned registry_all(void);

#endif
