/* before-allow-traffic: the BeforeAllowTraffic hook; see src/run/gate.c. */
#include "run/gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_BEFORE_ALLOW_TRAFFIC);
}
