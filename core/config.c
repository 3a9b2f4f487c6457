/* config.json: load, validate, defaults (being fleshed out). */
#include <stdlib.h>

#include "rm.h"

static struct rm_config *conf_current;

const struct rm_config *rm_conf(void)
{
	return conf_current;
}

void rm_conf_set(struct rm_config *conf)
{
	conf_current = conf;
}
