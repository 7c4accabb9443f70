// SPDX-License-Identifier: MIT
// A downstream program using gfd::mpi: a KL flow over the ranks of MPI_COMM_WORLD.
#include <gfd/mpi.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 0;
  {
    const gfd::mpi::communicator comm;
    Eigen::MatrixXd y = Eigen::MatrixXd::Random(2, 40), x = Eigen::MatrixXd::Random(2, 30);
    gfd::flow_options opt;
    opt.max_steps = 3;
    const gfd::flow_report rep = gfd::mpi::flow<>(comm, y, opt).run(x, gfd::kl());
    if (rep.steps != 3 || !x.allFinite()) status = 1;
    if (comm.rank() == 0) std::printf("gfd::mpi consumer: %ld steps on %d rank(s)\n", rep.steps, comm.size());
  }
  MPI_Finalize();
  return status;
}
