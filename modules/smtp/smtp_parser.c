/* SMTP command lines: framing, verbs, paths and ESMTP parameters. */
#include <arpa/inet.h>
#include <string.h>

#include <rmail/mime.h>

#include "smtp_parser.h"

#define AUTH_MECH_MAX 20 /* RFC 4422 sasl-mech */
#define HELO_MAX 255

struct verb_def {
	const char *name;
	size_t len;
	int verb;
};

static const struct verb_def verbs[] = {
	{"EHLO", 4, SMTP_CMD_EHLO}, {"HELO", 4, SMTP_CMD_HELO},
	{"MAIL", 4, SMTP_CMD_MAIL}, {"RCPT", 4, SMTP_CMD_RCPT},
	{"DATA", 4, SMTP_CMD_DATA}, {"BDAT", 4, SMTP_CMD_BDAT},
	{"RSET", 4, SMTP_CMD_RSET}, {"NOOP", 4, SMTP_CMD_NOOP},
	{"QUIT", 4, SMTP_CMD_QUIT}, {"VRFY", 4, SMTP_CMD_VRFY},
	{"HELP", 4, SMTP_CMD_HELP}, {"STARTTLS", 8, SMTP_CMD_STARTTLS},
	{"AUTH", 4, SMTP_CMD_AUTH},
};

static int is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_letdig(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static int is_atext(unsigned char c)
{
	return is_letdig(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static unsigned char up(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? c - 32 : c;
}

static int ci_eq(const char *p, size_t len, const char *lit)
{
	size_t i;

	if (strlen(lit) != len)
		return 0;
	for (i = 0; i < len; i++) {
		if (up((unsigned char)p[i]) != (unsigned char)lit[i])
			return 0;
	}
	return 1;
}

static int ci_prefix(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len >= n && ci_eq(p, n, lit);
}

/* A non-ASCII sequence counts as a letter or digit (U-label, RFC 6531);
 * full IDNA2008 checks are left to whoever resolves the name. */
static size_t letdig_at(const unsigned char *p, size_t len, int utf8)
{
	if (p[0] < 0x80)
		return is_letdig(p[0]) ? 1 : 0;
	return utf8 ? rmail_utf8_seq(p, len) : 0;
}

int smtp_domain_valid(const char *p, size_t len, int utf8)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, n, label = 0;
	int prev_hyphen = 0;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return 0;
	while (i < len) {
		if (u[i] == '.') {
			if (label == 0 || prev_hyphen)
				return 0;
			label = 0;
			i++;
			continue;
		}
		if (u[i] == '-') {
			if (label == 0)
				return 0;
			prev_hyphen = 1;
			label++;
			i++;
			continue;
		}
		n = letdig_at(u + i, len - i, utf8);
		if (n == 0)
			return 0;
		prev_hyphen = 0;
		label += n;
		i += n;
		if (label > SMTP_LABEL_MAX)
			return 0;
	}
	return label > 0 && !prev_hyphen;
}

/* Snum 3("." Snum), Snum = 1*3DIGIT with a value of 0..255 */
static int ipv4_valid(const char *p, size_t len)
{
	size_t i = 0, digits;
	unsigned v;
	int part;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || p[i] != '.')
				return 0;
			i++;
		}
		v = 0;
		digits = 0;
		while (i < len && is_digit((unsigned char)p[i]) && digits < 3) {
			v = v * 10 + (unsigned)(p[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || v > 255)
			return 0;
	}
	return i == len;
}

/* The inside of [...] */
static int literal_valid(const char *p, size_t len)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	size_t i;

	if (len > 0 && is_digit((unsigned char)p[0]))
		return ipv4_valid(p, len);
	if (!ci_prefix(p, len, "IPV6:"))
		return 0; /* General-address-literal: none standardised */
	p += 5;
	len -= 5;
	if (len == 0 || len >= sizeof(tmp))
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_hex((unsigned char)p[i]) && p[i] != ':' && p[i] != '.')
			return 0;
	}
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, addr) == 1;
}

/* Domain or address-literal */
static int domain_or_literal(const char *p, size_t len, int utf8,
			     int *literal_r)
{
	*literal_r = 0;
	if (len >= 2 && p[0] == '[' && p[len - 1] == ']') {
		*literal_r = 1;
		return len <= SMTP_DOMAIN_MAX && literal_valid(p + 1, len - 2);
	}
	return smtp_domain_valid(p, len, utf8);
}

