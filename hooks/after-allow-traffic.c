/* after-allow-traffic: the AfterAllowTraffic hook; see src/gate.c. */
#include "gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_AFTER_ALLOW_TRAFFIC);
}
