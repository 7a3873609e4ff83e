/* before-block-traffic: the BeforeBlockTraffic hook; see src/run/gate.c. */
#include "run/gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_BEFORE_BLOCK_TRAFFIC);
}