/* Dot-string, or Quoted-string; returns its length or 0.  Non-ASCII is
 * always scanned (so the error can say "needs SMTPUTF8") and flagged. */
static size_t local_part(const char *s, size_t len, int *utf8_r)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	int atom = 0;

	if (len > 0 && u[0] == '"') {
		for (i = 1; i < len; i++) {
			if (u[i] == '"')
				return i + 1;
			if (u[i] == '\\') {
				if (i + 1 >= len || u[i + 1] < 32 ||
				    u[i + 1] > 126)
					return 0;
				i++;
			} else if (u[i] >= 0x80) {
				n = rmail_utf8_seq(u + i, len - i);
				if (n == 0)
					return 0;
				*utf8_r = 1;
				i += n - 1;
			} else if (u[i] < 32 || u[i] > 126) {
				return 0;
			}
		}
		return 0;
	}
	while (i < len) {
		if (u[i] == '.') {
			if (atom == 0)
				return 0;
			atom = 0;
			i++;
			continue;
		}
		if (u[i] >= 0x80) {
			n = rmail_utf8_seq(u + i, len - i);
			if (n == 0)
				return 0;
			*utf8_r = 1;
		} else if (is_atext(u[i])) {
			n = 1;
		} else {
			break;
		}
		atom += n;
		i += n;
	}
	return atom > 0 ? i : 0;
}

/* Offset of the end of a domain or literal starting at s (stops at the
 * first octet that cannot belong to it). */
static size_t domain_extent(const char *s, size_t len)
{
	size_t i = 0;

	if (len > 0 && s[0] == '[') {
		while (i < len && s[i] != ']')
			i++;
		return i < len ? i + 1 : 0;
	}
	while (i < len && s[i] != '>' && s[i] != ',' && s[i] != ':' &&
	       s[i] != ' ')
		i++;
	return i;
}

/*
 * Path at s: "<" [A-d-l ":"] Mailbox ">", or "<>".  Returns the octets
 * used, 0 on a syntax error with *why_r set.
 */
static size_t parse_path(const char *s, size_t len, int rcpt,
			 struct smtp_path *r, const char **why_r)
{
	size_t i = 1, n, k, start;
	int lit;

	memset(r, 0, sizeof(*r));
	if (len == 0 || s[0] != '<') {
		*why_r = "address must be in angle brackets";
		return 0;
	}
	if (len >= 2 && s[1] == '>') {
		r->is_null = 1;
		r->mailbox.p = s + 1;
		return 2;
	}
	if (i < len && s[i] == '@') {
		/* A-d-l: checked, then ignored (RFC 5321 4.1.1.3) */
		for (;;) {
			if (i >= len || s[i] != '@') {
				*why_r = "bad source route";
				return 0;
			}
			i++;
			n = domain_extent(s + i, len - i);
			if (!domain_or_literal(s + i, n, 1, &lit)) {
				*why_r = "bad domain in source route";
				return 0;
			}
			i += n;
			if (i < len && s[i] == ',') {
				i++;
				continue;
			}
			if (i < len && s[i] == ':') {
				i++;
				break;
			}
			*why_r = "bad source route";
			return 0;
		}
		r->has_route = 1;
	}
	start = i;
	if (rcpt && ci_prefix(s + i, len - i, "POSTMASTER>")) {
		r->is_postmaster = 1;
		r->local.p = r->mailbox.p = s + i;
		r->local.len = r->mailbox.len = 10;
		r->domain.p = s + i + 10;
		return i + 11;
	}
	n = local_part(s + i, len - i, &r->is_utf8);
	if (n == 0) {
		*why_r = "bad local part";
		return 0;
	}
	if (n > SMTP_LOCAL_MAX) {
		*why_r = "local part longer than 64 octets";
		return 0;
	}
	r->local.p = s + i;
	r->local.len = n;
	i += n;
	if (i >= len || s[i] != '@') {
		*why_r = "address needs @domain";
		return 0;
	}
	i++;
	n = domain_extent(s + i, len - i);
	if (n > SMTP_DOMAIN_MAX) {
		*why_r = "domain longer than 255 octets";
		return 0;
	}
	if (!domain_or_literal(s + i, n, 1, &r->is_literal)) {
		*why_r = r->is_literal ? "bad address literal" : "bad domain";
		return 0;
	}
	r->domain.p = s + i;
	r->domain.len = n;
	for (k = 0; k < n; k++) {
		if ((unsigned char)s[i + k] >= 0x80)
			r->is_utf8 = 1;
	}
	i += n;
	if (i >= len || s[i] != '>') {
		*why_r = "address must end with >";
		return 0;
	}
	r->mailbox.p = s + start;
	r->mailbox.len = i - start;
	if (r->mailbox.len > SMTP_MAILBOX_MAX) {
		*why_r = "address longer than 254 octets";
		return 0;
	}
	return i + 1;
}

