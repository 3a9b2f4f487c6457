# The GLib fake core (tests/support/fake_core.c) as a static library that
# unit tests of any module include() and link as rmail_fake_core.
include_guard(GLOBAL)
if(NOT TARGET rmail_fake_core)
  add_library(rmail_fake_core STATIC
              ${PROJECT_SOURCE_DIR}/tests/support/fake_core.c
              ${PROJECT_SOURCE_DIR}/tests/support/fake_conn.c
              ${PROJECT_SOURCE_DIR}/tests/support/fake_services.c
              ${PROJECT_SOURCE_DIR}/core/net/linebuf.c
              ${PROJECT_SOURCE_DIR}/core/text/casemap.c
              ${PROJECT_SOURCE_DIR}/core/text/casemap_table.c)
  target_include_directories(rmail_fake_core PUBLIC
                             ${PROJECT_SOURCE_DIR}/tests/support
                             ${PROJECT_SOURCE_DIR}/include)
  # the core's one dispatch of protocol handlers (header only) and its
  # line scanner (pure, as the line_reader fuzz harness links it)
  target_include_directories(rmail_fake_core PRIVATE ${PROJECT_SOURCE_DIR}/core)
  target_link_libraries(rmail_fake_core PUBLIC PkgConfig::GLIB)
endif()
