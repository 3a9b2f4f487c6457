/*
 * The one name encoding of docs/storage.md: any byte string becomes a
 * single safe path component, reversibly and canonically.  Pure code
 * (fuzzed) apart from ss_openat.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ss.h"

#define SS_NAME_MAX 255

static int is_plain(unsigned char c, size_t pos)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	if (c == '.')
		return pos != 0;
	return c != '\0' && strchr("-_+,=@ ", c) != NULL;
}

/* Length of a well-formed UTF-8 sequence of a code point >= U+00A0 at
 * s (at most n bytes), else 0: the C1 controls are escaped like C0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = rmail_utf8_seq(s, n);

	if (len < 2 || (s[0] == 0xc2 && s[1] < 0xa0))
		return 0;
	return len;
}

int ss_name_encode(const char *name, size_t len, char *out, size_t outsz,
		   struct rmail_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0, o = 0, k;

	if (len == 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "empty name");
	while (i < len) {
		if (is_plain(s[i], i)) {
			k = 1;
		} else if (s[i] >= 0x80 && (k = utf8_seq(s + i, len - i)) > 0) {
			;
		} else {
			if (o + 3 >= outsz || o + 3 > SS_NAME_MAX)
				goto toolong;
			out[o++] = '%';
			out[o++] = hex[s[i] >> 4];
			out[o++] = hex[s[i] & 15];
			i++;
			continue;
		}
		if (o + k >= outsz || o + k > SS_NAME_MAX)
			goto toolong;
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return 0;
toolong:
	return rmail_err_set(err, RMAIL_E_INVAL, "name too long");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ss_name_decode(const char *enc, char *out, size_t outsz,
		   struct rmail_err *err)
{
	const unsigned char *s = (const unsigned char *)enc;
	char again[SS_NAME_MAX + 1];
	size_t len = strlen(enc), i = 0, o = 0;

	if (len == 0 || len > SS_NAME_MAX)
		goto bad;
	while (i < len) {
		if (o + 1 >= outsz)
			goto bad;
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				goto bad;
			hi = hexval((char)s[i + 1]);
			lo = hexval((char)s[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			out[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else if (s[i] >= 0x80 || is_plain(s[i], 1)) {
			out[o++] = (char)s[i++];
		} else {
			goto bad;
		}
	}
	out[o] = '\0';
	/* only the encoder's own output is accepted: one name, one form */
	if (ss_name_encode(out, o, again, sizeof(again), NULL) < 0 ||
	    strcmp(again, enc) != 0)
		goto bad;
	return 0;
bad:
	if (outsz > 0)
		out[0] = '\0';
	return rmail_err_set(err, RMAIL_E_INVAL, "not a canonical name");
}

int ss_openat(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	if (flags & (O_CREAT | O_TMPFILE))
		how.mode = mode;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	do {
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	} while (fd < 0 && errno == EINTR);
	return (int)fd;
}

int ss_user_dir(const char *canon_address, char *out, size_t outsz,
		struct rmail_err *err)
{
	char l[SS_NAME_MAX + 1], d[SS_NAME_MAX + 1];
	const char *at = strrchr(canon_address, '@');
	int n;

	if (at == NULL || at == canon_address || at[1] == '\0')
		return rmail_err_set(err, RMAIL_E_INVAL, "bad address");
	if (ss_name_encode(canon_address, (size_t)(at - canon_address), l,
			   sizeof(l), err) < 0 ||
	    ss_name_encode(at + 1, strlen(at + 1), d, sizeof(d), err) < 0)
		return -1;
	n = snprintf(out, outsz, "domains/%s/users/%s", d, l);
	if (n < 0 || (size_t)n >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "address too long");
	return 0;
}
