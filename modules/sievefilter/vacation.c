#include "vacation.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

static const char *const addressed_fields[] = {
	"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc",
};

static const char *const list_fields[] = {
	"List-Id",   "List-Help",  "List-Unsubscribe", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive",
};

const char *vac_verdict_name(enum vac_verdict v)
{
	switch (v) {
	case VAC_SEND:
		return "send";
	case VAC_NULL_SENDER:
		return "null sender";
	case VAC_DAEMON_SENDER:
		return "sender is a daemon or list owner";
	case VAC_AUTO_SUBMITTED:
		return "Auto-Submitted";
	case VAC_LIST:
		return "mailing list";
	case VAC_PRECEDENCE:
		return "Precedence bulk/list/junk";
	case VAC_SPAM:
		return "spam";
	case VAC_DMARC_FAIL:
		return "DMARC fail";
	case VAC_NOT_ADDRESSED:
		return "not addressed to the user";
	case VAC_FROM_SELF:
		return "sent by the user";
	}
	return "?";
}

static int starts_ci(const char *s, size_t n, const char *p)
{
	size_t pn = strlen(p);

	return n >= pn && strncasecmp(s, p, pn) == 0;
}

static int ends_ci(const char *s, size_t n, const char *p)
{
	size_t pn = strlen(p);

	return n >= pn && strncasecmp(s + n - pn, p, pn) == 0;
}

/* RFC 3834 section 2 and RFC 5230 section 4.6: senders that are
 * programs, not people */
static int daemon_sender(const char *from)
{
	const char *at = strrchr(from, '@');
	size_t n = at != NULL ? (size_t)(at - from) : strlen(from);

	return (n == 13 && strncasecmp(from, "MAILER-DAEMON", n) == 0) ||
	       (n == 7 && strncasecmp(from, "LISTSERV", n) == 0) ||
	       (n == 9 && strncasecmp(from, "majordomo", n) == 0) ||
	       starts_ci(from, n, "owner-") || ends_ci(from, n, "-request") ||
	       ends_ci(from, n, "-owner") || ends_ci(from, n, "-bounces");
}

/* the local part without +detail compared case-insensitively; the
 * domain case-insensitively */
static int same_addr(const char *a, size_t an, const char *mine)
{
	const char *aat = memchr(a, '@', an), *mat = strrchr(mine, '@');
	size_t al, ml;

	if (aat == NULL || mat == NULL)
		return 0;
	al = (size_t)(aat - a);
	ml = (size_t)(mat - mine);
	if (strlen(mat) != an - al || strncasecmp(aat, mat, an - al) != 0)
		return 0;
	if (al == ml && strncasecmp(a, mine, al) == 0)
		return 1;
	/* alice+tag@ reaches alice@ */
	return memchr(mine, '+', ml) == NULL && al > ml && a[ml] == '+' &&
	       strncasecmp(a, mine, ml) == 0;
}

/* is one of mine among the addresses of value (tokens with an '@'
 * between the address-list delimiters) */
static int value_has(const char *v, const char *const *mine, size_t nmy)
{
	const char *delim = " \t\r\n<>,;\"()[]:";

	while (*v != '\0') {
		size_t skip = strspn(v, delim), n;

		v += skip;
		n = strcspn(v, delim);
		if (n > 0 && memchr(v, '@', n) != NULL)
			for (size_t i = 0; i < nmy; i++)
				if (same_addr(v, n, mine[i]))
					return 1;
		v += n;
	}
	return 0;
}

static int is_mine(const char *addr, const char *const *mine, size_t nmy)
{
	for (size_t i = 0; i < nmy; i++)
		if (same_addr(addr, strlen(addr), mine[i]))
			return 1;
	return 0;
}

static int first_word_is(const char *v, const char *w)
{
	size_t n;

	v += strspn(v, " \t");
	n = strcspn(v, " \t;()\r\n");
	return n == strlen(w) && strncasecmp(v, w, n) == 0;
}

enum vac_verdict vac_decide(const struct vac_in *in)
{
	const char *v;

	if (in->env_from == NULL || in->env_from[0] == '\0')
		return VAC_NULL_SENDER;
	if (daemon_sender(in->env_from))
		return VAC_DAEMON_SENDER;
	if (is_mine(in->env_from, in->my_addrs, in->nmy))
		return VAC_FROM_SELF;
	for (size_t i = 0; (v = in->header(in->arg, "Auto-Submitted", i)); i++)
		if (!first_word_is(v, "no"))
			return VAC_AUTO_SUBMITTED;
	for (size_t i = 0; i < sizeof(list_fields) / sizeof(*list_fields); i++)
		if (in->header(in->arg, list_fields[i], 0) != NULL)
			return VAC_LIST;
	for (size_t i = 0; (v = in->header(in->arg, "Precedence", i)); i++)
		if (first_word_is(v, "bulk") || first_word_is(v, "list") ||
		    first_word_is(v, "junk"))
			return VAC_PRECEDENCE;
	if (in->spam)
		return VAC_SPAM;
	if (in->dmarc_result != NULL &&
	    strcasecmp(in->dmarc_result, "fail") == 0)
		return VAC_DMARC_FAIL;
	for (size_t f = 0;
	     f < sizeof(addressed_fields) / sizeof(*addressed_fields); f++)
		for (size_t i = 0;
		     (v = in->header(in->arg, addressed_fields[f], i)); i++)
			if (value_has(v, in->my_addrs, in->nmy))
				return VAC_SEND;
	return VAC_NOT_ADDRESSED;
}

