#ifndef FIXTURE_CONF_H
#define FIXTURE_CONF_H

#include <rmail/module.h>

struct fx_conf {
	struct rmail_strlist listen;
	const char *greeting;
	uint64_t max_line;
	struct rmail_strlist endpoints; /* FX_ODD_LISTEN only */
};

#endif
