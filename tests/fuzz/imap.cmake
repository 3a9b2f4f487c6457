# IMAP: the command parser in each session state (with the SEARCH, FETCH,
# sequence-set and LIST argument parsers), and the mUTF-7 codec.
set(_imap_srcs modules/imap/imap_parser.c modules/imap/imap_fetch.c
    modules/imap/imap_search.c modules/imap/imap_seqset.c
    modules/imap/imap_esearch.c modules/imap/imap_listargs.c)
foreach(_state noauth auth selected)
  rmail_fuzz(imap_cmd_${_state}
    SOURCES tests/fuzz/fuzz_imap_cmd_${_state}.c ${_imap_srcs}
    INCLUDES modules/imap tests/fuzz)
endforeach()
# ESEARCH/SEARCHRES: RETURN options, the ESEARCH line, "$" contents.
rmail_fuzz(imap_esearch
  SOURCES tests/fuzz/fuzz_imap_esearch.c modules/imap/imap_esearch.c
          modules/imap/imap_parser.c modules/imap/imap_search.c
          modules/imap/imap_seqset.c
  INCLUDES modules/imap)
rmail_fuzz(imap_mutf7
  SOURCES tests/fuzz/fuzz_imap_mutf7.c modules/imap/mutf7.c
  INCLUDES modules/imap)
# The message summary (ENVELOPE/BODYSTRUCTURE/sections) over the core
# MIME parser, and the SEARCH case mapping.
rmail_fuzz(imap_bodystruct
  SOURCES tests/fuzz/fuzz_imap_bodystruct.c modules/imap/imap_bodystruct.c
          modules/imap/imap_bsparam.c modules/imap/imap_binary.c
          modules/imap/imap_preview.c modules/imap/imap_threadid.c
          modules/imap/imap_casemap.c core/text/casemap.c
          core/text/casemap_table.c
          core/mime/mime_parse.c core/mime/mime_header.c core/mime/mime_addr.c
          core/mime/mime_decode.c core/base64.c core/pool.c core/log.c
  INCLUDES modules/imap core)
# The RFC 7162 parameters: SELECT (CONDSTORE/QRESYNC), FETCH and STORE
# modifiers, SEARCH MODSEQ.
rmail_fuzz(imap_modseq
  SOURCES tests/fuzz/fuzz_imap_modseq.c modules/imap/imap_parser.c
          modules/imap/imap_modseq.c modules/imap/imap_seqset.c
          modules/imap/imap_search.c
  INCLUDES modules/imap)
# SORT/THREAD (RFC 5256): the command grammar, then sorting and
# threading of messages made from the rest of the input.
rmail_fuzz(imap_sort
  SOURCES tests/fuzz/fuzz_imap_sort.c modules/imap/imap_sort.c
          modules/imap/imap_parser.c modules/imap/imap_esearch.c
          modules/imap/imap_search.c modules/imap/imap_seqset.c
          modules/imap/imap_casemap.c core/text/casemap.c
          core/text/casemap_table.c
          modules/imap/imap_bodystruct.c modules/imap/imap_bsparam.c
          modules/imap/imap_preview.c modules/imap/imap_threadid.c
  INCLUDES modules/imap core)
# METADATA (RFC 5464): GETMETADATA options and entries, SETMETADATA
# entry/value lists, entry-name rules, DEPTH matching.
rmail_fuzz(imap_metadata
  SOURCES tests/fuzz/fuzz_imap_metadata.c modules/imap/imap_metadata.c
          modules/imap/imap_parser.c
  INCLUDES modules/imap)
# THREADID (RFC 8474): the thread root from Message-ID, References and
# In-Reply-To, checked against the ids THREAD REFERENCES links by.
rmail_fuzz(imap_threadid
  SOURCES tests/fuzz/fuzz_imap_threadid.c modules/imap/imap_threadid.c
          modules/imap/imap_sort.c modules/imap/imap_parser.c
          modules/imap/imap_search.c modules/imap/imap_seqset.c
          modules/imap/imap_casemap.c core/text/casemap.c
          core/text/casemap_table.c
          modules/imap/imap_bodystruct.c modules/imap/imap_bsparam.c
          modules/imap/imap_preview.c
  INCLUDES modules/imap core)
