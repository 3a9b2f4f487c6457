#ifndef FIXTURE_CONF_H
#define FIXTURE_CONF_H

#include <rmail/module.h>

struct fx_conf {
	struct rmail_strlist listen;
	const char *greeting;
	uint64_t max_line;
};

#endif
