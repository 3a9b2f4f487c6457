# mod_smtp's pure parsers: the command-line parser and the DATA/BDAT
# body state machine.
rmail_fuzz(smtp_cmd
  SOURCES tests/fuzz/fuzz_smtp_cmd.c modules/smtp/smtp_parser.c
          modules/smtp/smtp_reply.c
  INCLUDES modules/smtp)
rmail_fuzz(smtp_body
  SOURCES tests/fuzz/fuzz_smtp_body.c modules/smtp/smtp_body.c
  INCLUDES modules/smtp)
