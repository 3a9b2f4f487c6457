/*
 * The DMARC policy record (RFC 7489 §6.3, §6.4): a tag list read from
 * DNS, so attacker-controlled.  One pass over at most DMARC_RECORD_MAX
 * bytes, no allocation, every copy bounded.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dmarc.h"
#include "tagval.h"

/* TXT data has no line breaks of its own; a CR or LF inside one is
 * treated as folding white space rather than refused */
#define FOLD true

static bool span_case_is(struct rm_span s, const char *lit)
{
	return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0;
}

static int policy_of(struct rm_span v)
{
	if (span_case_is(v, "none"))
		return DMARC_P_NONE;
	if (span_case_is(v, "quarantine"))
		return DMARC_P_QUARANTINE;
	if (span_case_is(v, "reject"))
		return DMARC_P_REJECT;
	return -1;
}

/* 1*digits within max, else -1 */
static int64_t number(struct rm_span v, int64_t max)
{
	int64_t x = 0;

	if (v.n == 0 || v.n > 32)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		if (x <= max)
			x = x * 10 + (v.p[i] - '0');
	}
	return x > max ? max + 1 : x;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "mailto:addr[?hfields][!size[kmgt]]" into u; false when not a usable
 * mailto: URI.  Other schemes are valid URIs rmail cannot use. */
static bool parse_uri(struct rm_span s, struct dmarc_uri *u)
{
	size_t end = s.n, o = 0, at = 0;
	const char *bang = NULL;

	memset(u, 0, sizeof(*u));
	/* the size suffix follows the last '!': '!' inside the URI itself
	 * must be %-encoded (§6.4) */
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] == '!')
			bang = s.p + i;
	if (bang != NULL) {
		struct rm_span sz = {bang + 1, (size_t)(s.p + s.n - bang - 1)};
		uint64_t mul = 1;
		int64_t v;

		end = (size_t)(bang - s.p);
		if (sz.n > 0) {
			switch (sz.p[sz.n - 1] | 0x20) {
			case 'k':
				mul = 1024;
				break;
			case 'm':
				mul = 1024 * 1024;
				break;
			case 'g':
				mul = 1024ull * 1024 * 1024;
				break;
			case 't':
				mul = 1024ull * 1024 * 1024 * 1024;
				break;
			}
			if (mul != 1)
				sz.n--;
		}
		v = number(sz, (int64_t)1 << 40);
		if (v < 0 || v > ((int64_t)1 << 40))
			return false;
		/* 2^40 terabytes would wrap: such a limit is no limit */
		u->max_size = (uint64_t)v > UINT64_MAX / mul
				      ? UINT64_MAX
				      : (uint64_t)v * mul;
		if (u->max_size == 0)
			return false;
	}
	if (end < 7 || strncasecmp(s.p, "mailto:", 7) != 0)
		return false;
	for (size_t i = 7; i < end && s.p[i] != '?'; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '%' && i + 2 < end && hexval(s.p[i + 1]) >= 0 &&
		    hexval(s.p[i + 2]) >= 0) {
			c = (unsigned char)(hexval(s.p[i + 1]) * 16 +
					    hexval(s.p[i + 2]));
			i += 2;
		}
		/* the address goes into an envelope: nothing that could
		 * split an SMTP command or a header */
		if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == ',' ||
		    c == '"' || c == '\\')
			return false;
		if (o + 1 >= sizeof(u->addr))
			return false;
		if (c == '@')
			at = o;
		u->addr[o++] = (char)c;
	}
	u->addr[o] = '\0';
	/* local@domain, both non-empty, one '@' */
	if (at == 0 || at + 1 >= o || strchr(u->addr, '@') != u->addr + at)
		return false;
	return true;
}

/* valid URIs kept (up to DMARC_MAX_RUA); true when at least one was
 * syntactically valid */
static bool parse_rua(struct rm_span v, struct dmarc_record *r)
{
	bool any = false;
	size_t i = 0;

	while (i <= v.n) {
		size_t j = i;
		struct dmarc_uri u;

		while (j < v.n && v.p[j] != ',')
			j++;
		if (parse_uri(rm_span_trim(v.p + i, j - i, FOLD), &u)) {
			any = true;
			if (r->nrua < DMARC_MAX_RUA)
				r->rua[r->nrua++] = u;
		}
		i = j + 1;
	}
	return any;
}

