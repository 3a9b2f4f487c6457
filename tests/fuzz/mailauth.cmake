# Mail authentication parsers of untrusted input: the DMARC record
# (from DNS) and Authentication-Results fields (from the message).
rmail_fuzz(dmarc_record
  SOURCES tests/fuzz/fuzz_dmarc_record.c core/mailauth/dmarc_record.c
          core/tagval.c
  INCLUDES core)
rmail_fuzz(authres
  SOURCES tests/fuzz/fuzz_authres.c core/mailauth/authres_strip.c
          core/fdio.c
  INCLUDES core)
