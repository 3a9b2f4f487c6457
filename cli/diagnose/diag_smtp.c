/*
 * Phase 4: SMTP through the real listeners.  Sessions are short and
 * several, so the server's per-session error limit never cuts a check
 * short.  The messages sent to the diagnostic user are remembered for
 * phase 5.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag_int.h"
#include "submit/submit_int.h"

#define SENDER "rmail-diag-probe@diag.invalid"

static struct dg_conn *open_smtp(struct diag *d, const char *addr, bool tls,
				 char *ehlo, size_t esz)
{
	struct dg_conn *c;
	char why[256], text[2048];

	c = dg_connect(addr, tls, why, sizeof(why));
	if (c == NULL) {
		dg_check(d, DG_FAIL, "smtp.connect", "%s", why);
		return NULL;
	}
	/* ehlo is only written once the greeting came */
	if (dg_smtp_reply(c, text, sizeof(text)) != 220) {
		dg_check(d, DG_FAIL, "smtp.connect", "%s: no greeting: %.200s",
			 addr, text[0] != '\0' ? text : "connection closed");
		dg_close(&c);
	} else if (dg_smtp(c, ehlo, esz, "EHLO diag.%s", d->domain) != 250) {
		dg_check(d, DG_FAIL, "smtp.connect", "%s: EHLO refused: %.200s",
			 addr, ehlo);
		dg_close(&c);
	}
	return c;
}

static bool has_ext(const char *ehlo, const char *ext)
{
	const char *p = ehlo;
	size_t n = strlen(ext);

	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strlen(p) > 4 && strncasecmp(p + 4, ext, n) == 0 &&
		    (p[4 + n] == '\0' || p[4 + n] == ' ' || p[4 + n] == '\n' ||
		     p[4 + n] == '='))
			return true;
	}
	return false;
}

/* a 587 session after STARTTLS and AUTH; checks are reported once */
static struct dg_conn *submission(struct diag *d, bool report)
{
	char ehlo[2048], text[1024], plain[600], b64[900];
	struct dg_conn *c;
	size_t n;
	int code;

	c = open_smtp(d, d->submission, false, ehlo, sizeof(ehlo));
	if (c == NULL)
		return NULL;
	if (report)
		dg_check(d,
			 !has_ext(ehlo, "AUTH") && has_ext(ehlo, "STARTTLS")
				 ? DG_PASS
				 : DG_FAIL,
			 "smtp.ehlo_hides_auth", "cleartext EHLO on %s: %s",
			 d->submission,
			 has_ext(ehlo, "AUTH") ? "OFFERS AUTH"
					       : "no AUTH, STARTTLS offered");
	n = (size_t)snprintf(plain, sizeof(plain), "%c%s%c%s", 0, d->user, 0,
			     d->pass);
	rm_base64_encode(plain, n, b64, sizeof(b64));
	if (report) {
		code = dg_smtp(c, text, sizeof(text), "AUTH PLAIN %s", b64);
		dg_check(d, code >= 500 ? DG_PASS : DG_FAIL,
			 "smtp.auth_needs_tls", "AUTH before STARTTLS: %.120s",
			 text);
	}
	code = dg_smtp(c, text, sizeof(text), "STARTTLS");
	if (code != 220 || dg_starttls(c, text, sizeof(text)) < 0) {
		dg_check(d, DG_FAIL, "smtp.starttls", "%.200s", text);
		dg_close(&c);
		return NULL;
	}
	if (report)
		dg_check(d,
			 dg_peer_cert_is(c, d->cert_file) == 1 ? DG_PASS
							       : DG_FAIL,
			 "smtp.starttls", "STARTTLS on %s, %s", d->submission,
			 dg_peer_cert_is(c, d->cert_file) == 1
				 ? "the configured certificate"
				 : "NOT the configured certificate");
	if (dg_smtp(c, ehlo, sizeof(ehlo), "EHLO diag.%s", d->domain) != 250 ||
	    (code = dg_smtp(c, text, sizeof(text), "AUTH PLAIN %s", b64)) !=
		    235) {
		dg_check(d, DG_FAIL, "smtp.auth",
			 "AUTH PLAIN after STARTTLS: "
			 "%.200s",
			 text);
		dg_close(&c);
		return NULL;
	}
	if (report)
		dg_check(d, DG_PASS, "smtp.auth", "AUTH PLAIN as %s: %.80s",
			 d->user, text);
	return c;
}

/* MAIL, RCPT, DATA; 250 text in out; returns the final code */
static int send_msg(struct dg_conn *c, const char *from, const char *to,
		    const char *subject, char *out, size_t sz)
{
	int code;

	if ((code = dg_smtp(c, out, sz, "MAIL FROM:<%s>", from)) != 250 ||
	    (code = dg_smtp(c, out, sz, "RCPT TO:<%s>", to)) != 250 ||
	    (code = dg_smtp(c, out, sz, "DATA")) != 354)
		return code;
	if (dg_printf(c,
		      "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n"
		      "A message from rmail diagnose.\r\n.",
		      from, to, subject) < 0)
		return -1;
	return dg_smtp_reply(c, out, sz);
}

