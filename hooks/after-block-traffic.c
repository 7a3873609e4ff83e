/* after-block-traffic: the AfterBlockTraffic hook.  What it does is in src/gate.c. */
#include "gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_AFTER_BLOCK_TRAFFIC);
}
