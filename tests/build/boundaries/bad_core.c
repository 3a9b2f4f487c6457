/* the core including the commands */
#include "cli.h"
