/* before-allow-traffic: the BeforeAllowTraffic hook.  What it does is in src/gate.c. */
#include "gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_BEFORE_ALLOW_TRAFFIC);
}