int64_t vac_period(unsigned n, int seconds)
{
	int64_t max = (int64_t)VAC_DAYS_MAX * 86400, p;

	if (seconds)
		p = n == 0 ? (int64_t)VAC_DAYS_DEFAULT * 86400 : (int64_t)n;
	else
		p = (int64_t)(n == 0 ? VAC_DAYS_DEFAULT : n) * 86400;
	if (p < (seconds ? VAC_SECONDS_MIN : (int64_t)VAC_DAYS_MIN * 86400))
		p = seconds ? VAC_SECONDS_MIN : (int64_t)VAC_DAYS_MIN * 86400;
	return p > max ? max : p;
}

void vac_key(const char *sender, const char *handle, const char *reason,
	     const char *subject, const char *from, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	const char *parts[4] = {handle, reason, subject, from};

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (const char *p = sender; *p != '\0'; p++) {
		char l = (char)tolower((unsigned char)*p);

		EVP_DigestUpdate(c, &l, 1);
	}
	/* a :handle names the vacation; without one its text does */
	for (size_t i = 0; i < (handle != NULL ? 1u : 4u); i++) {
		EVP_DigestUpdate(c, "", 1);
		if (parts[i] != NULL)
			EVP_DigestUpdate(c, parts[i], strlen(parts[i]));
	}
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
}

static int is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80 || *s == '\r' || *s == '\n')
			return 0;
	return 1;
}

/* RFC 2047 B-encoding when the text is not plain ASCII */
static char *encode_word(const char *s)
{
	size_t n = strlen(s);
	char *out, *b64;

	if (is_ascii(s))
		return strdup(s);
	b64 = malloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)s, (int)n);
	out = malloc(strlen(b64) + 16);
	sprintf(out, "=?UTF-8?B?%s?=", b64);
	free(b64);
	return out;
}

/* body text with every line ending as CRLF */
static void append_crlf(char **buf, size_t *len, size_t *cap, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*len + 3 > *cap) {
			*cap = *cap * 2 + 64;
			*buf = realloc(*buf, *cap);
		}
		if (*s == '\r')
			continue;
		if (*s == '\n')
			(*buf)[(*len)++] = '\r';
		(*buf)[(*len)++] = *s;
	}
	(*buf)[*len] = '\0';
}

char *vac_compose(const char *from, const char *to, const char *subject,
		  const char *orig_subject, const char *orig_msgid,
		  const char *orig_refs, const char *reason, int mime,
		  const char *msgid, const char *date)
{
	char *subj, *raw_subj = NULL, *hdr, *buf;
	size_t len, cap;

	if (subject == NULL || subject[0] == '\0') {
		const char *os = orig_subject != NULL ? orig_subject : "";

		os += strspn(os, " \t");
		raw_subj = malloc(strlen(os) + 32);
		if (os[0] == '\0')
			strcpy(raw_subj, "Automated reply");
		else
			sprintf(raw_subj, "Auto: %s", os);
		subject = raw_subj;
	}
	subj = encode_word(subject);
	free(raw_subj);
	cap = strlen(from) + strlen(to) + strlen(subj) + strlen(msgid) +
	      strlen(date) + 2 * (orig_msgid ? strlen(orig_msgid) : 0) +
	      (orig_refs ? strlen(orig_refs) : 0) + 512;
	hdr = malloc(cap);
	len = (size_t)snprintf(hdr, cap,
			       "From: %s\r\nTo: <%s>\r\nSubject: %s\r\n"
			       "Date: %s\r\nMessage-ID: %s\r\n"
			       "Auto-Submitted: auto-replied (vacation)\r\n"
			       "Precedence: bulk\r\n",
			       from, to, subj, date, msgid);
	free(subj);
	if (orig_msgid != NULL && orig_msgid[0] != '\0')
		len += (size_t)snprintf(
			hdr + len, cap - len,
			"In-Reply-To: %s\r\n"
			"References: %s%s%s\r\n",
			orig_msgid, orig_refs != NULL ? orig_refs : "",
			orig_refs != NULL && orig_refs[0] ? " " : "",
			orig_msgid);
	len += (size_t)snprintf(hdr + len, cap - len, "MIME-Version: 1.0\r\n");
	buf = hdr;
	cap = cap > len + 1 ? cap : len + 1;
	/* :mime: the reason is a MIME entity with its own header */
	if (!mime) {
		const char *ct = "Content-Type: text/plain; charset=utf-8\r\n"
				 "Content-Transfer-Encoding: 8bit\r\n\r\n";

		append_crlf(&buf, &len, &cap, ct);
	}
	append_crlf(&buf, &len, &cap, reason != NULL ? reason : "");
	if (len < 2 || buf[len - 1] != '\n')
		append_crlf(&buf, &len, &cap, "\n");
	return buf;
}
