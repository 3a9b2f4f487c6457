rmail_fuzz(line_reader SOURCES core/net/linebuf.c tests/fuzz/fuzz_line_reader.c
           INCLUDES core)
