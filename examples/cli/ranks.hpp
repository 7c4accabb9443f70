// SPDX-License-Identifier: MIT
/// @file ranks.hpp
/// @brief `mpirun -np P gfd drift`: whether the tool was launched by an MPI launcher, the MPI
///        session of a drift run (started only then, so that a plain `gfd` never touches MPI),
///        and the agreement that makes every rank stop with the same message and exit code.
///
/// How a drift run is spread (drift.hpp): every rank parses the same command line and makes the
/// same checks of it; rank 0 alone reads the files, builds the problem, prints and writes; the
/// targets and the particles are scattered evenly (gfd::mpi::shard_range) and every rank runs
/// its share of gfd::mpi::flow; snapshots and the final particles are gathered on rank 0.
/// Failures before the flow are agreed (agree_on_ranks), those in the flow are agreed by
/// gfd::mpi::flow itself, and anything else on a rank calls MPI_Abort, so no rank waits forever.
#pragma once

#include <functional>
#include <string>

namespace gfd_cli {

/// The launcher's rank and size of this process (Open MPI's OMPI_COMM_WORLD_*, PMIx's, or
/// MPICH's PMI_* environment), read without MPI: rank 0 of 1 when not launched by mpirun.
int launcher_rank();
int launcher_size();
/// Whether this process prints: rank 0 of its launcher, or the only process.
[[nodiscard]] inline bool printing_rank() { return launcher_rank() == 0; }

/// This process's place in a drift run: rank 0 of 1 unless MPI was started.
struct rank_info {
  int rank = 0, size = 1;
  int node_size = 1;  ///< ranks on this machine
  bool mpi = false;  ///< MPI started: the run goes through gfd::mpi::flow, even on one rank
  [[nodiscard]] bool root() const { return rank == 0; }
};
[[nodiscard]] const rank_info& ranks();

/// Starts MPI when launched by mpirun (nothing otherwise). @throws usage_error when launched on
/// several ranks by a gfd built without MPI.
void start_mpi_if_launched();
/// MPI_Finalize if MPI was started (main's exit path).
void stop_mpi();
/// Ends every rank with exit code `code` (MPI_Abort), for a failure the other ranks cannot know.
[[noreturn]] void abort_ranks(int code);

/// Runs f on every rank; if it throws on any rank, every rank throws again the exception of the
/// lowest such rank, of the same kind (usage error, gfd::invalid_argument, gfd::numerical_error
/// or another), its message prefixed with "rank r: " when r is not 0. Collective; just f() on
/// one process.
void agree_on_ranks(const std::function<void()>& f);

/// ", 2 thread(s)" on one process, ", 1 thread(s) per rank on 3 MPI ranks" under mpirun.
[[nodiscard]] std::string parallelism_note(int threads);

}  // namespace gfd_cli
