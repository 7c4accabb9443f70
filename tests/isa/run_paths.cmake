# SPDX-License-Identifier: MIT
# ctest isa_paths: runs the native and the portable build of paths_probe, then compares their
# results (1e-12 relative in double). Usage:
#   cmake -DNATIVE=<exe> -DPORTABLE=<exe> -DWORK_DIR=<dir> -P run_paths.cmake
foreach(var NATIVE PORTABLE WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_paths.cmake: -D${var}=... is required")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK_DIR}")
foreach(build NATIVE PORTABLE)
  execute_process(COMMAND "${${build}}" "${WORK_DIR}/${build}.bin" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "isa_paths: ${${build}} failed (${rc})")
  endif()
endforeach()
execute_process(COMMAND "${NATIVE}" --compare "${WORK_DIR}/NATIVE.bin" "${WORK_DIR}/PORTABLE.bin"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "isa_paths: the native and portable builds differ by more than 1e-12")
endif()
