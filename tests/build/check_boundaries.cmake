# ctest build_boundaries: configure tests/build/boundaries (a tree that
# crosses every boundary) and require the failure to name each crossing.
# cmake -DSRC=... -DBIN=... -P check_boundaries.cmake
file(REMOVE_RECURSE ${BIN})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "a tree crossing the boundaries configured:\n${all}")
endif()
foreach(want "mod_bad: include directory"
             "bad_module.c: #include \"../../../modules/"
             "bad_core.c: #include \"cli.h\"")
  string(FIND "${all}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "not reported: ${want}\n${all}")
  endif()
endforeach()
message(STATUS "every crossing reported")
