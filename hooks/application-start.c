/* application-start: the ApplicationStart hook (src/run/gate.c does the work). */
#include "run/gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_APPLICATION_START);
}
