// SPDX-License-Identifier: MIT
/// @file convert.cpp
/// @brief `gfd convert`: convert a point cloud between .csv and .npy (bit-exact).

#include "common.hpp"

#include <iostream>
#include <memory>
#include <utility>

namespace gfd_cli {
namespace {

int cmd_convert(const std::string& in, const std::string& out) {
  check_output(out, "output", false);
  check_distinct_files({{"input", in}}, {{"output", out}});
  const gfd::table t = read_cloud(in);
  gfd::write_points(out, t.points, t.columns);  // both formats hold float64 exactly
  std::cout << "wrote " << t.points.cols() << " points (d = " << t.points.rows() << ") from " << in
            << " to " << out << "\n";
  return exit_ok;
}

}  // namespace

command add_convert_command(CLI::App& app) {
  auto paths = std::make_shared<std::pair<std::string, std::string>>();
  auto* convert =
      app.add_subcommand("convert", "Convert a point cloud between .csv and .npy (bit-exact)");
  convert->add_option("input", paths->first, "Input (.csv or .npy)")->required();
  convert->add_option("output", paths->second, "Output (.csv or .npy)")->required();

  return {convert, [paths] { return cmd_convert(paths->first, paths->second); }};
}

}  // namespace gfd_cli
