/* after-install: the AfterInstall hook (src/run/gate.c does the work). */
#include "run/gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_AFTER_INSTALL);
}
