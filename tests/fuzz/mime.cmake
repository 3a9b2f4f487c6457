# The core MIME parser: structure, headers, RFC 2047/2231, addresses,
# transfer decodings and charsets (iconv is in libc).
rmail_fuzz(mime
  SOURCES tests/fuzz/fuzz_mime.c core/mime/mime_parse.c core/mime/mime_header.c
          core/mime/mime_addr.c core/mime/mime_decode.c core/base64.c core/pool.c
          core/log.c
  INCLUDES core)
# The 7-bit conversion for hops without 8BITMIME (it parses with the
# same code, then rewrites).
rmail_fuzz(mime_7bit
  SOURCES tests/fuzz/fuzz_mime_7bit.c core/mime/to7bit.c core/mime/mime_parse.c
          core/mime/mime_header.c core/mime/mime_addr.c core/mime/mime_decode.c
          core/base64.c core/pool.c core/log.c
  INCLUDES core)
