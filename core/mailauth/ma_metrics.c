/*
 * Mail-authentication counters (ma_metrics.h).  Label values come from
 * fixed lists: a result string is matched, never copied, so a caller
 * passing something from the message cannot break the exposition.
 */
#include <stdio.h>
#include <string.h>

#include "mailauth/dmarc.h"
#include "mailauth/ma_metrics.h"
#include "rm.h"

static const char *const mechanisms[] = {"spf", "dkim", "dmarc"};
static const char *const results[] = {
	"pass",	    "fail",	 "none",      "neutral",
	"softfail", "temperror", "permerror", "policy",
};

static const char *pick(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return v[i];
	return NULL;
}

void rm_mailauth_count(const char *mechanism, const char *result)
{
	const char *m = pick(mechanism, mechanisms, 3);
	const char *r =
		pick(result, results, sizeof(results) / sizeof(results[0]));
	char labels[96];

	if (m == NULL)
		return;
	snprintf(labels, sizeof(labels), "mechanism=\"%s\",result=\"%s\"", m,
		 r != NULL ? r : "other");
	rm_metric_add("rmail_mailauth_results_total", labels, 1);
}

void rm_mailauth_count_disposition(int disposition, int override)
{
	const char *o = dmarc_override_name(override);
	char labels[96];

	snprintf(labels, sizeof(labels), "disposition=\"%s\",override=\"%s\"",
		 dmarc_policy_name(disposition), o != NULL ? o : "none");
	rm_metric_add("rmail_dmarc_dispositions_total", labels, 1);
}

void rm_mailauth_count_local_from_refused(void)
{
	rm_metric_add("rmail_mailauth_local_from_refused_total", NULL, 1);
}

void rm_mailauth_count_authres_removed(size_t n)
{
	if (n > 0)
		rm_metric_add("rmail_mailauth_forged_authres_removed_total",
			      NULL, (double)n);
}
