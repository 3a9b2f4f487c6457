# Outbound transport security parsers of untrusted input: the MTA-STS
# policy file (HTTPS) and `_mta-sts` TXT record, and the TLS-RPT
# `_smtp._tls` record (DNS).
rmail_fuzz(mta_sts_policy
  SOURCES tests/fuzz/fuzz_mta_sts_policy.c core/submit/mta_sts_policy.c
          core/tagval.c
  INCLUDES core)
rmail_fuzz(tlsrpt_record
  SOURCES tests/fuzz/fuzz_tlsrpt_record.c core/submit/tlsrpt_record.c
          core/tagval.c
  INCLUDES core)