static bool fo_ok(struct rm_span v)
{
	/* fo = ("0" / "1" / "d" / "s") *(":" ...) */
	if (v.n == 0 || v.n >= sizeof(((struct dmarc_record *)0)->fo))
		return false;
	for (size_t i = 0; i < v.n; i++) {
		char c = v.p[i];

		if (i % 2 == 0 ? !(c == '0' || c == '1' || c == 'd' || c == 's')
			       : c != ':')
			return false;
	}
	return v.p[v.n - 1] != ':';
}

int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r)
{
	bool first = true, seen_p = false, p_bad = false, sp_bad = false,
	     sp_set = false, rua_ok = false;
	unsigned seen = 0; /* bit per known tag: the first one counts */
	struct rm_tv_iter it;
	struct rm_tv_field fld;

	memset(r, 0, sizeof(*r));
	r->pct = 100;
	r->ri = 86400;
	strcpy(r->fo, "0");
	if (txt == NULL || len > DMARC_RECORD_MAX)
		return DMARC_REC_NOT;
	rm_tv_init(&it, txt, len, FOLD);
	while (rm_tv_next(&it, &fld)) {
		struct rm_span tag, val;
		unsigned bit = 0;

		if (fld.f.n == 0) {
			if (first)
				return DMARC_REC_NOT;
			continue; /* the optional trailing ';' */
		}
		if (!fld.has_eq) {
			if (first)
				return DMARC_REC_NOT;
			continue; /* not a tag: ignored like an unknown one */
		}
		tag = rm_span_trim(fld.k.p, fld.k.n, FOLD);
		val = rm_span_trim(fld.v.p, fld.v.n, FOLD);
		if (first) {
			/* §6.6.3: v=DMARC1 must be the first tag.  Tag names
			 * are ABNF strings (case-insensitive), DMARC1 is %x
			 * (exact) */
			if (!span_case_is(tag, "v") ||
			    !rm_span_is(val, "DMARC1"))
				return DMARC_REC_NOT;
			first = false;
			continue;
		}
		if (span_case_is(tag, "p"))
			bit = 1;
		else if (span_case_is(tag, "sp"))
			bit = 2;
		else if (span_case_is(tag, "pct"))
			bit = 4;
		else if (span_case_is(tag, "adkim"))
			bit = 8;
		else if (span_case_is(tag, "aspf"))
			bit = 16;
		else if (span_case_is(tag, "rua"))
			bit = 32;
		else if (span_case_is(tag, "fo"))
			bit = 64;
		else if (span_case_is(tag, "ri"))
			bit = 128;
		if (bit == 0 || (seen & bit))
			continue; /* unknown (ruf, rf, future) or repeated */
		seen |= bit;
		switch (bit) {
		case 1: {
			int p = policy_of(val);

			seen_p = true;
			if (p < 0)
				p_bad = true;
			else
				r->p = p;
			break;
		}
		case 2: {
			int p = policy_of(val);

			if (p < 0)
				sp_bad = true;
			else {
				r->sp = p;
				sp_set = true;
			}
			break;
		}
		case 4: {
			int64_t v = number(val, 100);

			if (v >= 0 && v <= 100)
				r->pct = (unsigned)v;
			break;
		}
		case 8:
		case 16:
			if (span_case_is(val, "s") || span_case_is(val, "r")) {
				bool strict = (val.p[0] | 0x20) == 's';

				if (bit == 8)
					r->adkim_strict = strict;
				else
					r->aspf_strict = strict;
			}
			break;
		case 32:
			rua_ok = parse_rua(val, r);
			break;
		case 64:
			if (fo_ok(val)) {
				memcpy(r->fo, val.p, val.n);
				r->fo[val.n] = '\0';
			}
			break;
		case 128: {
			int64_t v = number(val, UINT32_MAX);

			if (v >= 0 && v <= (int64_t)UINT32_MAX)
				r->ri = (uint32_t)v;
			break;
		}
		}
	}
	if (first)
		return DMARC_REC_NOT;
	if (!seen_p || p_bad || sp_bad) {
		/* §6.6.3: act as p=none when a report address is usable */
		if (!rua_ok)
			return DMARC_REC_INVALID;
		r->p = DMARC_P_NONE;
		r->p_invalid = true;
		sp_set = false;
	}
	if (!sp_set)
		r->sp = r->p;
	return DMARC_REC_OK;
}
