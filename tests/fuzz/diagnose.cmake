# rmail diagnose's parsers of what the server under test answers: HTTP
# responses (status, fields, chunked bodies) and IMAP literal markers.
rmail_fuzz(diag_http
  SOURCES tests/fuzz/fuzz_diag_http.c cli/diagnose/diag_parse.c
  INCLUDES core cli
  LIBRARIES PkgConfig::JANSSON)
