# The core resolver's conversion of answers (rdata from the network)
# into the evaluators' records.
rmail_fuzz(dns_answer
  SOURCES tests/fuzz/fuzz_dns_answer.c core/dns/dns_rr.c
  INCLUDES core)
