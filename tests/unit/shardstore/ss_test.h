/* Shared fixture of the shardstore unit tests. */
#ifndef SS_TEST_H
#define SS_TEST_H

#include <glib.h>

#include "fake_core.h"
#include "ss_mbox.h"

#define SS_USER "alice@example.com"

struct ss_fx {
	char *dir;
	struct ss_store st;
};

void ss_fx_setup(struct ss_fx *fx, gconstpointer data);
void ss_fx_teardown(struct ss_fx *fx, gconstpointer data);
/* a second store instance on the same root (another "process") */
void ss_fx_open(const char *dir, struct ss_store *st);
uint32_t ss_t_append(struct ss_store *st, const char *mbox, const char *data,
		     uint32_t flags);
void ss_t_rmtree(const char *dir);

#endif
