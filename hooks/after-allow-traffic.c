/* after-allow-traffic: the AfterAllowTraffic hook; see src/run/gate.c. */
#include "run/gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_AFTER_ALLOW_TRAFFIC);
}
