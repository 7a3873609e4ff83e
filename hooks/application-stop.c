/* application-stop: the ApplicationStop hook (src/gate.c does the work). */
#include "gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_APPLICATION_STOP);
}
