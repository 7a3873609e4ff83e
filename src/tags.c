#include "tags.h"

#include "out.h"

int
tags_check(struct gate *g)
{
	if (g->cfg.ntags == 0 && !(g->have_marker && g->marker.ntags > 0)) {
		gate_note(g, "no tags required");
		return ST_OK;
	}
	return status_set(&g->st, ST_SOFTWARE, "tags: this build cannot "
	    "read tags yet");
}
