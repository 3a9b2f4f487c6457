# mod_shardstore: the name encoder (round trip, safety) and the message
# file-name parser (strictness, canonical re-formatting).
rmail_fuzz(ss_names SOURCES tests/fuzz/fuzz_ss_names.c
           modules/shardstore/names.c INCLUDES modules/shardstore)
rmail_fuzz(ss_fname SOURCES tests/fuzz/fuzz_ss_fname.c
           INCLUDES modules/shardstore)
# The METADATA file (RFC 5464 entries of a mailbox or of the server).
rmail_fuzz(ss_meta SOURCES tests/fuzz/fuzz_ss_meta.c
           modules/shardstore/meta_parse.c INCLUDES modules/shardstore)
# mod_shardstore: the view snapshot reader (a damaged cache file is a
# rebuild, never a crash)
rmail_fuzz(ss_viewsnap SOURCES tests/fuzz/fuzz_ss_viewsnap.c
           modules/shardstore/snapfmt.c INCLUDES modules/shardstore)
