/*
 * health.h: the service health check (design.md [health]).
 */
#ifndef CDGATE_HEALTH_H
#define CDGATE_HEALTH_H

#include "gate.h"

/* ST_OK, GATE_LEAVING, or a failure in g->st. */
int health_check(struct gate *g);

#endif
