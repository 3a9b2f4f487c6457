/* The IMAP command parser as configured in the selected session state. */
#define IMAP_FUZZ_STATE 2
#include "fuzz_imap_cmd.inc"
