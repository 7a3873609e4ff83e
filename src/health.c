#include "health.h"

int
health_check(struct gate *g)
{
	return status_set(&g->st, ST_SOFTWARE, "health: this build cannot "
	    "check health yet");
}
