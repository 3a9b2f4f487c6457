rmail_fuzz(line_reader SOURCES core/linebuf.c tests/fuzz/fuzz_line_reader.c
           INCLUDES core)
