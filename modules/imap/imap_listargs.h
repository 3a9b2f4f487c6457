/*
 * LIST arguments (RFC 3501, RFC 5258 LIST-EXTENDED, RFC 5819
 * LIST-STATUS, RFC 6154 SPECIAL-USE): selection options, reference,
 * patterns and return options.  Pure, for the unit tests and the fuzzer;
 * imap_list.c runs the command.
 */
#ifndef IMAP_LISTARGS_H
#define IMAP_LISTARGS_H

#include "imap_parser.h"

enum imap_list_opt {
	IMAP_LIST_SEL_SUBSCRIBED = 1,
	IMAP_LIST_SEL_SPECIAL = 2,
	IMAP_LIST_RET_SPECIAL = 4,
	IMAP_LIST_RET_SUBSCRIBED = 8,
	IMAP_LIST_RET_STATUS = 16,
	IMAP_LIST_LSUB = 32,
	/* extended syntax used: extended data may be sent, "" is no
	 * delimiter request (RFC 5258 3) */
	IMAP_LIST_EXTENDED = 64,
	IMAP_LIST_SEL_RECURSIVE = 128,
};

struct imap_list_args {
	unsigned opts;
	const struct imap_arg *ref;	     /* an astring */
	const struct imap_arg *pats;	     /* a list-mailbox or a list */
	const struct imap_arg *status_items; /* RETURN (STATUS (...)) */
};

/* LIST's arguments; 0, or -1 with a static reason for BAD */
int imap_list_parse(const struct imap_arg *a, struct imap_list_args *r,
		    const char **error_r);

#endif