static void remember(struct diag *d, const char *subject)
{
	if (d->nsent < DG_MAX_SENT)
		snprintf(d->sent[d->nsent++], sizeof(d->sent[0]), "%s",
			 subject);
}

static void check_rate_config(struct diag *d)
{
	static const char *const keys[] = {"rate.ip_messages",
					   "rate.user_messages",
					   "rate.max_auth_failures"};
	static const long long defs[] = {200, 500, 10};
	size_t i;
	bool bad = false;
	char vals[200] = "";

	for (i = 0; i < 3; i++) {
		json_t *v = dg_conf_get(d, "smtp", keys[i]);
		size_t n = strlen(vals);

		if (v != NULL &&
		    (!json_is_integer(v) || json_integer_value(v) < 1))
			bad = true;
		snprintf(vals + n, sizeof(vals) - n, "%s%s=%lld",
			 n > 0 ? ", " : "", keys[i] + 5,
			 v != NULL ? (long long)json_integer_value(v)
				   : defs[i]);
	}
	dg_check(d, bad ? DG_FAIL : DG_PASS, "smtp.rate_config",
		 "rate limits in force: %s", vals);
}

static bool queue_has(struct diag *d, const char *id)
{
	char p[4200];
	struct stat st;

	snprintf(p, sizeof(p), "%s/queue/%s.env", d->conf->mail_root, id);
	return stat(p, &st) == 0;
}

static void check_external(struct diag *d, struct dg_conn *c)
{
	const struct rm_config *cf = d->conf;
	char to[RMAIL_ADDR_MAX], subj[96], text[1024], id[64] = "";
	const char *via, *q;
	int code, i;

	if (cf->delivery.routes.n > 0 && cf->delivery.relay_host == NULL) {
		snprintf(to, sizeof(to), DG_PREFIX "%s@%s", d->tag,
			 cf->delivery.routes.k[0]);
		via = cf->delivery.routes.v[0];
	} else {
		/* never a real domain: the relay or our queue bounces it */
		snprintf(to, sizeof(to), DG_PREFIX "%s@diag.invalid", d->tag);
		via = cf->delivery.relay_host;
	}
	dg_subject(d, "external", subj, sizeof(subj));
	code = send_msg(c, d->user, to, subj, text, sizeof(text));
	q = strstr(text, "queued as ");
	if (q != NULL)
		snprintf(id, sizeof(id), "%.*s", (int)strcspn(q + 10, " \r\n"),
			 q + 10);
	if (code != 250 || id[0] == '\0') {
		dg_check(d, DG_FAIL, "smtp.external", "to %s: %.200s", to,
			 text);
		return;
	}
	for (i = 0; i < 100 && queue_has(d, id); i++)
		usleep(100000);
	if (queue_has(d, id)) {
		struct rm_qentry e;
		bool got = rm_queue_load(id, &e, NULL) == 0;

		dg_check(d, DG_WARN, "smtp.external",
			 "%s to %s still queued "
			 "after 10 s: %.160s",
			 id, via != NULL ? via : to,
			 got && e.last_error != NULL ? e.last_error
						     : "no attempt yet");
		if (got)
			rm_queue_entry_free(&e);
		return;
	}
	if (via == NULL) {
		d->bounce_expected = true;
		dg_check(d, DG_PASS, "smtp.external",
			 "%s to %s queued and "
			 "failed at once (no relay, .invalid); a bounce is "
			 "due",
			 id, to);
	} else {
		dg_check(d, DG_PASS, "smtp.external",
			 "%s to %s left the queue "
			 "through %s",
			 id, to, via);
	}
}

static void check_submission(struct diag *d)
{
	char text[1024], subj[96];
	struct dg_conn *c = submission(d, true);
	int code;

	if (c == NULL)
		return;
	code = dg_smtp(c, text, sizeof(text), "MAIL FROM:<%s>", d->user2);
	dg_check(d,
		 code == 553 || (code >= 500 && code < 600) ? DG_PASS : DG_FAIL,
		 "smtp.spoofing",
		 "MAIL FROM another user's "
		 "address: %.120s",
		 text);
	dg_smtp(c, text, sizeof(text), "RSET");
	dg_subject(d, "submission", subj, sizeof(subj));
	code = send_msg(c, d->user, d->user, subj, text, sizeof(text));
	dg_check(d, code == 250 ? DG_PASS : DG_FAIL, "smtp.deliver_587",
		 "to %s: %.120s", d->user, text);
	if (code == 250)
		remember(d, subj);
	check_external(d, c);
	dg_smtp(c, text, sizeof(text), "QUIT");
	dg_close(&c);
}

