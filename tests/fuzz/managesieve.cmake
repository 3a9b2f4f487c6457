# mod_managesieve's command parser: atoms, quoted strings, literals.
rmail_fuzz(managesieve_cmd
  SOURCES tests/fuzz/fuzz_managesieve_cmd.c modules/managesieve/ms_parse.c
  INCLUDES modules/managesieve)
