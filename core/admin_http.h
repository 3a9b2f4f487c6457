/*
 * The admin HTTP listener (admin.listen): GET /metrics in OpenMetrics
 * text.  Core-internal; started by the daemon after the modules.
 */
#ifndef RM_ADMIN_HTTP_H
#define RM_ADMIN_HTTP_H

#include "rm.h"

/* set the build and certificate gauges, then listen on admin.listen
 * (nothing to listen on when the list is empty) */
int rm_admin_start(struct rmail_err *err);

#endif
