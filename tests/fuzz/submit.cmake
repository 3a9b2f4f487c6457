# The core submission service's parsers of untrusted input: recipient
# address syntax, the outbound SMTP client's reply reader and the DNS
# answers behind MX and A/AAAA look-ups.
rmail_fuzz(submit_addr
  SOURCES tests/fuzz/fuzz_submit_addr.c core/submit/addr_syntax.c
  INCLUDES core)
rmail_fuzz(submit_reply
  SOURCES tests/fuzz/fuzz_submit_reply.c core/submit/client_reply.c
  INCLUDES core)
rmail_fuzz(submit_dns
  SOURCES tests/fuzz/fuzz_submit_dns.c core/submit/mx_parse.c
  INCLUDES core
  LIBRARIES resolv)
# the outbound TLS policy: TLSA rdata and the TLS-Required header field
rmail_fuzz(submit_tls
  SOURCES tests/fuzz/fuzz_submit_tls.c core/submit/tls_parse.c
  INCLUDES core)
