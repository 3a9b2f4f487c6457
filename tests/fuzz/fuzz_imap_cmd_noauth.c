/* The IMAP command parser as configured in the noauth session state. */
#define IMAP_FUZZ_STATE 0
#include "fuzz_imap_cmd.inc"
