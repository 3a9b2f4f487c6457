/*
 * JSON helpers without core dependencies, so the fuzz harness can run
 * them alone: strict body loading, request address values, flags and
 * dates.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ex.h"

#define EX_JSON_DEPTH_MAX 32

/* jansson recurses per nesting level: bound the depth before parsing */
static int depth_ok(const char *d, size_t n)
{
	size_t i, depth = 0;
	int in_str = 0, esc = 0;

	for (i = 0; i < n; i++) {
		char c = d[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > EX_JSON_DEPTH_MAX)
				return 0;
		} else if ((c == '}' || c == ']') && depth > 0)
			depth--;
	}
	return 1;
}

json_t *ex_json_load(const char *data, size_t len)
{
	json_error_t e;

	if (data == NULL || !depth_ok(data, len))
		return NULL;
	/* duplicate keys are ambiguous between parsers: refuse them */
	return json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
}

int ex_str_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

static int addr_ok(const char *a, size_t n)
{
	const char *at;
	size_t i;

	if (n == 0 || n > RMAIL_ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' ||
		    c == '"' || c == '(' || c == ')' || c == ';' || c == '\\')
			return 0;
	}
	at = strrchr(a, '@');
	return at != NULL && at != a && at[1] != '\0' &&
	       memchr(a, '@', (size_t)(at - a)) == NULL;
}

int ex_json_addr(const json_t *v, const char **name_r, const char **addr_r)
{
	const json_t *a = v, *nm = NULL;

	*name_r = NULL;
	if (json_is_object(v)) {
		a = json_object_get(v, "address");
		nm = json_object_get(v, "name");
		if (nm != NULL && !json_is_null(nm)) {
			if (!json_is_string(nm) ||
			    strlen(json_string_value(nm)) !=
				    json_string_length(nm) ||
			    !ex_str_safe(json_string_value(nm)) ||
			    json_string_length(nm) > 256)
				return -1;
			*name_r = json_string_value(nm);
		}
	}
	if (!json_is_string(a))
		return -1;
	/* an embedded NUL hides the rest of the string from C */
	if (strlen(json_string_value(a)) != json_string_length(a) ||
	    !addr_ok(json_string_value(a), json_string_length(a)))
		return -1;
	*addr_r = json_string_value(a);
	return 0;
}

void ex_rfc3339(int64_t t, char *buf, size_t sz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const struct {
	const char *name;
	uint32_t flag;
} sysflags[] = {
	{"\\Seen", RMAIL_F_SEEN},	{"\\Answered", RMAIL_F_ANSWERED},
	{"\\Flagged", RMAIL_F_FLAGGED}, {"\\Deleted", RMAIL_F_DELETED},
	{"\\Draft", RMAIL_F_DRAFT},
};

/* 1 system flag, 0 keyword, -1 invalid */
int ex_flag_from_str(const char *s, uint32_t *flag_r)
{
	size_t i, n = strlen(s);

	for (i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]); i++)
		if (strcasecmp(s, sysflags[i].name) == 0) {
			*flag_r = sysflags[i].flag;
			return 1;
		}
	if (n == 0 || n > 64 || s[0] == '\\')
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* IMAP atom characters only */
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return -1;
	}
	return 0;
}

json_t *ex_flags_json(uint32_t flags, uint64_t kw, const char *const *names,
		      size_t nnames)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]); i++)
		if (flags & sysflags[i].flag)
			json_array_append_new(a, json_string(sysflags[i].name));
	for (i = 0; i < nnames && i < 64; i++)
		if (kw & ((uint64_t)1 << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

const char *ex_special_use_str(uint32_t su)
{
	switch (su) {
	case RMAIL_SU_SENT:
		return "\\Sent";
	case RMAIL_SU_DRAFTS:
		return "\\Drafts";
	case RMAIL_SU_TRASH:
		return "\\Trash";
	case RMAIL_SU_JUNK:
		return "\\Junk";
	case RMAIL_SU_ARCHIVE:
		return "\\Archive";
	case RMAIL_SU_ALL:
		return "\\All";
	case RMAIL_SU_FLAGGED:
		return "\\Flagged";
	default:
		return NULL;
	}
}
