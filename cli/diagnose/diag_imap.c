/*
 * Phase 6: IMAP through the real listeners, as the diagnostic user, on
 * mailboxes of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag_int.h"

#define OUT 65536

struct dg_conn *dg_imap_login(struct diag *d, const char *addr)
{
	char why[256], line[2048], *out;
	struct dg_conn *c = NULL;
	bool implicit = d->imaps[0] != '\0';

	if (!implicit && d->imap[0] == '\0') {
		dg_check(d, DG_FAIL, "imap.connect", "no IMAP listener");
		return NULL;
	}
	c = dg_connect(implicit ? d->imaps : d->imap, implicit, why,
		       sizeof(why));
	if (c == NULL) {
		dg_check(d, DG_FAIL, "imap.connect", "%s", why);
		return NULL;
	}
	out = rm_xmalloc(OUT);
	if (dg_readline(c, line, sizeof(line), DG_TIMEOUT) < 0 ||
	    strncmp(line, "* OK", 4) != 0 ||
	    (!implicit && (dg_imap(c, out, OUT, "STARTTLS") != 0 ||
			   dg_starttls(c, why, sizeof(why)) < 0)) ||
	    dg_imap(c, out, OUT, "LOGIN \"%s\" \"%s\"", addr, d->pass) != 0) {
		dg_check(d, DG_FAIL, "imap.login", "as %s: %.200s", addr,
			 out[0] ? out : line);
		dg_close(&c);
	}
	free(out);
	return c;
}

static bool has_word(const char *s, const char *w)
{
	const char *p = s;
	size_t n = strlen(w);

	while ((p = strcasestr(p, w)) != NULL) {
		bool start = p == s || strchr(" (\n[", p[-1]) != NULL;
		bool end = strchr(" )\n]", p[n]) != NULL;

		if (start && end)
			return true;
		p += n;
	}
	return false;
}

/* the cleartext listener: STARTTLS offered, no AUTH=, LOGIN refused */
static void check_cleartext(struct diag *d, char *out)
{
	char why[256], line[1024];
	struct dg_conn *c;
	int rc;

	if (d->imap[0] == '\0')
		return;
	c = dg_connect(d->imap, false, why, sizeof(why));
	if (c == NULL || dg_readline(c, line, sizeof(line), DG_TIMEOUT) < 0) {
		dg_check(d, DG_FAIL, "imap.connect", "%s: %s", d->imap,
			 c == NULL ? why : "no greeting");
		dg_close(&c);
		return;
	}
	rc = dg_imap(c, out, OUT, "CAPABILITY");
	dg_check(d,
		 rc == 0 && has_word(out, "STARTTLS") &&
				 strcasestr(out, "AUTH=") == NULL
			 ? DG_PASS
			 : DG_FAIL,
		 "imap.capability_hides_auth",
		 "cleartext CAPABILITY on %s: "
		 "%s",
		 d->imap,
		 strcasestr(out, "AUTH=") != NULL ? "OFFERS AUTH="
						  : "STARTTLS, no AUTH=");
	rc = dg_imap(c, out, OUT, "LOGIN \"%s\" \"%s\"", d->user, d->pass);
	dg_check(d, rc != 0 ? DG_PASS : DG_FAIL, "imap.cleartext_login",
		 "LOGIN without TLS %s", rc != 0 ? "refused" : "ACCEPTED");
	rc = dg_imap(c, out, OUT, "STARTTLS");
	if (rc != 0 || dg_starttls(c, why, sizeof(why)) < 0) {
		dg_check(d, DG_FAIL, "imap.starttls", "%.200s",
			 rc == 0 ? why : out);
	} else {
		int same = dg_peer_cert_ours(d, c);

		dg_check(d, same == 1 ? DG_PASS : DG_FAIL, "imap.starttls",
			 "STARTTLS on %s, %s", d->imap,
			 same == 1 ? "the configured certificate"
				   : "NOT the configured certificate");
		rc = dg_imap(c, out, OUT, "CAPABILITY");
		dg_check(d,
			 rc == 0 && has_word(out, "IMAP4rev1") &&
					 strcasestr(out, "AUTH=PLAIN") != NULL
				 ? DG_PASS
				 : DG_FAIL,
			 "imap.capability", "after STARTTLS: %.*s",
			 (int)strcspn(out, "\n"), out);
	}
	dg_close(&c);
}

