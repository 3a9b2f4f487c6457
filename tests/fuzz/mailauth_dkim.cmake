# DKIM's parsers of hostile input: the DKIM-Signature tag-list and the
# key record from DNS (core/mailauth/dkim_tags.c).
rmail_fuzz(dkim_sig
  SOURCES tests/fuzz/fuzz_dkim_sig.c core/mailauth/dkim_tags.c
          core/base64.c
  INCLUDES core core/mailauth)
rmail_fuzz(dkim_keyrec
  SOURCES tests/fuzz/fuzz_dkim_keyrec.c core/mailauth/dkim_tags.c
          core/base64.c
  INCLUDES core core/mailauth)
