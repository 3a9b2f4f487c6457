/* rmail: the one executable; the commands are in cli.c. */
#include "cli.h"

int main(int argc, char **argv)
{
	return rm_cli_main(argc, argv);
}