static int fail(struct smtp_cmd *c, int err, const char *detail)
{
	c->err = err;
	c->err_detail = detail;
	return RMAIL_INVALID;
}

/* 1*20DIGIT without overflow */
static int parse_u64(const char *p, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit((unsigned char)p[i]))
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* RFC 3461 xtext */
static int xtext_valid(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '+') {
			if (len - i < 3 || !is_hex((unsigned char)p[i + 1]) ||
			    !is_hex((unsigned char)p[i + 2]))
				return 0;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return 0;
		}
	}
	return 1;
}

/* One esmtp-param of MAIL or RCPT. */
static int mail_param(struct smtp_cmd *c, const char *kw, size_t kwlen,
		      const char *val, size_t vlen, int has_val)
{
	if (c->verb == SMTP_CMD_RCPT) {
		if (ci_eq(kw, kwlen, "NOTIFY") || ci_eq(kw, kwlen, "ORCPT"))
			return fail(c, SMTP_PERR_UNSUPP_PARAM,
				    "DSN is not supported");
		return fail(c, SMTP_PERR_UNSUPP_PARAM,
			    "unsupported RCPT parameter");
	}
	if (ci_eq(kw, kwlen, "SIZE")) {
		if (c->has_size)
			return fail(c, SMTP_PERR_SYNTAX, "SIZE given twice");
		if (!has_val || parse_u64(val, vlen, &c->size) < 0)
			return fail(c, SMTP_PERR_SYNTAX, "bad SIZE value");
		c->has_size = 1;
	} else if (ci_eq(kw, kwlen, "BODY")) {
		if (c->body != SMTP_BODY_UNSET)
			return fail(c, SMTP_PERR_SYNTAX, "BODY given twice");
		if (has_val && ci_eq(val, vlen, "7BIT"))
			c->body = SMTP_BODY_7BIT;
		else if (has_val && ci_eq(val, vlen, "8BITMIME"))
			c->body = SMTP_BODY_8BITMIME;
		else if (has_val && ci_eq(val, vlen, "BINARYMIME"))
			return fail(c, SMTP_PERR_UNSUPP_PARAM,
				    "BINARYMIME is not supported");
		else
			return fail(c, SMTP_PERR_SYNTAX, "bad BODY value");
	} else if (ci_eq(kw, kwlen, "SMTPUTF8")) {
		if (c->smtputf8)
			return fail(c, SMTP_PERR_SYNTAX,
				    "SMTPUTF8 given twice");
		if (has_val)
			return fail(c, SMTP_PERR_SYNTAX,
				    "SMTPUTF8 takes no value");
		c->smtputf8 = 1;
	} else if (ci_eq(kw, kwlen, "REQUIRETLS")) {
		if (c->requiretls)
			return fail(c, SMTP_PERR_SYNTAX,
				    "REQUIRETLS given twice");
		if (has_val)
			return fail(c, SMTP_PERR_SYNTAX,
				    "REQUIRETLS takes no value");
		c->requiretls = 1;
	} else if (ci_eq(kw, kwlen, "AUTH")) {
		if (c->has_auth)
			return fail(c, SMTP_PERR_SYNTAX, "AUTH given twice");
		if (!has_val || vlen == 0 ||
		    (!(vlen == 2 && val[0] == '<' && val[1] == '>') &&
		     !xtext_valid(val, vlen)))
			return fail(c, SMTP_PERR_SYNTAX, "bad AUTH value");
		c->has_auth = 1;
		c->auth.p = val;
		c->auth.len = vlen;
	} else if (ci_eq(kw, kwlen, "RET") || ci_eq(kw, kwlen, "ENVID")) {
		return fail(c, SMTP_PERR_UNSUPP_PARAM, "DSN is not supported");
	} else {
		return fail(c, SMTP_PERR_UNSUPP_PARAM,
			    "unsupported MAIL parameter");
	}
	return RMAIL_OK;
}

