/*
 * Fixture filter for the submission tests, built like a third-party
 * module.  The message picks the verdict with an "X-Test:" header:
 * reject, discard, header (adds X-Filtered), spam (adds X-Spam: Yes,
 * as rspamd does), anything else accepts.
 * At the DELIVERY stage, "X-Test: reject-bob" refuses bob only,
 * "X-Test: deliver-spam-bob" marks bob's copy only as spam, and
 * "X-Test: mailauth" refuses with the 1.3 authentication fields in the
 * reply text (what the filter saw); at RECEIPT it adds them as a header.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

static int fx_filter(struct rmail_mctx *m, const struct rmail_filter_msg *msg,
		     struct rmail_filter_result *res, struct rmail_err *err)
{
	char buf[4096];
	ssize_t n = pread(msg->fd, buf, sizeof(buf) - 1, 0);

	(void)m;
	(void)err;
	res->action = RMAIL_FILTER_ACCEPT;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (strstr(buf, "X-Test: mailauth") != NULL) {
		char t[200];
		bool has = RMAIL_HAS(msg, struct rmail_filter_msg, from_domain);

#define F(x) (has && msg->x != NULL ? msg->x : "-")
		snprintf(t, sizeof(t),
			 "spf=%s dmarc=%s disp=%s from=%s ar=%.40s",
			 F(spf_result), F(dmarc_result), F(dmarc_disposition),
			 F(from_domain), F(auth_results));
#undef F
		if (msg->stage == RMAIL_FILTER_DELIVERY) {
			res->action = RMAIL_FILTER_REJECT;
			res->code = 550;
			snprintf(res->text, sizeof(res->text), "5.7.1 %s", t);
		} else {
			snprintf(res->add_headers, sizeof(res->add_headers),
				 "X-Receipt-Auth: %s\r\n", t);
		}
		return 0;
	}
	if (msg->stage == RMAIL_FILTER_DELIVERY) {
		if (strstr(buf, "X-Test: deliver-spam-bob") != NULL &&
		    msg->rcpt != NULL && strncmp(msg->rcpt, "bob@", 4) == 0)
			strcpy(res->add_headers, "X-Spam: Yes\r\n");
		if (strstr(buf, "X-Test: reject-bob") != NULL &&
		    msg->rcpt != NULL && strncmp(msg->rcpt, "bob@", 4) == 0) {
			res->action = RMAIL_FILTER_REJECT;
			res->code = 550;
			strcpy(res->text, "5.7.1 Not for bob");
		}
		return 0;
	}
	if (strstr(buf, "X-Test: reject") != NULL &&
	    strstr(buf, "X-Test: reject-bob") == NULL) {
		res->action = RMAIL_FILTER_REJECT;
		res->code = 554;
		strcpy(res->text, "5.7.1 Spam detected");
	} else if (strstr(buf, "X-Test: discard") != NULL) {
		res->action = RMAIL_FILTER_DISCARD;
	} else if (strstr(buf, "X-Test: header") != NULL) {
		strcpy(res->add_headers, "X-Filtered: yes\r\n");
	} else if (strstr(buf, "X-Test: spam") != NULL) {
		/* what rspamd's "add header" action adds */
		strcpy(res->add_headers, "X-Spamd-Result: default: False\r\n"
					 "X-Spam: Yes\r\n");
	}
	return 0;
}

static const struct rmail_filter_ops fx_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.filter = fx_filter,
};

RMAIL_MODULE_DEFINE(fxfilter, RMAIL_KIND_FILTER, "1.0", .ops = &fx_ops);
