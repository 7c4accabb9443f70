// SPDX-License-Identifier: MIT
// Tests of include/gfd/registry.hpp: every name round-trips, unknown names throw with the list of
// valid ones, parameters are honoured, and a divergence by name moves particles exactly as the
// directly constructed one.
#include <gfd/registry.hpp>

#include "catch.hpp"
#include "util.hpp"

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace reg = gfd::registry;

namespace {

/// The message of the gfd::invalid_argument that `f` throws (fails the test if it throws none).
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const gfd::invalid_argument& e) {
    return e.what();
  }
  FAIL("no gfd::invalid_argument thrown");
  return {};
}

/// The message names the unknown name and lists every valid one.
void require_lists(const std::string& message, const std::string& bad,
                   const std::vector<std::string>& valid) {
  INFO(message);
  CHECK(message.find("unknown") != std::string::npos);
  CHECK(message.find("'" + bad + "'") != std::string::npos);
  for (const auto& n : valid) CHECK(message.find(n) != std::string::npos);
}

/// The velocity of `divergence` for particles x toward targets y (uniform weights), Gaussian
/// kernel, exact evaluator, bandwidth h.
template <class D>
Eigen::MatrixXd velocity(const D& divergence, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                         double h) {
  using problem = gfd::flow_problem<double, Eigen::Dynamic, gfd::gaussian, gfd::exact_evaluator>;
  const gfd::gaussian k;
  const gfd::exact_evaluator e;
  const Eigen::VectorXd log_w =
      Eigen::VectorXd::Constant(y.cols(), -std::log(static_cast<double>(y.cols())));
  const problem pb{x, y, log_w, k, e, h, 0.0};
  Eigen::MatrixXd v;
  divergence.velocity(pb, v, false);
  return v;
}

Eigen::MatrixXd registry_velocity(const std::string& name, const reg::divergence_parameters& p,
                                  const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, double h) {
  return reg::with_divergence(name, p, [&](const auto& d) { return velocity(d, x, y, h); });
}

}  // namespace

TEST_CASE("kernel names round-trip to a kernel of that name", "[registry][kernel]") {
  const std::vector<std::string> all = reg::kernel_names();
  CHECK(all == std::vector<std::string>{"gaussian", "laplacian", "epanechnikov", "imq",
                                        "geodesic-gaussian"});
  for (const auto& name : all) {
    const std::string got =
        reg::with_kernel(name, {}, [](const auto& k) { return std::string(k.name); });
    CHECK(got == name);
    CHECK_FALSE(reg::kernel_description(name).empty());
  }
  // The Euclidean set is the same minus the sphere's kernel, and rejects it.
  CHECK(reg::kernel_names<reg::euclidean_kernels>() ==
        std::vector<std::string>{"gaussian", "laplacian", "epanechnikov", "imq"});
  require_lists(message_of([] { (void)reg::make_kernel<reg::euclidean_kernels>("geodesic-gaussian"); }),
                "geodesic-gaussian", reg::kernel_names<reg::euclidean_kernels>());
  // The variant of the Euclidean set is the CLI's old std::variant, alternative for alternative.
  static_assert(std::is_same_v<reg::euclidean_kernels::variant,
                               std::variant<gfd::gaussian, gfd::laplacian, gfd::epanechnikov,
                                            gfd::inverse_multiquadric>>);
}

TEST_CASE("kernel parameters are honoured and checked", "[registry][kernel]") {
  const auto k = reg::make_kernel("imq", {.imq_beta = 2.25});
  REQUIRE(std::holds_alternative<gfd::inverse_multiquadric>(k));
  CHECK(std::get<gfd::inverse_multiquadric>(k).beta == 2.25);
  CHECK(std::get<gfd::inverse_multiquadric>(reg::make_kernel("imq")).beta ==
        gfd::inverse_multiquadric{}.beta);
  // Same profile as the directly constructed kernel.
  CHECK(std::get<gfd::inverse_multiquadric>(k).log_profile(0.7) ==
        gfd::inverse_multiquadric(2.25).log_profile(0.7));
  CHECK_THROWS_AS(reg::make_kernel("imq", {.imq_beta = -1.0}), gfd::invalid_argument);
  // Other kernels ignore the parameter.
  CHECK(std::holds_alternative<gfd::gaussian>(reg::make_kernel("gaussian", {.imq_beta = -1.0})));
}

