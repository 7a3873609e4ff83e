/* validate-service: the ValidateService hook.  What it does is in src/gate.c. */
#include "gate.h"

int
main(int argc, char **argv)
{
	return gate_main(argc, argv, EV_VALIDATE_SERVICE);
}