static void step(struct diag *d, const char *id, bool ok, const char *what,
		 const char *out)
{
	const char *last = strrchr(out, '\n');

	dg_check(d, ok ? DG_PASS : DG_FAIL, id, "%s%s%.160s", what,
		 ok ? "" : ": ",
		 ok		? ""
		 : last != NULL ? last + 1
				: out);
}

/* the UID of the last "* SEARCH" hit, 0 when none */
static unsigned long last_search(const char *out)
{
	const char *p = strcasestr(out, "* SEARCH");
	unsigned long uid = 0;

	if (p == NULL)
		return 0;
	p += 8;
	while (*p == ' ' || (*p >= '0' && *p <= '9')) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p) {
			p++;
			continue;
		}
		uid = v;
		p = end;
	}
	return uid;
}

static void session_checks(struct diag *d, struct dg_conn *c, char *out)
{
	char subj[96], msg[512], folder[64], renamed[64];
	unsigned long uid, auid = 0;
	const char *p;
	int rc, n;

	snprintf(folder, sizeof(folder), "Diag Folder %s", d->tag);
	snprintf(renamed, sizeof(renamed), "Diag Renamed %s", d->tag);
	rc = dg_imap(c, out, OUT, "LIST \"\" \"*\"");
	step(d, "imap.list",
	     rc == 0 && strstr(out, "INBOX") != NULL &&
		     strstr(out, "Sent") != NULL,
	     "LIST \"\" \"*\" shows INBOX and "
	     "Sent",
	     out);
	rc = dg_imap(c, out, OUT, "CREATE \"%s\"", folder);
	rc = rc == 0 ? dg_imap(c, out, OUT, "LIST \"\" \"Diag F%%\"") : rc;
	step(d, "imap.list_partial",
	     rc == 0 && strstr(out, folder) != NULL &&
		     strstr(out, "INBOX") == NULL,
	     "LIST \"\" \"Diag F%\" shows only "
	     "the new folder",
	     out);
	rc = dg_imap(c, out, OUT, "LIST (SPECIAL-USE) \"\" \"*\"");
	step(d, "imap.special_use",
	     rc == 0 && strstr(out, "\\Sent") && strstr(out, "\\Trash") &&
		     strstr(out, "\\Drafts") && strstr(out, "\\Junk"),
	     "LIST (SPECIAL-USE): \\Sent \\Drafts "
	     "\\Trash \\Junk",
	     out);

	dg_subject(d, "imap", subj, sizeof(subj));
	n = snprintf(msg, sizeof(msg),
		     "From: <%s>\r\nTo: <%s>\r\n"
		     "Subject: %s\r\n\r\nIMAP check.\r\n",
		     d->user, d->user, subj);
	rc = dg_imap(c, out, OUT, "APPEND INBOX {%d+}\r\n%s", n, msg);
	p = strcasestr(out, "APPENDUID ");
	if (p != NULL)
		sscanf(p + 10, "%*u %lu", &auid);
	step(d, "imap.append", rc == 0 && auid > 0, "APPEND with APPENDUID",
	     out);
	rc = dg_imap(c, out, OUT, "SELECT INBOX");
	step(d, "imap.select",
	     rc == 0 && strstr(out, "EXISTS") && strstr(out, "UIDVALIDITY"),
	     "SELECT INBOX: EXISTS, UIDVALIDITY", out);
	rc = dg_imap(c, out, OUT,
		     "UID SEARCH UID %lu NOT DELETED OR UNSEEN "
		     "FLAGGED LARGER 10 SINCE 1-Jan-2000 UNDRAFT",
		     auid);
	uid = last_search(out);
	if (uid != auid)
		uid = 0;
	step(d, "imap.search", rc == 0 && uid > 0,
	     "UID SEARCH with OR, "
	     "NOT, LARGER, SINCE finds the message",
	     out);
	if (uid == 0)
		return;
	rc = dg_imap(c, out, OUT,
		     "UID FETCH %lu (FLAGS RFC822.SIZE "
		     "BODY.PEEK[])",
		     uid);
	step(d, "imap.fetch", rc == 0 && strstr(out, subj) != NULL,
	     "UID FETCH FLAGS RFC822.SIZE BODY.PEEK[]", out);
	rc = dg_imap(c, out, OUT, "UID STORE %lu +FLAGS (\\Flagged)", uid);
	step(d, "imap.store", rc == 0 && strstr(out, "\\Flagged"),
	     "UID STORE +FLAGS (\\Flagged)", out);
	rc = dg_imap(c, out, OUT, "UID COPY %lu \"%s\"", uid, folder);
	step(d, "imap.copy", rc == 0 && strcasestr(out, "COPYUID"),
	     "UID COPY answers COPYUID", out);
	rc = dg_imap(c, out, OUT, "UID MOVE %lu \"%s\"", uid, folder);
	step(d, "imap.move",
	     rc == 0 && strcasestr(out, "EXPUNGE") &&
		     strcasestr(out, "COPYUID"),
	     "UID MOVE: COPYUID and EXPUNGE", out);
	rc = dg_imap(c, out, OUT, "CHECK");
	step(d, "imap.check", rc == 0, "CHECK", out);
	rc = dg_imap(c, out, OUT, "UNSELECT");
	step(d, "imap.unselect", rc == 0, "UNSELECT", out);
	rc = dg_imap(c, out, OUT, "SELECT \"%s\"", folder);
	rc = rc == 0 ? dg_imap(c, out, OUT,
			       "STORE 1:* +FLAGS.SILENT "
			       "(\\Deleted)")
		     : rc;
	rc = rc == 0 ? dg_imap(c, out, OUT, "EXPUNGE") : rc;
	step(d, "imap.expunge", rc == 0 && strstr(out, "EXPUNGE"),
	     "STORE \\Deleted then EXPUNGE", out);
	dg_imap(c, out, OUT, "UNSELECT");
	rc = dg_imap(c, out, OUT, "RENAME \"%s\" \"%s\"", folder, renamed);
	rc = rc == 0 ? dg_imap(c, out, OUT, "LIST \"\" \"Diag*\"") : rc;
	step(d, "imap.rename",
	     rc == 0 && strstr(out, renamed) != NULL &&
		     strstr(out, folder) == NULL,
	     "RENAME of a name with spaces", out);
	dg_imap(c, out, OUT, "DELETE \"%s\"", renamed);
}