/* SP-separated esmtp-params after the path */
static int mail_params(struct smtp_cmd *c, const char *s, size_t len)
{
	size_t i = 0, kw, klen, v, vlen;
	int has_val, rc;

	while (i < len) {
		if (s[i] != ' ')
			return fail(c, SMTP_PERR_SYNTAX,
				    "parameters must follow a space");
		while (i < len && s[i] == ' ')
			i++;
		kw = i;
		if (i >= len || !is_letdig((unsigned char)s[i]))
			return fail(c, SMTP_PERR_SYNTAX, "bad parameter");
		while (i < len &&
		       (is_letdig((unsigned char)s[i]) || s[i] == '-'))
			i++;
		klen = i - kw;
		has_val = 0;
		v = i;
		if (i < len && s[i] == '=') {
			has_val = 1;
			v = ++i;
			while (i < len && (unsigned char)s[i] >= 33 &&
			       (unsigned char)s[i] <= 126 && s[i] != '=')
				i++;
			if (i == v)
				return fail(c, SMTP_PERR_SYNTAX,
					    "empty parameter value");
		}
		vlen = i - v;
		if (i < len && s[i] != ' ')
			return fail(c, SMTP_PERR_SYNTAX, "bad parameter");
		rc = mail_param(c, s + kw, klen, s + v, vlen, has_val);
		if (rc != RMAIL_OK)
			return rc;
	}
	return RMAIL_OK;
}

static int parse_mail_rcpt(struct smtp_cmd *c, const char *s, size_t len,
			   int utf8)
{
	int rcpt = c->verb == SMTP_CMD_RCPT;
	const char *prefix = rcpt ? "TO:" : "FROM:";
	int bad = rcpt ? SMTP_PERR_BAD_RCPT : SMTP_PERR_BAD_SENDER;
	const char *why = NULL;
	size_t i, n;
	int rc;

	if (!ci_prefix(s, len, prefix))
		return fail(c, SMTP_PERR_SYNTAX,
			    rcpt ? "syntax: RCPT TO:<address>"
				 : "syntax: MAIL FROM:<address>");
	i = strlen(prefix);
	while (i < len && s[i] == ' ')
		i++;
	n = parse_path(s + i, len - i, rcpt, &c->path, &why);
	if (n == 0)
		return fail(c, bad, why);
	if (rcpt && c->path.is_null)
		return fail(c, bad, "null recipient");
	i += n;
	rc = mail_params(c, s + i, len - i);
	if (rc != RMAIL_OK)
		return rc;
	if (!rcpt)
		utf8 = c->smtputf8;
	if (c->path.is_utf8 && !utf8)
		return fail(c, SMTP_PERR_UTF8_ADDR,
			    "non-ASCII address needs SMTPUTF8");
	return RMAIL_OK;
}

static int parse_bdat(struct smtp_cmd *c, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] != ' ')
		i++;
	if (parse_u64(s, i, &c->chunk_size) < 0)
		return fail(c, SMTP_PERR_SYNTAX, "bad BDAT chunk size");
	while (i < len && s[i] == ' ')
		i++;
	if (i == len)
		return RMAIL_OK;
	if (!ci_eq(s + i, len - i, "LAST"))
		return fail(c, SMTP_PERR_SYNTAX, "syntax: BDAT size [LAST]");
	c->last = 1;
	return RMAIL_OK;
}

static int b64_valid(const char *p, size_t len)
{
	size_t i, pad = 0;

	if (len == 1 && p[0] == '=')
		return 1; /* RFC 4954: an empty initial response */
	if (len == 0 || len % 4 != 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || !(is_letdig(ch) || ch == '+' || ch == '/'))
			return 0;
	}
	return pad <= 2;
}

