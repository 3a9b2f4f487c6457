/*
 * cli/migrate/maildir.c on hostile bytes: folder names (whatever decodes must
 * encode and decode back to the same mailbox), message file names,
 * dovecot-keywords, dovecot-uidlist, subscriptions and the store name
 * encoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/maildir.h"
#include <rmail/store.h>

/* a name given is one line's mailbox, and what encodes decodes back
 * (folder_decode lets raw non-ASCII through, which encode refuses) */
static void on_sub(void *arg, const char *mbox)
{
	static char enc[32768], dec[8192];
	size_t len = strlen(mbox);

	(void)arg;
	if (len == 0 || len > RMAIL_MBOX_NAME_MAX || strchr(mbox, '\n') != NULL)
		abort();
	if (strcmp(mbox, "INBOX") != 0 &&
	    rm_md_folder_encode(mbox, enc, sizeof(enc)) == 0 &&
	    (rm_md_folder_decode(enc, dec, sizeof(dec)) != 0 ||
	     strcmp(dec, mbox) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t records;

static void on_uid(void *arg, const char *base, size_t blen, uint32_t uid)
{
	(void)arg;
	if (blen == 0 || uid == 0 || memchr(base, '\n', blen) != NULL)
		abort();
	records++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[4097], a[8192], b[32768], c[8192];
	char *kw[RM_MD_KEYWORDS] = {0};
	struct rm_md_name nm;
	char info[40];
	size_t i;

	if (size > 4096)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';

	if (rm_md_folder_decode(in, a, sizeof(a)) == 0 &&
	    rm_md_folder_encode(a, b, sizeof(b)) == 0 &&
	    (rm_md_folder_decode(b, c, sizeof(c)) != 0 || strcmp(a, c) != 0))
		abort();
	if (rm_md_folder_encode(in, a, sizeof(a)) == 0 &&
	    (rm_md_folder_decode(a, c, sizeof(c)) != 0 || strcmp(in, c) != 0))
		abort();

	if (rm_md_name_parse(in, &nm) == 0) {
		if (nm.baselen == 0 || nm.baselen > size)
			abort();
		rm_md_info_format(nm.flags, nm.kwletters, info);
		if (strlen(info) > 3 + 5 + RM_MD_KEYWORDS)
			abort();
	}

	rm_md_keywords_parse((const char *)data, size, kw);
	for (i = 0; i < RM_MD_KEYWORDS; i++)
		free(kw[i]);
	(void)rm_md_subscriptions_parse((const char *)data, size, on_sub, NULL);
	records = 0;
	(void)rm_md_uidlist_parse((const char *)data, size, on_uid, NULL);
	(void)rm_md_uidlist_uidvalidity((const char *)data, size);

	if (rm_store_name_encode(in, strlen(in), a, sizeof(a)) == 0 &&
	    (a[0] == '\0' || a[0] == '.' || strchr(a, '/') != NULL))
		abort();
	return 0;
}
