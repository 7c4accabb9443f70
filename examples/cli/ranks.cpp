// SPDX-License-Identifier: MIT
/// @file ranks.cpp
/// @brief The MPI session of `mpirun -np P gfd drift` (ranks.hpp).

#include "ranks.hpp"

#include "common.hpp"

#include <gfd/error.hpp>

#include <cstdlib>
#include <exception>
#include <stdexcept>

#ifdef GFD_HAS_MPI
#include <mpi.h>
#endif

namespace gfd_cli {
namespace {

int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v != nullptr && *v != '\0') {
      char* end = nullptr;
      const long x = std::strtol(v, &end, 10);
      if (end != v && *end == '\0' && x >= 0 && x < (1L << 30)) return static_cast<int>(x);
    }
  return fallback;
}

rank_info& state() {
  static rank_info s;
  return s;
}

}  // namespace

int launcher_rank() { return env_int({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}, 0); }
int launcher_size() { return env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}, 1); }
const rank_info& ranks() { return state(); }

void start_mpi_if_launched() {
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
                        std::getenv("PMIX_RANK") != nullptr || std::getenv("PMI_SIZE") != nullptr;
  if (!launched || state().mpi) return;
#ifdef GFD_HAS_MPI
  // The kernel sums use OpenMP threads; only the main thread calls MPI.
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  state().mpi = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &state().rank);
  MPI_Comm_size(MPI_COMM_WORLD, &state().size);
  MPI_Comm node;  // the ranks sharing this machine, which share its cores
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &state().node_size);
  MPI_Comm_free(&node);
#else
  if (launcher_size() > 1)
    throw usage_error("launched on " + std::to_string(launcher_size()) +
                      " MPI ranks, but this gfd was built without MPI (install libopenmpi-dev and "
                      "configure again; CMake option GFD_MPI)");
#endif
}

void stop_mpi() {
#ifdef GFD_HAS_MPI
  if (state().mpi) {
    MPI_Finalize();
    state().mpi = false;
  }
#endif
}

void abort_ranks(int code) {
#ifdef GFD_HAS_MPI
  if (state().mpi && state().size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

void agree_on_ranks(const std::function<void()>& f) {
  if (!ranks().mpi || ranks().size == 1) {
    f();
    return;
  }
#ifdef GFD_HAS_MPI
  int kind = 0;  // 0 none, 1 usage_error, 2 gfd::invalid_argument, 3 gfd::numerical_error, 4 other
  std::string msg;
  try {
    f();
  } catch (const usage_error& e) {
    kind = 1, msg = e.what();
  } catch (const gfd::invalid_argument& e) {
    kind = 2, msg = e.what();
  } catch (const gfd::numerical_error& e) {
    kind = 3, msg = e.what();
  } catch (const std::exception& e) {
    kind = 4, msg = e.what();
  }
  const int size = ranks().size;
  int mine = kind != 0 ? ranks().rank : size, first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == size) return;
  long long n = static_cast<long long>(msg.size());
  MPI_Bcast(&kind, 1, MPI_INT, first, MPI_COMM_WORLD);
  MPI_Bcast(&n, 1, MPI_LONG_LONG, first, MPI_COMM_WORLD);
  msg.resize(static_cast<std::size_t>(n));
  if (n > 0) MPI_Bcast(msg.data(), static_cast<int>(n), MPI_CHAR, first, MPI_COMM_WORLD);
  if (first != 0) msg = "rank " + std::to_string(first) + ": " + msg;
  switch (kind) {
    case 1: throw usage_error(msg);
    case 2: throw gfd::invalid_argument(msg);
    case 3: throw gfd::numerical_error(msg);
    default: throw std::runtime_error(msg);
  }
#endif
}

std::string parallelism_note(int threads) {
  std::string s = ", " + std::to_string(threads) + " thread(s)";
  if (ranks().mpi)
    s += " per rank on " + std::to_string(ranks().size) + " MPI rank" + (ranks().size == 1 ? "" : "s");
  return s;
}

}  // namespace gfd_cli
