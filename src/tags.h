/*
 * tags.h: the tags check (design.md [tags]).
 */
#ifndef CDGATE_TAGS_H
#define CDGATE_TAGS_H

#include "gate.h"

/* ST_OK, GATE_LEAVING, or a failure in g->st. */
int tags_check(struct gate *g);

#endif
