// SPDX-License-Identifier: MIT
/// @file bench_mpi.cpp
/// @brief Strong scaling of gfd::mpi::flow (a plain MPI program: one run of a few steps is the
///        measurement; benchmarks/mpi_scaling.sh runs it on 1 and 2 ranks side by side).
///
///   mpirun -np P bench_mpi [N] [steps] [d]
///
/// A KL(q||p) flow, Gaussian kernel, exact evaluator, fixed bandwidth, N = M particles and
/// targets split evenly. Rank 0 prints the time per step, the pair rate per rank, the time one
/// ring round's block takes to pass between two ranks here (MPI_Sendrecv of (N + M) d / P
/// doubles), and the cost model's crossover: per kernel-sum pass each rank computes
/// (N / P)(N + M) pairs and receives (N + M) d numbers in P rounds, so with a pair rate r per rank
/// and a network bandwidth B (bytes/s) and latency a, communication is hidden behind the sums
/// while one round's block of (N + M) d / P numbers arrives before the round's (N / P)(N + M) / P
/// pairs are summed: 8 (N + M) d / (P B) + a < N (N + M) / (P^2 r).
#include <gfd/mpi.hpp>
#include <gfd/toy.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// The largest P at which the round's transfer still fits under its sums (the model above), for
/// bandwidth b bytes/s and latency a seconds; P up to 1e7.
double crossover(double n, double m, double d, double r, double b, double a) {
  double p = 1;
  while (p < 1e7) {
    const double next = p * 1.25;
    const double comm = 8 * (n + m) * d / (next * b) + a, comp = n * (n + m) / (next * next * r);
    if (comm > comp) break;
    p = next;
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    const gfd::mpi::communicator comm;
    const long n = argc > 1 ? std::atol(argv[1]) : 20000;
    const long steps = argc > 2 ? std::atol(argv[2]) : 3;
    const long d = argc > 3 ? std::atol(argv[3]) : 2;
    const bool root = comm.rank() == 0;

    // The same clouds on every rank (seeded), each keeping its even share.
    std::mt19937_64 rng(7);
    const Eigen::MatrixXd y_all = gfd::toy::gaussian(d, n, rng).array() * 2.0;
    const Eigen::MatrixXd x_all = gfd::toy::gaussian(d, n, rng);
    const auto [ty0, ty1] = gfd::mpi::shard_range(n, comm.rank(), comm.size());
    const auto [tx0, tx1] = gfd::mpi::shard_range(n, comm.rank(), comm.size());
    const Eigen::MatrixXd y = y_all.middleCols(ty0, ty1 - ty0);
    Eigen::MatrixXd x = x_all.middleCols(tx0, tx1 - tx0);

    gfd::flow_options opt;
    opt.max_steps = steps;
    opt.bandwidth = gfd::bandwidth_schedule::fixed(0.3);
    opt.max_displacement = 0;
    const gfd::mpi::flow<> flow(comm, y, opt);
    MPI_Barrier(comm.get());
    const double t0 = now();
    const gfd::flow_report rep = flow.run(x, gfd::kl());
    MPI_Barrier(comm.get());
    const double per_step = (now() - t0) / static_cast<double>(rep.steps);
    // A KL step is one pass over the targets (n_local x M pairs) and one over the particles
    // (n_local x N) on each rank.
    const double pairs = static_cast<double>(tx1 - tx0) * 2.0 * static_cast<double>(n);
    const double rate = comm.sum(pairs / per_step) / comm.size();  // per rank

    // One ring round's block between neighbours, here.
    const long block = 2 * n * d / comm.size();
    std::vector<double> out(static_cast<std::size_t>(block), 1.0), in(out.size());
    double t_block = 0;
    if (comm.size() > 1) {
      const int next = (comm.rank() + 1) % comm.size(), prev = (comm.rank() + comm.size() - 1) % comm.size();
      const int reps = 20;
      MPI_Barrier(comm.get());
      const double t1 = now();
      for (int k = 0; k < reps; ++k)
        MPI_Sendrecv(out.data(), static_cast<int>(block), MPI_DOUBLE, next, 0, in.data(), static_cast<int>(block),
                     MPI_DOUBLE, prev, 0, comm.get(), MPI_STATUS_IGNORE);
      t_block = comm.max((now() - t1) / reps);
    }
    if (root) {
      std::printf("ranks %d  N = M = %ld  d = %ld  steps %ld: %.4f s/step, %.3g pairs/s per rank\n",
                  comm.size(), n, d, rep.steps, per_step, rate);
      if (comm.size() > 1)
        std::printf("  one ring block (%ld doubles) between ranks here: %.3g s (%.3g GB/s)\n", block,
                    t_block, 8.0 * static_cast<double>(block) / t_block / 1e9);
      const double nn = static_cast<double>(n), dd = static_cast<double>(d);
      std::printf("  cost model at this pair rate: communication starts to show past P =\n");
      const double links[][2] = {{1.25e9, 50e-6}, {12.5e9, 2e-6}};
      const char* names[] = {"10 Gb/s Ethernet (1.25 GB/s, 50 us)", "100 Gb/s InfiniBand (12.5 GB/s, 2 us)"};
      for (const double big : {1e6, 1e7})
        for (int l = 0; l < 2; ++l)
          std::printf("    N = M = %.0e, %-40s %.3g ranks\n", big, names[l],
                      crossover(big, big, dd, rate, links[l][0], links[l][1]));
      std::printf("    N = M = %.0e (this run), %-32s %.3g ranks\n", nn, names[0],
                  crossover(nn, nn, dd, rate, links[0][0], links[0][1]));
    }
  }
  MPI_Finalize();
  return 0;
}
