/*
 * A loopback milter for the benches: protocol 6, every step answered
 * "continue" at once, accept at the end of message; with add_header
 * it first adds one header field, so the edit path (the spool rewrite)
 * is in the figure.  A thread per connection; SMFIC_QUIT_NC keeps the
 * connection for the next session.
 */
#ifndef MILTER_STUB_H
#define MILTER_STUB_H

#include <stdbool.h>

/* listens on 127.0.0.1, returns the port; exits on failure */
unsigned milter_stub_start(bool add_header);

#endif
