/* rmail: the one executable.  Everything lives in rmcore; see cli.c. */
#include "daemon.h"

int main(int argc, char **argv)
{
	return rm_cli_main(argc, argv);
}
