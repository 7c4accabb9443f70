# SPDX-License-Identifier: MIT
# Builds and runs tests/consumer against gfd, as a downstream project would, then fails loudly.
#
# Usage: cmake -DMODE=find_package|add_subdirectory -DGFD_SOURCE_DIR=<gfd> -DWORK_DIR=<scratch>
#              -DCONSUMER_SOURCE_DIR=<gfd>/tests/consumer [-DGFD_VERSION=x.y.z] [-DGENERATOR=...]
#              [-DCXX_COMPILER=...] [-DCONFIG=Release] [-DPREFIX_PATH=a|b]
#              [-DEigen3_DIR=...] [-Dnanoflann_DIR=...] -P run_consumer.cmake
cmake_minimum_required(VERSION 3.20)

foreach(var MODE GFD_SOURCE_DIR WORK_DIR CONSUMER_SOURCE_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

# Start from nothing: a stale cache or a previous install would hide exactly the breakage
# (missing header in the install, wrong export) this test exists to catch.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Settings every nested configure shares, so it sees the same toolchain and dependencies as
# the outer build. They go through an initial-cache file (-C) because list values such as
# CMAKE_PREFIX_PATH do not survive a trip through a command line intact.
set(init_cache "${WORK_DIR}/init-cache.cmake")
set(init "set(CMAKE_BUILD_TYPE \"${CONFIG}\" CACHE STRING \"\")\n")
if(CXX_COMPILER)
  string(APPEND init "set(CMAKE_CXX_COMPILER \"${CXX_COMPILER}\" CACHE FILEPATH \"\")\n")
endif()
foreach(dep Eigen3_DIR nanoflann_DIR)
  if(${dep})
    string(APPEND init "set(${dep} \"${${dep}}\" CACHE PATH \"\")\n")
  endif()
endforeach()
string(REPLACE "|" ";" prefix_path "${PREFIX_PATH}")
set(common_args -C "${init_cache}")
if(GENERATOR)
  list(APPEND common_args -G "${GENERATOR}")
endif()

# run(<step> <command...>): runs a command, prints its output only if it fails.
function(run step)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer (${MODE}): ${step} failed (${rc})\n"
      "command: ${ARGN}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
  endif()
  message(STATUS "consumer (${MODE}): ${step} ok")
endfunction()

set(consumer_args -DGFD_CONSUMER_MODE=${MODE})
if(MODE STREQUAL "find_package")
  # Install gfd exactly as a packager would: tests etc. off, into a private prefix.
  set(prefix "${WORK_DIR}/prefix")
  file(WRITE "${init_cache}" "${init}set(CMAKE_PREFIX_PATH \"${prefix_path}\" CACHE STRING \"\")\n")
  run("configure gfd" ${CMAKE_COMMAND} -S "${GFD_SOURCE_DIR}" -B "${WORK_DIR}/gfd-build"
      ${common_args} "-DCMAKE_INSTALL_PREFIX=${prefix}"
      -DGFD_BUILD_TESTS=OFF -DGFD_BUILD_EXAMPLES=OFF -DGFD_BUILD_BENCHMARKS=OFF -DGFD_INSTALL=ON)
  run("install gfd" ${CMAKE_COMMAND} --install "${WORK_DIR}/gfd-build" --config ${CONFIG})
  list(PREPEND prefix_path "${prefix}")
  if(GFD_VERSION)
    list(APPEND consumer_args -DGFD_CONSUMER_VERSION=${GFD_VERSION})
  endif()
  # Never let the user package registry hand us some other gfd.
  list(APPEND consumer_args -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
elseif(MODE STREQUAL "add_subdirectory" OR MODE STREQUAL "subdirectory")
  set(consumer_args -DGFD_CONSUMER_MODE=subdirectory "-DGFD_SOURCE_DIR=${GFD_SOURCE_DIR}")
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()
# The consumer's view: the outer prefix path plus, in find_package mode, our fresh install.
string(APPEND init "set(CMAKE_PREFIX_PATH \"${prefix_path}\" CACHE STRING \"\")\n")
file(WRITE "${init_cache}" "${init}")

run("configure consumer" ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/consumer-build"
    ${common_args} ${consumer_args})

if(MODE STREQUAL "find_package")
  # Prove the consumer found the copy we just installed, not one from the system.
  file(STRINGS "${WORK_DIR}/consumer-build/CMakeCache.txt" gfd_dir_line REGEX "^gfd_DIR:")
  string(REGEX REPLACE "^gfd_DIR:[A-Z]+=" "" gfd_dir "${gfd_dir_line}")
  file(REAL_PATH "${prefix}" real_prefix)
  file(REAL_PATH "${gfd_dir}" real_gfd_dir)
  string(FIND "${real_gfd_dir}" "${real_prefix}/" pos)
  if(NOT pos EQUAL 0)
    message(FATAL_ERROR "consumer found gfd at '${gfd_dir}', not under '${prefix}'")
  endif()
endif()

run("build consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/consumer-build" --config ${CONFIG})

# Multi-config generators put the binary in a per-config subdirectory.
foreach(exe gfd_consumer gfd_generator_consumer gfd_native_consumer)
  find_program(${exe}_path ${exe}
    PATHS "${WORK_DIR}/consumer-build" "${WORK_DIR}/consumer-build/${CONFIG}" NO_DEFAULT_PATH)
  if(NOT ${exe}_path)
    message(FATAL_ERROR "consumer (${MODE}): ${exe} executable not found")
  endif()
  run("run ${exe}" "${${exe}_path}")
endforeach()