/* 465: TLS from the first byte, AUTH offered at once */
static void check_smtps(struct diag *d)
{
	char ehlo[2048];
	struct dg_conn *c = open_smtp(d, d->smtps, true, ehlo, sizeof(ehlo));

	if (c == NULL)
		return;
	dg_check(d,
		 has_ext(ehlo, "AUTH") && !has_ext(ehlo, "STARTTLS") ? DG_PASS
								     : DG_FAIL,
		 "smtp.smtps",
		 "implicit TLS on %s: EHLO "
		 "%s AUTH, %s STARTTLS",
		 d->smtps, has_ext(ehlo, "AUTH") ? "offers" : "does NOT offer",
		 has_ext(ehlo, "STARTTLS") ? "offers" : "no");
	dg_smtp(c, ehlo, sizeof(ehlo), "QUIT");
	dg_close(&c);
}

static void check_mx(struct diag *d)
{
	char ehlo[2048], text[1024], subj[96];
	struct dg_conn *c = open_smtp(d, d->smtp, false, ehlo, sizeof(ehlo));
	int code;

	if (c == NULL)
		return;
	dg_check(d, !has_ext(ehlo, "AUTH") ? DG_PASS : DG_FAIL,
		 "smtp.ehlo_hides_auth", "cleartext EHLO on %s %s", d->smtp,
		 has_ext(ehlo, "AUTH") ? "OFFERS AUTH" : "offers no AUTH");
	dg_subject(d, "port 25", subj, sizeof(subj));
	code = send_msg(c, SENDER, d->user, subj, text, sizeof(text));
	dg_check(d, code == 250 ? DG_PASS : DG_FAIL, "smtp.deliver_25",
		 "to %s: %.120s", d->user, text);
	if (code == 250)
		remember(d, subj);
	dg_smtp(c, text, sizeof(text), "MAIL FROM:<%s>", SENDER);
	code = dg_smtp(c, text, sizeof(text), "RCPT TO:<someone@%s.invalid>",
		       d->tag);
	dg_check(d, code >= 550 && code < 560 ? DG_PASS : DG_FAIL,
		 "smtp.relay_blocked", "unauthenticated remote RCPT: %.120s",
		 text);
	dg_smtp(c, text, sizeof(text), "QUIT");
	dg_close(&c);
}

