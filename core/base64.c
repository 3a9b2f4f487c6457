/* RFC 4648 base64: the encoder, the strict decoder AUTH and tokens
 * use (hostile input), and the alphabet lookup the tolerant MIME
 * decoder in mime_decode.c shares.  No OpenSSL here, so parsers'
 * fuzz harnesses can link this file alone. */
#include "rm.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes a NUL-terminated encoding; returns its length, or 0 when out
 * is too small (then out is "" if outsz > 0). */
size_t rm_base64_encode(const void *in, size_t inlen, char *out, size_t outsz)
{
	const unsigned char *s = in;
	size_t need, o = 0;

	if (inlen > (SIZE_MAX - 1) / 4 * 3 - 3)
		goto small;
	need = (inlen + 2) / 3 * 4 + 1;
	if (outsz < need)
		goto small;
	for (size_t i = 0; i < inlen; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;

		if (i + 1 < inlen)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < inlen)
			v |= s[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < inlen ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < inlen ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
small:
	if (outsz > 0)
		out[0] = '\0';
	return 0;
}

int rm_base64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict: padded groups of four, no whitespace, padding only at the
 * end, zero pad bits.  -1 on bad input or when out is too small. */
int rm_base64_decode(const char *in, size_t inlen, void *out, size_t outsz,
		     size_t *outlen_r)
{
	unsigned char *d = out;
	size_t o = 0;

	*outlen_r = 0;
	if (inlen % 4 != 0)
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		int v[4], pad = 0;
		uint32_t w;

		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + j];

			if (c == '=' && i + 4 == inlen && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;
			v[j] = rm_base64_val(c);
			if (v[j] < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		if (o + 3 - (size_t)pad > outsz)
			return -1;
		d[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			d[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			d[o++] = (unsigned char)w;
	}
	*outlen_r = o;
	return 0;
}
