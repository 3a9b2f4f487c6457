/*
 * RFC 5321 address syntax (Mailbox = Local-part "@" ( Domain /
 * address-literal )), kept free of I/O and of the rest of the core so
 * the fuzz harness can link it alone.
 */
#include <stdbool.h>
#include <string.h>

#include <rmail/store.h>

#include "addr_syntax.h"

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80 ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool local_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return false;
	if (s[0] == '"') {
		if (n < 2 || s[n - 1] != '"')
			return false;
		for (i = 1; i < n - 1; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\\') {
				if (++i >= n - 1 || s[i] < 32 || s[i] == 127)
					return false;
			} else if (c < 32 || c == 127 || c == '"') {
				return false;
			}
		}
		return true;
	}
	if (s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
		if (s[i] != '.' && !is_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool domain_valid(const char *s, size_t n)
{
	size_t i, lab = 0;

	if (n == 0 || n > 255)
		return false;
	if (s[0] == '[')
		return n > 2 && s[n - 1] == ']' &&
		       strspn(s + 1, "0123456789abcdefABCDEFIPv6:.") == n - 2;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
		    !(c >= '0' && c <= '9') && c != '-' && c < 0x80)
			return false;
		if (c == '-' && lab == 0)
			return false;
		if (++lab > 63)
			return false;
	}
	return lab > 0 && s[n - 1] != '-';
}

bool rm_addr_valid(const char *addr)
{
	const char *at;
	size_t n;

	if (addr == NULL)
		return false;
	n = strlen(addr);
	at = strrchr(addr, '@');
	if (n > RMAIL_ADDR_MAX || at == NULL)
		return false;
	return local_valid(addr, (size_t)(at - addr)) &&
	       domain_valid(at + 1, n - (size_t)(at - addr) - 1);
}
