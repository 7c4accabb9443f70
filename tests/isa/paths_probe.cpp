// SPDX-License-Identifier: MIT
// Kernel sums of fixed, seeded clouds written to a binary file, to compare one build of gfd with
// another: this file is compiled twice (gfd::native, -march=native, and the portable x86-64
// baseline), and `paths_probe --compare A B` checks that both binaries' results agree to 1e-12
// relative in double (ctest isa_paths). Covers the small-d fused pass (d = 2 and d = 5), the
// large-d product pass (d = 20 and 600), three kernels, weights, self-exclusion and both fields.
#include <gfd/evaluators/exact.hpp>
#include <gfd/kernels.hpp>
#include <gfd/random.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

namespace {

Eigen::MatrixXd cloud(Eigen::Index d, Eigen::Index n, std::uint64_t seed) {
  gfd::rng_engine rng(seed);
  gfd::normal_source normal(rng);
  Eigen::MatrixXd x(d, n);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal();
  return x;
}

template <class K>
void sums_of(const K& k, Eigen::Index d, bool weighted, bool self, gfd::field_kind field,
             std::vector<double>& out) {
  const Eigen::Index m = 1500;
  const Eigen::MatrixXd y = cloud(d, m, 7 + static_cast<std::uint64_t>(d));
  const Eigen::MatrixXd x = self ? y : cloud(d, 200, 8);
  Eigen::VectorXd lw = Eigen::VectorXd::Constant(m, -std::log(double(m)));
  if (weighted) lw = cloud(m, 1, 9).col(0) * 0.3;
  const double h = (K::name == std::string_view("epanechnikov") ? 2.5 : 0.8) * std::sqrt(double(d));
  gfd::kernel_sums<double> s;
  gfd::exact_evaluator{}.prepare(y, lw, gfd::bound_kernel<K>(k, h)).sums(x, {.field = field, .exclude_self = self}, s);
  out.insert(out.end(), s.log_sum.data(), s.log_sum.data() + s.log_sum.size());
  out.insert(out.end(), s.field.data(), s.field.data() + s.field.size());
}

std::vector<double> all_sums() {
  std::vector<double> out;
  for (Eigen::Index d : {2, 5, 20, 600})
    for (bool weighted : {false, true})
      for (bool self : {false, true})
        for (auto field : {gfd::field_kind::score, gfd::field_kind::mean_shift}) {
          sums_of(gfd::gaussian{}, d, weighted, self, field, out);
          sums_of(gfd::laplacian{}, d, weighted, self, field, out);
          sums_of(gfd::epanechnikov{}, d, weighted, self, field, out);
        }
  return out;
}

std::vector<double> read(const char* path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<double> v;
  double x;
  while (f.read(reinterpret_cast<char*>(&x), sizeof x)) v.push_back(x);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--compare") == 0) {
    const std::vector<double> a = read(argv[2]), b = read(argv[3]);
    if (a.empty() || a.size() != b.size()) {
      std::printf("paths_probe: %zu and %zu values\n", a.size(), b.size());
      return 1;
    }
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::isinf(a[i]) || std::isinf(b[i])) {
        if (a[i] != b[i]) worst = INFINITY;
        continue;
      }
      worst = std::max(worst, std::abs(a[i] - b[i]) / (1 + std::abs(a[i])));
    }
    std::printf("paths_probe: %zu values, largest difference %.3g (relative to 1 + |value|)\n", a.size(), worst);
    return worst <= 1e-12 ? 0 : 1;
  }
  if (argc != 2) {
    std::printf("usage: paths_probe OUT.bin | paths_probe --compare A.bin B.bin\n");
    return 2;
  }
  const std::vector<double> v = all_sums();
  std::ofstream f(argv[1], std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
  return f ? 0 : 1;
}
