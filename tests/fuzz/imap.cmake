# IMAP: the command parser in each session state, and the mUTF-7 codec.
set(_imap_srcs modules/imap/imap_parser.c modules/imap/imap_fetch.c
    modules/imap/imap_search.c modules/imap/imap_seqset.c)
foreach(_state noauth auth selected)
  rmail_fuzz(imap_cmd_${_state}
    SOURCES tests/fuzz/fuzz_imap_cmd_${_state}.c ${_imap_srcs}
    INCLUDES modules/imap tests/fuzz)
endforeach()
rmail_fuzz(imap_mutf7
  SOURCES tests/fuzz/fuzz_imap_mutf7.c modules/imap/mutf7.c
  INCLUDES modules/imap)
