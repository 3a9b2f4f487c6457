/*
 * The autodiscover request scanner: finds the EMailAddress element of a
 * POX request without an XML parser (no DTDs, no entities), bounded.
 * Pure, so the fuzz harness runs it alone.
 */
#include <string.h>

#include "ex.h"

#define AD_BODY_MAX (64 * 1024)

/* 0 with the trimmed address in out, -1 when absent or malformed */
int ex_autodiscover_email(const char *body, size_t len, char *out, size_t outsz)
{
	static const char tag[] = "EMailAddress>";
	size_t i, s, e, n;

	if (len > AD_BODY_MAX)
		return -1;
	for (i = 0; i + sizeof(tag) - 1 <= len; i++) {
		/* "<EMailAddress>" or a prefixed "<a:EMailAddress>" */
		if (body[i] != '<' || (i + 1 < len && body[i + 1] == '/'))
			continue;
		s = i + 1;
		while (s < len && s - i < 32 && body[s] != '>' &&
		       body[s] != ':' && body[s] != '<')
			s++;
		if (s < len && body[s] == ':')
			s++;
		else
			s = i + 1;
		if (len - s < sizeof(tag) - 1 ||
		    memcmp(body + s, tag, sizeof(tag) - 1) != 0)
			continue;
		s += sizeof(tag) - 1;
		for (e = s; e < len && body[e] != '<'; e++)
			;
		if (e >= len)
			return -1;
		while (s < e && (body[s] == ' ' || body[s] == '\t' ||
				 body[s] == '\r' || body[s] == '\n'))
			s++;
		while (e > s && (body[e - 1] == ' ' || body[e - 1] == '\t' ||
				 body[e - 1] == '\r' || body[e - 1] == '\n'))
			e--;
		n = e - s;
		if (n == 0 || n >= outsz || n > RMAIL_ADDR_MAX ||
		    memchr(body + s, '@', n) == NULL)
			return -1;
		for (i = s; i < e; i++) {
			unsigned char c = (unsigned char)body[i];

			if (c <= ' ' || c == '&' || c == '"' || c == '\'' ||
			    c == '>' || c == 0x7f)
				return -1;
		}
		memcpy(out, body + s, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}
