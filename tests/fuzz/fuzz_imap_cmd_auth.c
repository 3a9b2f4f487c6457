/* The IMAP command parser as configured in the auth session state. */
#define IMAP_FUZZ_STATE 1
#include "fuzz_imap_cmd.inc"
