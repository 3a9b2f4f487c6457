# The Sieve language library: lexer, parser, checker, interpreter.
rmail_fuzz(sieve
  SOURCES tests/fuzz/fuzz_sieve.c modules/sieve/sieve_arena.c
          modules/sieve/sieve_lex.c modules/sieve/sieve_parse.c
          modules/sieve/sieve_check.c modules/sieve/sieve_compile.c
          modules/sieve/sieve_match.c modules/sieve/sieve_addr.c
          modules/sieve/sieve_date.c modules/sieve/sieve_run.c
  INCLUDES modules/sieve)
