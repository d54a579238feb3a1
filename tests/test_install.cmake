# SPDX-License-Identifier: MIT
# The "install" test: `cmake --install` the build into a fresh prefix, then
# compile tests/test_install/prog.c against that prefix with nothing but
# `pkg-config --cflags --libs tulip` (PKG_CONFIG_PATH pointing into it), and
# run it, once linked statically (--static, which adds Libs.private) and once
# against the shared library (found through an rpath to the prefix).
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DCC=... -P test_install.cmake
set(prefix ${BUILD_DIR}/install-test)
file(REMOVE_RECURSE ${prefix})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR}
                        --prefix ${prefix}
                OUTPUT_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
file(GLOB_RECURSE pc ${prefix}/*/tulip.pc)
if(NOT pc)
  message(FATAL_ERROR "no tulip.pc under ${prefix}")
endif()
get_filename_component(pcdir ${pc} DIRECTORY)
get_filename_component(libdir ${pcdir} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pcdir})
# Only what the prefix holds: no system or build-tree copy may satisfy it.
set(ENV{PKG_CONFIG_LIBDIR} ${pcdir})

foreach(kind static shared)
  if(kind STREQUAL "static")
    set(pcargs --static --cflags --libs tulip)
  else()
    set(pcargs --cflags --libs tulip)
  endif()
  execute_process(COMMAND pkg-config ${pcargs} OUTPUT_VARIABLE flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config ${pcargs} failed (${rc})")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(exe ${prefix}/prog-${kind})
  if(kind STREQUAL "static")
    # The archive, not the .so next to it: link it by its full name.
    list(TRANSFORM flags REPLACE "^-ltulip$" "${libdir}/libtulip.a")
    set(extra)
  else()
    set(extra -Wl,-rpath,${libdir})
  endif()
  execute_process(COMMAND ${CC} -std=c11 -Wall -Werror
                          ${SOURCE_DIR}/tests/test_install/prog.c
                          ${flags} ${extra} -o ${exe}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${kind}: ${CC} ${flags} failed:\n${err}")
  endif()
  execute_process(COMMAND ${exe} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL "installed tulip works\n")
    message(FATAL_ERROR "${kind}: ${exe} exited with ${rc}: ${out}")
  endif()
  list(JOIN flags " " shown)
  message(STATUS "${kind}: ${shown} ${extra}: ok")
endforeach()
# The shared program must really use the installed .so.
execute_process(COMMAND ldd ${prefix}/prog-shared OUTPUT_VARIABLE deps)
if(NOT deps MATCHES "${libdir}/libtulip\\.so")
  message(FATAL_ERROR "prog-shared does not load ${libdir}/libtulip.so:\n${deps}")
endif()
file(REMOVE_RECURSE ${prefix})
