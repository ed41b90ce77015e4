/* main.c: qlockd's entry point; the master does the rest. */
#include "master.h"

int
main(int argc, char *argv[])
{
	return master_main(argc, argv);
}
