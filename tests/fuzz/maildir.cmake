# Maildir++ names and metadata files of rmail import/export.
rmail_fuzz(maildir
  SOURCES tests/fuzz/fuzz_maildir.c cli/migrate/maildir.c
  INCLUDES cli)
