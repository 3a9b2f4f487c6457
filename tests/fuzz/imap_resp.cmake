# IMAP responses of a hostile server (rmail import imap).
rmail_fuzz(imap_resp
  SOURCES tests/fuzz/fuzz_imap_resp.c cli/migrate/imap_resp.c
  INCLUDES cli/migrate)
