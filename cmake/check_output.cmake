# SPDX-License-Identifier: MIT
# Run EXE and require that its standard output is exactly the file EXPECTED
# and that it exits 0. Used by the example tests. EMULATOR, when set, is the
# command (a list) that runs EXE, as qemu-aarch64 does in a cross build.
execute_process(COMMAND ${EMULATOR} ${EXE} OUTPUT_VARIABLE out
                ERROR_VARIABLE err RESULT_VARIABLE rc)
file(READ ${EXPECTED} want)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}\nstderr:\n${err}")
endif()
if(NOT out STREQUAL want)
  message(FATAL_ERROR "output differs\n--- expected\n${want}--- got\n${out}---")
endif()
