/* after-block-traffic: the AfterBlockTraffic hook; see src/gate.c. */
#include "gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_AFTER_BLOCK_TRAFFIC);
}