static int parse_auth(struct smtp_cmd *c, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len &&
	       (is_letdig((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
		i++;
	if (i == 0 || i > AUTH_MECH_MAX || (i < len && s[i] != ' '))
		return fail(c, SMTP_PERR_SYNTAX, "bad SASL mechanism name");
	c->mech.p = s;
	c->mech.len = i;
	while (i < len && s[i] == ' ')
		i++;
	if (i == len)
		return RMAIL_OK;
	if (!b64_valid(s + i, len - i))
		return fail(c, SMTP_PERR_AUTH_B64,
			    "initial response is not base64");
	c->has_initial = 1;
	c->initial.p = s + i;
	c->initial.len = len - i;
	return RMAIL_OK;
}

static int parse_helo(struct smtp_cmd *c, const char *s, size_t len)
{
	size_t i;
	int lit;

	if (len == 0)
		return fail(c, SMTP_PERR_SYNTAX,
			    c->verb == SMTP_CMD_EHLO ? "syntax: EHLO hostname"
						     : "syntax: HELO hostname");
	if (len > HELO_MAX)
		return fail(c, SMTP_PERR_SYNTAX, "hostname too long");
	/* Lenient like most MTAs: any printable name is taken, and the
	 * session decides what a non-grammatical one is worth. */
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
			return fail(c, SMTP_PERR_SYNTAX,
				    "hostname has invalid characters");
	}
	c->helo_is_domain = domain_or_literal(s, len, 0, &lit);
	return RMAIL_OK;
}

int smtp_parse_line(const char *line, size_t len, int utf8, struct smtp_cmd *c)
{
	size_t i = 0, j;
	const char *a;
	size_t alen;
	size_t k;

	memset(c, 0, sizeof(*c));
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	for (i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return fail(c, SMTP_PERR_BARE_EOL,
				    "bare CR, LF or NUL in command");
	}
	i = 0;
	while (i < len && is_alpha((unsigned char)line[i]))
		i++;
	if (i < len && line[i] != ' ')
		return fail(c, SMTP_PERR_UNKNOWN, "unrecognised command");
	for (k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (ci_eq(line, i, verbs[k].name)) {
			c->verb = verbs[k].verb;
			break;
		}
	}
	if (c->verb == SMTP_CMD_NONE)
		return fail(c, SMTP_PERR_UNKNOWN, "unrecognised command");
	j = i;
	while (j < len && line[j] == ' ')
		j++;
	a = line + j;
	alen = len - j;
	c->arg.p = a;
	c->arg.len = alen;

	switch (c->verb) {
	case SMTP_CMD_EHLO:
	case SMTP_CMD_HELO:
		return parse_helo(c, a, alen);
	case SMTP_CMD_MAIL:
	case SMTP_CMD_RCPT:
		return parse_mail_rcpt(c, a, alen, utf8);
	case SMTP_CMD_BDAT:
		return parse_bdat(c, a, alen);
	case SMTP_CMD_AUTH:
		return parse_auth(c, a, alen);
	case SMTP_CMD_VRFY:
		if (alen == 0)
			return fail(c, SMTP_PERR_SYNTAX,
				    "syntax: VRFY address");
		return RMAIL_OK;
	case SMTP_CMD_NOOP:
	case SMTP_CMD_HELP:
		return RMAIL_OK;
	default:
		/* DATA, RSET, QUIT, STARTTLS */
		if (alen != 0)
			return fail(c, SMTP_PERR_SYNTAX,
				    "command takes no arguments");
		return RMAIL_OK;
	}
}

/*
 * A framing fault: the session answers 521 and closes, so the resync
 * point is simply past the offending octet (for a bare CR, the CR),
 * which does not depend on how the input was chunked.
 */
static int bare(struct smtp_parser *st, struct smtp_cmd *c, size_t consumed,
		const char *detail)
{
	st->skipping = 0;
	st->scanned = 0;
	c->consumed = consumed;
	return fail(c, SMTP_PERR_BARE_EOL, detail);
}

int smtp_parse(struct smtp_parser *st, const char *buf, size_t len,
	       struct smtp_cmd *c)
{
	size_t max = st->max_line != 0 ? st->max_line : SMTP_LINE_MAX;
	size_t i, skipped = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	if (st->skipping) {
		/* the tail of an over-long line already reported: still
		 * refuse bare CR/LF in it, the session must close on those */
		for (i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)buf[i];

			if (ch == '\r') {
				if (i + 1 >= len)
					break;
				if (buf[i + 1] != '\n')
					return bare(st, c, i + 1,
						    "bare CR in command");
				i++;
				break;
			}
			if (ch == '\n' || ch == '\0')
				return bare(st, c, i + 1,
					    "bare LF or NUL in command");
		}
		if (i >= len || buf[i] != '\n') {
			c->consumed = i;
			return RMAIL_AGAIN;
		}
		skipped = i + 1;
		st->skipping = 0;
		st->scanned = 0;
		buf += skipped;
		len -= skipped;
	}
	/* stop at max: what lies beyond is refused whatever it holds, so
	 * the outcome does not depend on how much is buffered */
	for (i = st->scanned; i < len && i < max; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\r') {
			if (i + 1 >= len)
				break; /* CR LF may be split */
			if (buf[i + 1] != '\n')
				return bare(st, c, skipped + i + 1,
					    "bare CR in command");
			i++;
			break;
		}
		if (ch == '\n' || ch == '\0')
			return bare(st, c, skipped + i + 1,
				    ch == '\n' ? "bare LF in command"
					       : "NUL in command");
	}
	if (i >= len || buf[i] != '\n') {
		/* no complete line yet; with CRLF it is longer than len */
		if (len >= max) {
			st->skipping = 1;
			st->scanned = 0;
			/* a trailing CR stays: the LF decides what it is */
			c->consumed = skipped + i;
			c->err = SMTP_PERR_TOOLONG;
			c->err_detail = "command line too long";
			return RMAIL_TOOLONG;
		}
		st->scanned = i;
		c->consumed = skipped;
		return RMAIL_AGAIN;
	}
	st->scanned = 0;
	c->consumed = skipped + i + 1;
	if (i + 1 > max) {
		c->err = SMTP_PERR_TOOLONG;
		c->err_detail = "command line too long";
		return RMAIL_TOOLONG;
	}
	rc = smtp_parse_line(buf, i - 1, st->utf8, c);
	c->consumed = skipped + i + 1;
	return rc;
}

