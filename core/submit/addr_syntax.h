/* RFC 5321 address syntax: pure, no core dependencies (fuzzed alone). */
#ifndef RM_ADDR_SYNTAX_H
#define RM_ADDR_SYNTAX_H

#include <stdbool.h>

/* RFC 5321 syntax of local@domain; "" and "postmaster" are not */
bool rm_addr_valid(const char *addr);

#endif