static void misc_checks(struct diag *d, struct dg_conn *c, char *out)
{
	char line[1024];
	int rc;

	rc = dg_imap(c, out, OUT, "ID (\"name\" \"rmail-diagnose\")");
	step(d, "imap.id", rc == 0 && strstr(out, "* ID") != NULL, "ID", out);
	rc = dg_imap(c, out, OUT, "ENABLE UTF8=ACCEPT");
	step(d, "imap.enable", rc == 0 && strstr(out, "* ENABLED") != NULL,
	     "ENABLE answers * ENABLED", out);
	rc = dg_imap(c, out, OUT, "SELECT INBOX");
	if (rc == 0 && dg_printf(c, "I1 IDLE") == 0 &&
	    dg_readline(c, line, sizeof(line), DG_TIMEOUT) == 0 &&
	    line[0] == '+' && dg_printf(c, "DONE") == 0) {
		while (dg_readline(c, line, sizeof(line), DG_TIMEOUT) == 0 &&
		       strncmp(line, "I1 ", 3) != 0)
			;
		step(d, "imap.idle", strncmp(line, "I1 OK", 5) == 0,
		     "IDLE then DONE", line);
	} else {
		step(d, "imap.idle", false, "IDLE", out);
	}
}

void dg_phase_imap(struct diag *d)
{
	char *out;
	struct dg_conn *c;

	if (dg_ensure_users(d) < 0)
		return;
	out = rm_xmalloc(OUT);
	out[0] = '\0';
	check_cleartext(d, out);
	c = dg_imap_login(d, d->user);
	if (c != NULL) {
		dg_check(d, DG_PASS, "imap.login", "LOGIN as %s over TLS",
			 d->user);
		session_checks(d, c, out);
		misc_checks(d, c, out);
		dg_imap(c, out, OUT, "LOGOUT");
		dg_close(&c);
	}
	free(out);
}