/* RFC 5321 behaviour, each on a fresh session */
static void check_rfc(struct diag *d)
{
	char ehlo[2048], text[1024], big[9000];
	struct dg_conn *c;
	unsigned long long size = 0;
	const char *p;
	json_t *ml = dg_conf_get(d, "smtp", "max_line");
	size_t max_line = ml != NULL && json_is_integer(ml)
				  ? (size_t)json_integer_value(ml)
				  : 4096;
	int code, a, b, e, f;

	/* out of sequence: MAIL before EHLO, RCPT and DATA before MAIL */
	c = dg_connect(d->smtp, false, text, sizeof(text));
	if (c == NULL || dg_smtp_reply(c, text, sizeof(text)) != 220) {
		dg_check(d, DG_FAIL, "smtp.rfc.sequence", "%s", text);
		dg_close(&c);
		return;
	}
	a = dg_smtp(c, text, sizeof(text), "MAIL FROM:<%s>", SENDER);
	dg_smtp(c, ehlo, sizeof(ehlo), "EHLO diag.%s", d->domain);
	b = dg_smtp(c, text, sizeof(text), "RCPT TO:<%s>", d->user);
	e = dg_smtp(c, text, sizeof(text), "DATA");
	dg_check(d, a == 503 && b == 503 && e == 503 ? DG_PASS : DG_FAIL,
		 "smtp.rfc.sequence",
		 "MAIL before EHLO %d, RCPT before MAIL "
		 "%d, DATA before RCPT %d (503 expected)",
		 a, b, e);
	code = dg_smtp(c, text, sizeof(text), "XDIAGNOSE");
	dg_check(d, code == 500 || code == 502 ? DG_PASS : DG_FAIL,
		 "smtp.rfc.unknown", "unknown command: %.120s", text);
	code = dg_smtp(c, text, sizeof(text), "MAIL FROM:not-an-address");
	dg_check(d,
		 code == 501 || code == 553 || code == 555 ? DG_PASS : DG_FAIL,
		 "smtp.rfc.syntax", "MAIL FROM without <>: %.120s", text);
	a = dg_smtp(c, text, sizeof(text), "MAIL FROM:<%s>", SENDER);
	b = dg_smtp(c, text, sizeof(text), "RSET");
	e = dg_smtp(c, text, sizeof(text), "RCPT TO:<%s>", d->user);
	dg_check(d, a == 250 && b == 250 && e == 503 ? DG_PASS : DG_FAIL,
		 "smtp.rfc.rset",
		 "MAIL %d, RSET %d, then RCPT %d (no "
		 "transaction left)",
		 a, b, e);
	dg_close(&c);

	/* pipelining and SIZE on a second session */
	c = open_smtp(d, d->smtp, false, ehlo, sizeof(ehlo));
	if (c == NULL)
		return;
	if (!has_ext(ehlo, "PIPELINING")) {
		dg_check(d, DG_FAIL, "smtp.rfc.pipelining",
			 "PIPELINING not "
			 "advertised");
	} else {
		dg_printf(c, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRSET\r\nNOOP",
			  SENDER, d->user);
		a = dg_smtp_reply(c, text, sizeof(text));
		b = dg_smtp_reply(c, text, sizeof(text));
		e = dg_smtp_reply(c, text, sizeof(text));
		f = dg_smtp_reply(c, text, sizeof(text));
		dg_check(d,
			 a == 250 && b == 250 && e == 250 && f == 250 ? DG_PASS
								      : DG_FAIL,
			 "smtp.rfc.pipelining",
			 "four "
			 "pipelined commands answered in order: %d %d %d %d",
			 a, b, e, f);
	}
	p = strstr(ehlo, "SIZE ");
	if (p != NULL)
		size = strtoull(p + 5, NULL, 10);
	if (size == 0) {
		dg_check(d, DG_WARN, "smtp.rfc.size",
			 "no SIZE limit "
			 "advertised");
	} else {
		code = dg_smtp(c, text, sizeof(text),
			       "MAIL FROM:<%s> "
			       "SIZE=%llu",
			       SENDER, size + 1);
		dg_check(d, code == 552 ? DG_PASS : DG_FAIL, "smtp.rfc.size",
			 "SIZE=%llu over the limit: %.120s", size + 1, text);
	}
	dg_close(&c);

	/* a command line over max_line */
	c = open_smtp(d, d->smtp, false, ehlo, sizeof(ehlo));
	if (c == NULL)
		return;
	if (max_line + 16 < sizeof(big)) {
		memset(big, 'a', max_line + 16);
		big[max_line + 16] = '\0';
		code = dg_smtp(c, text, sizeof(text), "NOOP %s", big);
		dg_check(d, code == 500 ? DG_PASS : DG_FAIL,
			 "smtp.rfc.line_length", "a %zu-byte line: %.120s",
			 max_line + 21, text);
	}
	dg_close(&c);

	/* a bare LF inside DATA: refused, nothing delivered */
	c = open_smtp(d, d->smtp, false, ehlo, sizeof(ehlo));
	if (c == NULL)
		return;
	if (dg_smtp(c, text, sizeof(text), "MAIL FROM:<%s>", SENDER) != 250 ||
	    dg_smtp(c, text, sizeof(text), "RCPT TO:<%s>", d->user) != 250 ||
	    dg_smtp(c, text, sizeof(text), "DATA") != 354) {
		dg_check(d, DG_FAIL, "smtp.rfc.bare_lf", "%.120s", text);
	} else {
		static const char body[] = "Subject: rmail diagnose bare LF"
					   "\r\n\r\nbare\nLF\r\n.\r\n";

		dg_write(c, body, sizeof(body) - 1);
		code = dg_smtp_reply(c, text, sizeof(text));
		dg_check(d, code >= 500 ? DG_PASS : DG_FAIL, "smtp.rfc.bare_lf",
			 "a bare LF in DATA: %.120s",
			 code < 0 ? "(closed)" : text);
	}
	dg_close(&c);
}

void dg_phase_smtp(struct diag *d)
{
	check_rate_config(d);
	if (dg_ensure_users(d) < 0)
		return;
	if (d->submission[0] != '\0')
		check_submission(d);
	if (d->smtps[0] != '\0')
		check_smtps(d);
	else
		dg_check(d, DG_WARN, "smtp.submission",
			 "no submission_listen "
			 "configured: STARTTLS, AUTH and 587 untested");
	if (d->smtp[0] == '\0') {
		dg_check(d, DG_WARN, "smtp.mx",
			 "no smtp.listen configured: "
			 "port 25 untested");
		return;
	}
	check_mx(d);
	check_rfc(d);
}

int dg_smtp_send25(struct diag *d, const char *subject)
{
	char ehlo[2048], text[1024];
	struct dg_conn *c;
	int code;

	if (d->smtp[0] == '\0')
		return -1;
	c = open_smtp(d, d->smtp, false, ehlo, sizeof(ehlo));
	if (c == NULL)
		return -1;
	code = send_msg(c, SENDER, d->user, subject, text, sizeof(text));
	dg_smtp(c, text, sizeof(text), "QUIT");
	dg_close(&c);
	return code == 250 ? 0 : -1;
}
