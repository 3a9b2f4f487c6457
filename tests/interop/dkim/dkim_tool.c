/* The interop tests' handle on rmail's DKIM code (core/mailauth):
 *   dkim_tool verify MSG ZONE [NOW]   one line per signature:
 *       RESULT d=D s=S a=A full=0|1 reason
 *   dkim_tool sign MSG DOMAIN SELECTOR KEY.pem [SELECTOR KEY.pem]...
 *       the DKIM-Signature lines, then the message, on stdout
 * ZONE: one "NAME VALUE" per line, VALUE a TXT value, or NXDOMAIN,
 * NODATA, TEMP.  Verification starts from an empty cache and answers
 * what the verifier asks, as the daemon's driver will. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailauth/dkim.h"

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	do {
		if (n + 65536 > cap) {
			cap = (n + 65536) * 2;
			b = realloc(b, cap + 1);
		}
		got = fread(b + n, 1, 65536, f);
		n += got;
	} while (got > 0);
	fclose(f);
	b[n] = '\0';
	*len_r = n;
	return b;
}

struct zone {
	const char *path;
	struct ma_dns_cache *c;
};

static void answer(void *arg, const char *name, int type)
{
	struct zone *z = arg;
	FILE *f = fopen(z->path, "r");
	char line[16384];
	struct ma_rrset rs = {.rcode = MA_DNS_NXDOMAIN};
	struct ma_rr rr[8];

	(void)type;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');
		size_t l;

		line[strcspn(line, "\r\n")] = '\0';
		if (sp == NULL)
			continue;
		*sp++ = '\0';
		l = strlen(line);
		if (l > 0 && line[l - 1] == '.')
			line[l - 1] = '\0';
		if (strcasecmp(line, name) != 0)
			continue;
		if (strcmp(sp, "NXDOMAIN") == 0)
			rs.rcode = MA_DNS_NXDOMAIN;
		else if (strcmp(sp, "NODATA") == 0)
			rs.rcode = MA_DNS_NODATA;
		else if (strcmp(sp, "TEMP") == 0)
			rs.rcode = MA_DNS_TEMP;
		else if (rs.n < 8) {
			memset(&rr[rs.n], 0, sizeof(rr[0]));
			rr[rs.n].data = (unsigned char *)strdup(sp);
			rr[rs.n].len = strlen(sp);
			rs.n++;
			rs.rcode = MA_DNS_OK;
			rs.rr = rr;
		}
	}
	if (f != NULL)
		fclose(f);
	ma_dns_put(z->c, name, MA_T_TXT, &rs);
	for (size_t i = 0; i < rs.n; i++)
		free(rr[i].data);
}

static int verify(int argc, char **argv)
{
	struct zone z = {.path = argv[3], .c = ma_dns_cache_new(64)};
	struct dkim_verifier *v = dkim_verifier_new();
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	int64_t now = argc > 4 ? atoll(argv[4]) : (int64_t)time(NULL);
	size_t len, n = 0;
	char *msg = slurp(argv[2], &len);
	int rounds = 0;

	dkim_verifier_feed(v, msg, len);
	dkim_verifier_finish(v);
	while (dkim_verifier_eval(v, z.c, now, r, DKIM_MAX_SIGS, &n) ==
	       MA_PENDING) {
		if (++rounds > 4 || ma_dns_take_wanted(z.c, answer, &z) == 0)
			return 3;
	}
	if (n == 0)
		printf("none\n");
	for (size_t i = 0; i < n; i++)
		printf("%s d=%s s=%s a=%s full=%d %s\n",
		       dkim_result_name(r[i].result), r[i].d, r[i].s, r[i].a,
		       r[i].full_body ? 1 : 0, r[i].reason);
	dkim_verifier_free(v);
	ma_dns_cache_free(z.c);
	free(msg);
	return 0;
}

static int sign(int argc, char **argv)
{
	struct dkim_signkey *k[4];
	struct dkim_signer *s;
	size_t len, nk = 0;
	char *msg = slurp(argv[2], &len), *sig;

	for (int i = 4; i + 1 < argc && nk < 4; i += 2) {
		size_t pl;
		char *pem = slurp(argv[i + 1], &pl);

		k[nk] = dkim_signkey_load_pem(argv[3], argv[i], pem, pl);
		free(pem);
		if (k[nk] == NULL) {
			fprintf(stderr, "bad key %s\n", argv[i + 1]);
			return 2;
		}
		nk++;
	}
	s = dkim_signer_new((const struct dkim_signkey *const *)k, nk, NULL);
	dkim_signer_feed(s, msg, len);
	sig = dkim_signer_finish(s, (int64_t)time(NULL));
	if (sig == NULL)
		return 1;
	fputs(sig, stdout);
	fwrite(msg, 1, len, stdout);
	free(sig);
	dkim_signer_free(s);
	for (size_t i = 0; i < nk; i++)
		dkim_signkey_free(k[i]);
	free(msg);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "verify") == 0)
		return verify(argc, argv);
	if (argc >= 6 && strcmp(argv[1], "sign") == 0)
		return sign(argc, argv);
	fprintf(stderr, "usage: dkim_tool verify MSG ZONE [NOW] | "
			"sign MSG DOMAIN SELECTOR KEY.pem...\n");
	return 2;
}