TEST_CASE("divergence names round-trip and cover the CLI's list", "[registry][divergence]") {
  const std::vector<std::string> names = reg::divergence_names();
  CHECK(names == std::vector<std::string>{"kl", "reverse-kl", "chi2", "chi2-reverse", "js",
                                          "hellinger", "alpha", "mmd", "mixed", "drifting",
                                          "drifting-deng", "kl-exact", "sinkhorn", "sinkhorn-drift",
                                          "sliced", "energy"});
  for (const auto& name : names) {
    CHECK_NOTHROW(reg::make_divergence(name));
    CHECK_FALSE(reg::divergence_description(name).empty());
  }
  CHECK(std::holds_alternative<gfd::f_divergence>(reg::make_divergence("kl")));
  CHECK(std::holds_alternative<gfd::mmd>(reg::make_divergence("mmd")));
  CHECK(std::holds_alternative<reg::mixed_divergence>(reg::make_divergence("mixed")));
  CHECK(std::holds_alternative<gfd::drifting_field>(reg::make_divergence("drifting-deng")));
}

TEST_CASE("a divergence by name gives the velocity of the directly constructed one",
          "[registry][divergence]") {
  const Eigen::MatrixXd x = gfd_test::random_cloud(2, 40, 1);
  const Eigen::MatrixXd y = gfd_test::random_cloud(2, 50, 2, 1.5, 0.5);
  const double h = 0.6;
  const reg::divergence_parameters none;
  CHECK(registry_velocity("kl", none, x, y, h) == velocity(gfd::kl(), x, y, h));
  CHECK(registry_velocity("reverse-kl", none, x, y, h) == velocity(gfd::reverse_kl(), x, y, h));
  CHECK(registry_velocity("chi2", none, x, y, h) == velocity(gfd::chi2(), x, y, h));
  CHECK(registry_velocity("chi2-reverse", none, x, y, h) == velocity(gfd::reverse_chi2(), x, y, h));
  CHECK(registry_velocity("js", none, x, y, h) == velocity(gfd::jensen_shannon(), x, y, h));
  CHECK(registry_velocity("hellinger", none, x, y, h) ==
        velocity(gfd::squared_hellinger(), x, y, h));
  CHECK(registry_velocity("mmd", none, x, y, h) == velocity(gfd::mmd{}, x, y, h));
  CHECK(registry_velocity("drifting", none, x, y, h) == velocity(gfd::drifting_field{}, x, y, h));
  CHECK(registry_velocity("drifting-deng", none, x, y, h) ==
        velocity(gfd::drifting_field(gfd::deng_drifting_options()), x, y, h));
  // The defaults are the CLI's: alpha 0.5, mix 1:1.
  CHECK(registry_velocity("alpha", none, x, y, h) == velocity(gfd::alpha_divergence(0.5), x, y, h));
  CHECK(registry_velocity("mixed", none, x, y, h) ==
        velocity(reg::mixed_divergence(gfd::reverse_kl(), gfd::chi2(), 1.0, 1.0), x, y, h));
}

TEST_CASE("divergence parameters are honoured and checked", "[registry][divergence]") {
  const Eigen::MatrixXd x = gfd_test::random_cloud(2, 30, 3);
  const Eigen::MatrixXd y = gfd_test::random_cloud(2, 35, 4, 1.2, -0.3);
  const double h = 0.5;
  reg::divergence_parameters p;
  p.alpha = 0.3;
  CHECK(registry_velocity("alpha", p, x, y, h) == velocity(gfd::alpha_divergence(0.3), x, y, h));
  CHECK(registry_velocity("alpha", p, x, y, h) != velocity(gfd::alpha_divergence(0.5), x, y, h));
  p.mix_reverse_kl = 2.0;
  p.mix_chi2 = 0.25;
  CHECK(registry_velocity("mixed", p, x, y, h) ==
        velocity(reg::mixed_divergence(gfd::reverse_kl(), gfd::chi2(), 2.0, 0.25), x, y, h));
  p.temperatures = {0.1, 0.3};
  gfd::drifting_options o = gfd::deng_drifting_options();
  o.temperatures = {0.1, 0.3};
  CHECK(registry_velocity("drifting-deng", p, x, y, h) ==
        velocity(gfd::drifting_field(o), x, y, h));
  CHECK(std::get<gfd::drifting_field>(reg::make_divergence("drifting-deng", p)).options().temperatures ==
        std::vector<double>{0.1, 0.3});

  CHECK_THROWS_AS(reg::make_divergence("alpha", {.alpha = std::nan("")}), gfd::invalid_argument);
  CHECK_THROWS_AS(reg::make_divergence("mixed", {.mix_reverse_kl = 0, .mix_chi2 = 0}),
                  gfd::invalid_argument);
  CHECK_THROWS_AS(reg::make_divergence("mixed", {.mix_reverse_kl = -1}), gfd::invalid_argument);
  CHECK_THROWS_AS(reg::make_divergence("drifting-deng", {.temperatures = {0.1, -2.0}}),
                  gfd::invalid_argument);
}

