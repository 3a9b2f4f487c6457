# rmail_add_module(NAME SOURCES src...  [LIBRARIES lib...])
# Builds mod_NAME.so against the SDK headers alone: hidden visibility,
# no undefined symbols (a module reaches the core only through the
# services table), installed into the module directory.
include_guard(GLOBAL)

function(rmail_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;LIBRARIES" ${ARGN})
  set(tgt mod_${name})
  add_library(${tgt} MODULE ${M_SOURCES})
  # the tree's boundary check (cmake/Boundaries.cmake) walks this list
  set_property(GLOBAL APPEND PROPERTY RMAIL_MODULE_TARGETS ${tgt})
  set_target_properties(${tgt} PROPERTIES
    PREFIX ""
    OUTPUT_NAME mod_${name}
    C_STANDARD 11
    C_VISIBILITY_PRESET hidden)
  if(DEFINED RMAIL_MODULE_OUTPUT_DIR)
    set_target_properties(${tgt} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${RMAIL_MODULE_OUTPUT_DIR})
  endif()
  if(TARGET Rmail::SDK)
    target_link_libraries(${tgt} PRIVATE Rmail::SDK)
  else()
    target_include_directories(${tgt} PRIVATE ${RMAIL_SDK_INCLUDE_DIR})
  endif()
  if(NOT RMAIL_SANITIZE)
    target_link_options(${tgt} PRIVATE -Wl,--no-undefined)
  endif()
  if(M_LIBRARIES)
    target_link_libraries(${tgt} PRIVATE ${M_LIBRARIES})
  endif()
  if(DEFINED RMAIL_INSTALL_MODULEDIR)
    install(TARGETS ${tgt} LIBRARY DESTINATION ${RMAIL_INSTALL_MODULEDIR})
  endif()
endfunction()
