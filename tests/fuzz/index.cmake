# The header cache and full-text index (core/index): what it keeps of a
# message, and its reader over whatever file it finds on disk.
rmail_fuzz(index_doc
  SOURCES tests/fuzz/fuzz_index_doc.c core/index/idx_doc.c
          core/index/idx_fold.c core/text/casemap.c core/text/casemap_table.c
          core/mime/mime_parse.c core/mime/mime_header.c core/mime/mime_addr.c
          core/mime/mime_decode.c core/base64.c core/pool.c core/log.c
  INCLUDES core)
pkg_check_modules(SQLITE3 IMPORTED_TARGET sqlite3)
pkg_check_modules(IDXFZ_ZLIB IMPORTED_TARGET zlib)
if(SQLITE3_FOUND AND IDXFZ_ZLIB_FOUND)
  # the readers, check-store's check and the writer's open and drops
  rmail_fuzz(index_db
    SOURCES tests/fuzz/fuzz_index_db.c core/index/idx_db.c
            core/index/idx_query.c core/index/idx_check.c
            core/index/idx_write.c core/index/idx_fold.c
            core/text/casemap.c core/text/casemap_table.c core/pool.c
            core/log.c
    INCLUDES core
    LIBRARIES PkgConfig::SQLITE3 PkgConfig::IDXFZ_ZLIB)
endif()
