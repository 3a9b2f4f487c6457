# SPF (core/mailauth): the record and macro parsers and the evaluator
# over a cache whose every TXT answer is the fuzzed record.
rmail_fuzz(spf
  SOURCES tests/fuzz/fuzz_spf.c core/mailauth/spf.c
          core/mailauth/spf_record.c core/mailauth/ma_dns.c
  INCLUDES core)
