# The tree's boundaries, checked at configure time so a change that
# crosses one fails the build instead of a review:
#  - a module (mod_*.so) sees only the public ABI: its include
#    directories hold nothing but include/, it links no core library,
#    and none of its sources includes a path with "..";
#  - the daemon's core (core/) never reaches into the commands (cli/)
#    or into a module's private headers.
# Runs after every add_subdirectory(), when target properties are final.
include_guard(GLOBAL)

set(_rm_public ${PROJECT_SOURCE_DIR}/include)

# The quoted #include lines of `src` that match `regex`, as a list.
function(_rm_bad_includes src regex out)
  file(STRINGS ${src} _lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  set(_bad "")
  foreach(_l IN LISTS _lines)
    if(_l MATCHES "${regex}")
      list(APPEND _bad "${_l}")
    endif()
  endforeach()
  set(${out} "${_bad}" PARENT_SCOPE)
endfunction()

function(rmail_check_boundaries)
  set(_errors "")
  get_property(_mods GLOBAL PROPERTY RMAIL_MODULE_TARGETS)
  foreach(_t IN LISTS _mods)
    get_target_property(_dirs ${_t} INCLUDE_DIRECTORIES)
    foreach(_d IN LISTS _dirs)
      if(_d AND NOT _d STREQUAL _rm_public)
        list(APPEND _errors "${_t}: include directory ${_d} (modules see include/ only)")
      endif()
    endforeach()
    get_target_property(_libs ${_t} LINK_LIBRARIES)
    foreach(_l IN LISTS _libs)
      if(_l MATCHES "^(rmcore|rmcli)$")
        list(APPEND _errors "${_t}: links ${_l} (modules reach the core through the services table)")
      endif()
    endforeach()
    get_target_property(_srcs ${_t} SOURCES)
    get_target_property(_sdir ${_t} SOURCE_DIR)
    foreach(_s IN LISTS _srcs)
      if(NOT IS_ABSOLUTE ${_s})
        set(_s ${_sdir}/${_s})
      endif()
      _rm_bad_includes(${_s} "\\.\\./" _bad)
      foreach(_b IN LISTS _bad)
        list(APPEND _errors "${_s}: ${_b}")
      endforeach()
    endforeach()
  endforeach()

  foreach(_t rmcore)
    get_target_property(_dirs ${_t} INCLUDE_DIRECTORIES)
    foreach(_d IN LISTS _dirs)
      if(_d MATCHES "^${PROJECT_SOURCE_DIR}/(cli|modules)(/|$)")
        list(APPEND _errors "${_t}: include directory ${_d}")
      endif()
    endforeach()
    get_target_property(_srcs ${_t} SOURCES)
    foreach(_s IN LISTS _srcs)
      # cli.h and cmd_store.h are the commands' headers; ".." reaches
      # into cli/ or a module
      _rm_bad_includes(${_s} "\\.\\./|\"(cli\\.h|cmd_store\\.h|diagnose/|migrate/)" _bad)
      foreach(_b IN LISTS _bad)
        list(APPEND _errors "${_s}: ${_b}")
      endforeach()
    endforeach()
  endforeach()

  if(_errors)
    list(JOIN _errors "\n  " _msg)
    message(FATAL_ERROR "rmail boundary check failed:\n  ${_msg}")
  endif()
endfunction()
