/*
 * The METADATA file's grammar (ss_meta.h), pure so that it can be
 * fuzzed: a file another process half wrote is never seen (writers
 * rename), so anything that does not parse is corruption.
 */
#include <string.h>

#include "ss_meta.h"

/* a decimal without leading zeros up to `end`; -1 when none */
static int num(const char **p, const char *end, char stop, size_t *v_r)
{
	const char *s = *p;
	size_t v = 0;

	if (s >= end || *s < '0' || *s > '9' ||
	    (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9'))
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		if (v > (SS_META_FILE_MAX) / 10)
			return -1;
		v = v * 10 + (size_t)(*s - '0');
		s++;
	}
	if (s >= end || *s != stop)
		return -1;
	*p = s + 1;
	*v_r = v;
	return 0;
}

int ss_meta_parse(const char *buf, size_t len, ss_meta_cb cb, void *arg)
{
	const size_t ml = sizeof(SS_META_MAGIC) - 1;
	const char *p = buf, *end = buf + len, *prev = NULL;
	size_t prevlen = 0;

	if (len == 0)
		return 0;
	if (len < ml || memcmp(buf, SS_META_MAGIC, ml) != 0)
		return -1;
	p += ml;
	while (p < end) {
		size_t nlen, vlen;
		const char *name;
		int c;

		if (num(&p, end, ' ', &nlen) < 0 ||
		    num(&p, end, '\n', &vlen) < 0)
			return -1;
		if (nlen == 0 || nlen > RMAIL_META_NAME_MAX ||
		    (size_t)(end - p) < nlen + 1 ||
		    (size_t)(end - p) - nlen - 1 < vlen)
			return -1;
		name = p;
		if (memchr(name, '\0', nlen) != NULL ||
		    name[nlen + vlen] != '\n')
			return -1;
		if (prev != NULL) {
			c = memcmp(prev, name, prevlen < nlen ? prevlen : nlen);
			if (c > 0 || (c == 0 && prevlen >= nlen))
				return -1;
		}
		if (cb != NULL && cb(arg, name, nlen, name + nlen, vlen) != 0)
			return -1;
		prev = name;
		prevlen = nlen;
		p += nlen + vlen + 1;
	}
	return 0;
}
