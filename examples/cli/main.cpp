// SPDX-License-Identifier: MIT
/// @file main.cpp
/// @brief The `gfd` command-line tool: drift particles toward a target (toy or point-cloud
///        file), sample toys, evaluate KDEs, compare point clouds, train and sample one-step
///        generators. Each command registers itself (common.hpp); main only dispatches and maps
///        errors to exit codes: 0 success, 1 the run failed, 2 bad usage or bad input.

#include "common.hpp"
#include "ranks.hpp"

#include <gfd/error.hpp>
#include <gfd/memory.hpp>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

namespace {

/// Ends the MPI session of `mpirun -np P gfd drift` on every way out of main (ranks.hpp).
struct mpi_session_end {
  mpi_session_end() = default;
  mpi_session_end(const mpi_session_end&) = delete;
  mpi_session_end& operator=(const mpi_session_end&) = delete;
  ~mpi_session_end() { gfd_cli::stop_mpi(); }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace gfd_cli;
  const mpi_session_end mpi_end;
  // Under mpirun every rank runs main; only rank 0 prints errors (they are the same on every
  // rank: the command line is, and gfd drift agrees on the others, ranks.hpp).
  auto error = [](const char* prefix, const std::string& what) {
    if (printing_rank()) std::cerr << prefix << what << "\n";
  };
#ifdef SIGXFSZ
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG, which the atomic writer
  // reports and cleans up after, instead of the signal killing the process and leaving its
  // temporary file behind.
  std::signal(SIGXFSZ, SIG_IGN);
#endif
  // Flows over millions of points free and reallocate O(N) buffers every step: keep them in the
  // heap rather than mapping them afresh (gfd/memory.hpp; 2.2x faster grid steps at N = 1e7, README "Grid evaluator").
  gfd::reuse_large_allocations();
  CLI::App app{
      "gfd: move particle clouds along Wasserstein gradient flows of KDE divergences.\n"
      "Exit codes: 0 success, 1 the run failed, 2 bad usage or input file."};
  app.require_subcommand(1);
  app.footer(
      "Run `gfd drift` with no options for a demo on the 8gaussians toy (writes gfd-drift.png).\n"
      "Toys: " +
      toy_list() + "\n");

  // In this order in --help.
  const std::vector<command> commands{add_drift_command(app),   add_sample_command(app),
                                      add_kde_command(app),     add_metrics_command(app),
                                      add_convert_command(app), add_train_command(app),
                                      add_generate_command(app)};

  // A mistyped command would otherwise be reported as "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string first = argv[1];
    bool known = false;
    std::string expected;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      const std::string& name = commands[i].app->get_name();
      known = known || name == first;
      expected += (i == 0 ? "" : i + 1 == commands.size() ? " or " : ", ") + name;
    }
    if (!known) {
      if (printing_rank())
        std::cerr << "gfd: unknown command " << gfd::detail::quoted_excerpt(first) << " (expected "
                << expected << ")\n"
                << "Run with --help for more information.\n";
      return exit_usage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11's message quotes the user's text: escaped and abbreviated like every other one.
    error("", printable(e.what()) + "\nRun with --help for more information.");
    return exit_usage;
  }
  if (launcher_size() > 1 && !commands.front().app->parsed()) {
    error("gfd: error: ", "launched on " + std::to_string(launcher_size()) +
                              " MPI ranks: only gfd drift runs across ranks; run this command as "
                              "one process");
    return exit_usage;
  }

  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const usage_error& e) {
    error("gfd: error: ", printable(e.what()));
    return exit_usage;
  } catch (const gfd::invalid_argument& e) {
    // Bad input: malformed or missing files (the message names the file, line and column).
    error("gfd: error: ", printable(e.what()));
    return exit_usage;
  } catch (const gfd::numerical_error& e) {
    error("gfd: the run failed: ", printable(e.what()));
    return exit_failure;
  } catch (const std::exception& e) {
    error("gfd: error: ", printable(e.what()));
    return exit_failure;
  }
  return exit_usage;
}