unsigned smtp_perr_code(int err)
{
	switch (err) {
	case SMTP_PERR_NONE:
		return 250;
	case SMTP_PERR_UNKNOWN:
	case SMTP_PERR_TOOLONG:
		return 500;
	case SMTP_PERR_UTF8_ADDR:
		return 553;
	case SMTP_PERR_UNSUPP_PARAM:
		return 555;
	case SMTP_PERR_BARE_EOL:
		return 521;
	default:
		return 501;
	}
}

const char *smtp_perr_enh(int err)
{
	switch (err) {
	case SMTP_PERR_NONE:
		return "2.0.0";
	case SMTP_PERR_BAD_SENDER:
		return "5.1.7";
	case SMTP_PERR_BAD_RCPT:
		return "5.1.3";
	case SMTP_PERR_UTF8_ADDR:
		return "5.6.7";
	case SMTP_PERR_SYNTAX:
	case SMTP_PERR_UNSUPP_PARAM:
		return "5.5.4";
	default:
		return "5.5.2";
	}
}

const char *smtp_perr_text(int err)
{
	switch (err) {
	case SMTP_PERR_NONE:
		return "Ok";
	case SMTP_PERR_UNKNOWN:
		return "Error: command not recognized";
	case SMTP_PERR_TOOLONG:
		return "Error: line too long";
	case SMTP_PERR_SYNTAX:
		return "Syntax error in parameters or arguments";
	case SMTP_PERR_BAD_SENDER:
		return "Bad sender address syntax";
	case SMTP_PERR_BAD_RCPT:
		return "Bad recipient address syntax";
	case SMTP_PERR_UTF8_ADDR:
		return "Non-ASCII address requires SMTPUTF8";
	case SMTP_PERR_UNSUPP_PARAM:
		return "Parameter not supported";
	case SMTP_PERR_AUTH_B64:
		return "Cannot decode base64 initial response";
	case SMTP_PERR_BARE_EOL:
		return "Error: bare <CR> or <LF> received";
	default:
		return "Error";
	}
}

const char *smtp_verb_name(int verb)
{
	size_t k;

	for (k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (verbs[k].verb == verb)
			return verbs[k].name;
	}
	return "?";
}