TEST_CASE("stepper names round-trip through gfd::stepper", "[registry][stepper]") {
  CHECK(reg::stepper_names() == std::vector<std::string>{"euler", "heun", "adaptive"});
  for (const auto& name : reg::stepper_names()) {
    CHECK(reg::stepper_name(reg::make_stepper(name)) == name);
    CHECK_FALSE(reg::stepper_description(name).empty());
  }
  CHECK(reg::make_stepper("heun") == gfd::stepper::heun);
  CHECK(reg::make_stepper("adaptive") == gfd::stepper::adaptive);
  CHECK(reg::make_stepper("euler") == gfd::stepper::euler);
}

TEST_CASE("a stepper by name runs the same flow as its method", "[registry][stepper]") {
  const Eigen::MatrixXd y = gfd_test::random_cloud(2, 100, 61), x0 = gfd_test::random_cloud(2, 40, 62, 0.4);
  for (const auto& name : reg::stepper_names()) {
    gfd::flow_options o;
    o.max_steps = 5;
    o.method = reg::make_stepper(name);
    const gfd::flow<> f(y, o);
    Eigen::MatrixXd by_method = x0, by_type = x0;
    f.run(by_method, gfd::kl());
    const std::string_view type_name = reg::with_stepper(name, {}, [&](const auto& stepper) {
      f.run_with(stepper, by_type, gfd::kl());
      return std::remove_cvref_t<decltype(stepper)>::name;
    });
    CHECK(type_name == name);
    CHECK(by_type == by_method);  // bit for bit
  }
}

TEST_CASE("evaluator names round-trip, the tree's tolerance is honoured", "[registry][evaluator]") {
  CHECK(reg::evaluator_names() == std::vector<std::string>{"exact", "tree", "grid"});
  for (const auto& name : reg::evaluator_names()) CHECK_FALSE(reg::evaluator_description(name).empty());
  CHECK(std::holds_alternative<gfd::exact_evaluator>(reg::make_evaluator("exact")));
  const auto tree = reg::make_evaluator("tree", {.tolerance = 0.02, .leaf_size = 8});
  REQUIRE(std::holds_alternative<gfd::tree_evaluator>(tree));
  CHECK(std::get<gfd::tree_evaluator>(tree).tolerance == 0.02);
  CHECK(std::get<gfd::tree_evaluator>(tree).leaf_size == 8);
  CHECK(std::get<gfd::tree_evaluator>(reg::make_evaluator("tree")).tolerance ==
        gfd::tree_evaluator{}.tolerance);
  CHECK_THROWS_AS(reg::make_evaluator("tree", {.tolerance = 2.0}), gfd::invalid_argument);
  const auto grid = reg::make_evaluator("grid", {.tolerance = 0.02});
  REQUIRE(std::holds_alternative<gfd::grid_evaluator>(grid));
  CHECK(std::get<gfd::grid_evaluator>(grid).tolerance == 0.02);
  CHECK_THROWS_AS(reg::make_evaluator("grid", {.tolerance = 0.0}), gfd::invalid_argument);
  // with_evaluator hands over the static type.
  const bool is_tree = reg::with_evaluator("tree", {}, [](const auto& e) {
    return std::is_same_v<std::decay_t<decltype(e)>, gfd::tree_evaluator>;
  });
  CHECK(is_tree);
}

TEST_CASE("unknown names throw gfd::invalid_argument listing the valid names", "[registry]") {
  require_lists(message_of([] { (void)reg::make_kernel("gauss"); }), "gauss", reg::kernel_names());
  require_lists(message_of([] { (void)reg::kernel_description("x"); }), "x", reg::kernel_names());
  require_lists(message_of([] { (void)reg::make_divergence("KL"); }), "KL", reg::divergence_names());
  require_lists(message_of([] { (void)reg::divergence_description(""); }), "",
                reg::divergence_names());
  require_lists(message_of([] { (void)reg::make_stepper("rk4"); }), "rk4", reg::stepper_names());
  require_lists(message_of([] { (void)reg::stepper_description("rk4"); }), "rk4",
                reg::stepper_names());
  require_lists(message_of([] { (void)reg::make_evaluator("fmm"); }), "fmm",
                reg::evaluator_names());
  require_lists(message_of([] { (void)reg::evaluator_description("fmm"); }), "fmm",
                reg::evaluator_names());
  // The message starts with the function that rejected the name (gfd's convention).
  CHECK(message_of([] { (void)reg::make_kernel("gauss"); }).rfind("gfd::registry::make_kernel", 0) == 0);
  CHECK(std::string(reg::stepper_name(gfd::stepper::heun)) == "heun");
}
