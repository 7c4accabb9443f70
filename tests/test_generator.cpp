// SPDX-License-Identifier: MIT
// The one-step generator (generator.hpp): backward pass against central finite differences for
// every parameter kind, the stop-gradient loss of Deng et al. Eq. 6, the drift scaling shared by
// every divergence, a short training run on two moons, sampling, the file format (bit-identical
// round trip; bad magic, versions, truncation at every byte, corruption) and option checks.
#include <gfd/generator.hpp>
#include <gfd/metrics.hpp>
#include <gfd/toy.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "catch.hpp"

namespace {
using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

Mat random_matrix(Eigen::Index r, Eigen::Index c, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  return gfd::toy::gaussian(static_cast<int>(r), c, rng) * scale;
}

// A small network with non-trivial parameters (biases too), so every derivative is exercised.
gfd::nn::mlp small_network(std::uint64_t seed) {
  gfd::nn::mlp net({3, 5, 4, 2});
  std::mt19937_64 rng(seed);
  net.initialise(rng, 1.3, 0.9);
  net.parameters() += 0.3 * random_matrix(net.parameter_count(), 1, seed + 1);
  return net;
}

// 0.5 mean_i |f(e_i) - T_i|^2 with the parameters p.
double generic_loss(const gfd::nn::mlp& net, const Vec& p, const Mat& e, const Mat& t) {
  const Mat f = net.evaluate(e, &p);
  return 0.5 * (f - t).squaredNorm() / static_cast<double>(e.cols());
}

// Central differences of `loss(p)` at every parameter.
template <class Loss>
Vec central_differences(const Vec& p0, Loss&& loss, double step = 1e-6) {
  Vec g(p0.size());
  Vec p = p0;
  for (Eigen::Index i = 0; i < p0.size(); ++i) {
    const double s = step * std::max(1.0, std::abs(p0(i)));
    p(i) = p0(i) + s;
    const double up = loss(p);
    p(i) = p0(i) - s;
    const double down = loss(p);
    p(i) = p0(i);
    g(i) = (up - down) / (2 * s);
  }
  return g;
}

std::filesystem::path scratch_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("gfd_test_generator_" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  return dir;
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A small trained model (a few steps on moons), for the file-format tests.
gfd::generator_model small_model() {
  gfd::generator_options o;
  o.noise_dim = 3;
  o.widths = {6, 5};
  o.batch = 32;
  o.steps = 3;
  return gfd::train_generator(gfd::toy::sample("moons", 200, 1), o);
}

std::string error_message(const std::string& bytes, const std::string& name = "model.gfdgen") {
  try {
    (void)gfd::generator_model::from_bytes(bytes, name);
  } catch (const gfd::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("mlp backward equals central differences for every weight and bias", "[generator][mlp]") {
  const gfd::nn::mlp net = small_network(3);
  const Mat e = random_matrix(3, 7, 4);
  const Mat t = random_matrix(2, 7, 5);
  gfd::nn::mlp_workspace ws;
  const Mat f = net.forward(e, ws);
  // L = 0.5 mean |f - T|^2  =>  dL/df = (f - T) / B.
  Vec g;
  net.backward(ws, (f - t) / 7.0, g);
  const Vec fd = central_differences(net.parameters(), [&](const Vec& p) { return generic_loss(net, p, e, t); });
  REQUIRE(g.size() == net.parameter_count());
  REQUIRE(net.parameter_count() == (3 + 1) * 5 + (5 + 1) * 4 + (4 + 1) * 2);
  // Check each parameter kind separately so that a failure names it.
  Vec gc = g, fdc = fd;
  for (int l = 1; l <= net.layers(); ++l) {
    INFO("layer " << l);
    const auto gw = net.weight_in(gc, l), fw = net.weight_in(fdc, l);
    const auto gb = net.bias_in(gc, l), fb = net.bias_in(fdc, l);
    CHECK((gw - fw).cwiseAbs().maxCoeff() <= 1e-7 * (1 + fw.cwiseAbs().maxCoeff()));
    CHECK((gb - fb).cwiseAbs().maxCoeff() <= 1e-7 * (1 + fb.cwiseAbs().maxCoeff()));
    CHECK(fw.cwiseAbs().maxCoeff() > 1e-3);  // the check is not vacuous
    CHECK(fb.cwiseAbs().maxCoeff() > 1e-3);
  }
}

TEST_CASE("the stop-gradient loss of Eq. 6 has gradient -(2 eta / B) V df/dtheta", "[generator][mlp]") {
  // Loss (1/B) sum |f(e) - stopgrad(f(e) + eta V)|^2: with the target T = f0 + eta V held fixed,
  // its gradient at theta0 is (2/B) (f0 - T) df/dtheta = -(2 eta / B) V df/dtheta.
  const gfd::nn::mlp net = small_network(7);
  const Mat e = random_matrix(3, 9, 8);
  const Mat v = random_matrix(2, 9, 9);
  const double eta = 0.7;
  gfd::nn::mlp_workspace ws;
  const Mat f0 = net.forward(e, ws);
  const Mat target = f0 + eta * v;
  Vec g;
  net.backward(ws, -2.0 * eta / 9.0 * v, g);
  const Vec fd = central_differences(net.parameters(), [&](const Vec& p) {
    return (net.evaluate(e, &p) - target).squaredNorm() / 9.0;
  });
  CHECK((g - fd).cwiseAbs().maxCoeff() <= 1e-7 * (1 + fd.cwiseAbs().maxCoeff()));
}

TEST_CASE("silu and its derivative stay finite at extreme pre-activations", "[generator][mlp]") {
  Mat z(1, 5);
  z << -1000, -40, 0, 40, 1000;
  const Mat s = gfd::nn::mlp::silu(z), ds = gfd::nn::mlp::silu_derivative(z);
  CHECK(s.allFinite());
  CHECK(ds.allFinite());
  CHECK(s(0, 2) == 0.0);
  CHECK(ds(0, 2) == Approx(0.5));
  CHECK(s(0, 4) == Approx(1000.0));
  CHECK(ds(0, 4) == Approx(1.0));
  CHECK(std::abs(s(0, 0)) < 1e-300);
}

TEST_CASE("input_scale spreads the first layer's switching hyperplanes through the noise", "[generator][mlp]") {
  // W_1 ~ N(0, s^2 / k), b_1 ~ N(0, s^2); the deeper layers keep LeCun with zero biases.
  const int k = 2, width = 4000;
  const double s = 5.0;
  gfd::nn::mlp net({k, width, 64, 2});
  std::mt19937_64 rng(3);
  net.initialise(rng, 1.0, 1.0, s);
  const Vec w1 = net.weight(1).reshaped();
  const Vec b1 = net.bias(1);
  const auto sd = [](const Vec& v) { return std::sqrt((v.array() - v.mean()).square().mean()); };
  // 8000 and 4000 draws: the sample sd is within 3 % of sigma with probability > 0.999.
  CHECK(sd(w1) == Approx(s / std::sqrt(double(k))).epsilon(0.03));
  CHECK(sd(b1) == Approx(s).epsilon(0.03));
  CHECK(sd(Vec(net.weight(2).reshaped())) == Approx(1.0 / std::sqrt(double(width))).epsilon(0.03));
  CHECK(net.bias(2).isZero(0.0));
  // Distance of unit l's hyperplane w . e + b = 0 to the origin, |b| / |w|: of order 1 (its
  // median is that of sqrt(2) |N(0,1)| / chi_2, about 0.8), i.e. inside the bulk of N(0, I) noise,
  // where with zero biases every hyperplane would pass through the origin.
  std::vector<double> dist(static_cast<std::size_t>(width));
  for (int l = 0; l < width; ++l) dist[static_cast<std::size_t>(l)] = std::abs(b1(l)) / net.weight(1).row(l).norm();
  std::nth_element(dist.begin(), dist.begin() + width / 2, dist.end());
  CHECK(dist[static_cast<std::size_t>(width / 2)] > 0.3);
  CHECK(dist[static_cast<std::size_t>(width / 2)] < 1.2);
  // Without hidden layers there is no first hidden layer to scale: LeCun, zero bias.
  gfd::nn::mlp linear({k, 2});
  linear.initialise(rng, 1.0, 1.0, s);
  CHECK(linear.bias(1).isZero(0.0));
  CHECK(linear.weight(1).cwiseAbs().maxCoeff() < 5.0);
}

TEST_CASE("adam: first step moves every parameter by lr against the gradient sign", "[generator][adam]") {
  gfd::nn::adam a;
  Vec theta = Vec::Zero(3), g(3);
  g << 2.0, -0.5, 1e-3;
  a.step(theta, g, 0.01);
  // Bias-corrected first step: m_hat = g, v_hat = g^2, so the update is lr g / (|g| + eps).
  CHECK(theta(0) == Approx(-0.01).epsilon(1e-6));
  CHECK(theta(1) == Approx(0.01).epsilon(1e-6));
  CHECK(theta(2) == Approx(-0.01).epsilon(1e-4));
  CHECK(a.steps() == 1);
}

TEST_CASE("the drift is h^2 times the velocity: KL and drifting agree for the Gaussian", "[generator][drift]") {
  const Mat y = gfd::toy::sample("8gaussians", 300, 1) / 2.0;
  const Mat x = random_matrix(2, 200, 2);
  const double h = 0.4;
  const Mat v_drift = gfd::generator_drift(gfd::drifting_field{}, x, y, h);
  const Mat v_kl = gfd::generator_drift(gfd::kl(), x, y, h);
  // V = m_p - m_q = h^2 (s_p - s_q) (DESIGN 1.3).
  CHECK((v_drift - v_kl).cwiseAbs().maxCoeff() <= 1e-10 * v_drift.cwiseAbs().maxCoeff());
  // Multipliers sum the velocities at each bandwidth in the base time unit h^2, as the flow
  // does (one convention): the field at 2h enters as V(2h) / 2^2.
  const Mat v2 = gfd::generator_drift(gfd::drifting_field{}, x, y, h, {1.0, 2.0});
  const Mat v_wide = gfd::generator_drift(gfd::drifting_field{}, x, y, 2 * h);
  CHECK((v2 - v_drift - v_wide / 4.0).cwiseAbs().maxCoeff() <= 1e-12 * v2.cwiseAbs().maxCoeff());
  // Deng's normalised temperatures ignore h: the same drift for any h.
  const gfd::drifting_field deng(gfd::deng_drifting_options());
  const Mat d1 = gfd::generator_drift(deng, x, y, 0.3, {1.0}, gfd::laplacian{});
  const Mat d2 = gfd::generator_drift(deng, x, y, 3.0, {1.0}, gfd::laplacian{});
  CHECK((d1 - d2).cwiseAbs().maxCoeff() <= 1e-10 * d1.cwiseAbs().maxCoeff());
  CHECK_THROWS_AS(gfd::generator_drift(gfd::kl(), x, Mat(3, 10), h), gfd::invalid_argument);
  CHECK_THROWS_AS(gfd::generator_drift(gfd::kl(), x, y, -1.0), gfd::invalid_argument);
}

TEST_CASE("every divergence of gfd can train a generator", "[generator][drift]") {
  const Mat data = gfd::toy::sample("moons", 400, 3);
  gfd::generator_options o;
  o.noise_dim = 2;
  o.widths = {16};
  o.batch = 64;
  o.steps = 5;
  auto finite = [](const gfd::generator_model& m) { return m.generate(50, 1).allFinite(); };
  CHECK(finite(gfd::train_generator(data, o, gfd::kl())));
  CHECK(finite(gfd::train_generator(data, o, gfd::reverse_kl())));
  CHECK(finite(gfd::train_generator(data, o, gfd::chi2())));
  CHECK(finite(gfd::train_generator(data, o, gfd::mmd())));
  CHECK(finite(gfd::train_generator(data, o, gfd::mixture(gfd::reverse_kl(), gfd::chi2(), 1.0, 0.5))));
  CHECK(finite(gfd::train_generator<gfd::laplacian>(data, o, gfd::drifting_field(gfd::deng_drifting_options()))));
  CHECK(finite(gfd::train_generator<gfd::inverse_multiquadric>(data, o, gfd::jensen_shannon())));
}

TEST_CASE("training on two moons reduces |V|^2 and the sliced W2 to held-out data", "[generator][train]") {
  const Mat data = gfd::toy::sample("moons", 3000, 11);
  gfd::generator_options o;
  o.noise_dim = 4;
  o.width = 64;
  o.depth = 2;
  o.batch = 256;
  o.steps = 400;
  o.lr = 3e-3;
  o.warmup = 20;
  o.grad_clip = 0.1;  // the first, long moves would otherwise saturate the network
  o.ema = 0.95;
  o.holdout = 500;
  o.seed = 5;
  // The Gaussian drifting field, whose |V|^2 (unlike the RMS-normalised default) falls as the
  // generated distribution approaches the data.
  gfd::generator_trainer<gfd::gaussian> trainer(data, o);
  // Start the generator displaced by (3, -3) standard deviations, away from the data, so that the
  // drift has a long way to go (the output bias of the last layer, raw network and average).
  auto& net = trainer.model().network();
  net.bias_in(net.parameters(), net.layers()) += Eigen::Vector2d(3.0, -3.0);
  trainer.model().ema() = net;
  const double sw2_start = trainer.holdout_sliced_w2();
  std::vector<double> drift2;
  const auto t0 = std::chrono::steady_clock::now();
  for (long s = 0; s < o.steps; ++s) drift2.push_back(trainer.step(gfd::drifting_field{}).drift2);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double sw2_end = trainer.holdout_sliced_w2();
  auto mean_of = [&](std::size_t a, std::size_t b) {
    double s = 0;
    for (std::size_t i = a; i < b; ++i) s += drift2[i];
    return s / static_cast<double>(b - a);
  };
  const double v_start = mean_of(0, 5), v_end = mean_of(drift2.size() - 20, drift2.size());
  // The floor: two independent samples of the target of the hold-out's size.
  const double floor = gfd::sliced_wasserstein2(gfd::toy::sample("moons", 500, 12), trainer.holdout());
  INFO("|V|^2 " << v_start << " -> " << v_end << ", sliced W2 " << sw2_start << " -> " << sw2_end
                << " (floor " << floor << "), " << seconds << " s");
  CHECK(v_end < v_start / 100);
  CHECK(sw2_end < sw2_start / 10);
  CHECK(sw2_end < 2.5 * floor);
  CHECK(trainer.steps_done() == o.steps);
  CHECK(trainer.model().steps_trained() == o.steps);
  CHECK(trainer.timing().drift > 0);
  CHECK(trainer.timing().network > 0);
}

TEST_CASE("the observer sees every k-th step and the last, and can stop the run", "[generator][train]") {
  const Mat data = gfd::toy::sample("moons", 300, 1);
  gfd::generator_options o;
  o.noise_dim = 2;
  o.widths = {8};
  o.batch = 16;
  o.steps = 25;
  o.observe_every = 10;
  o.holdout = 50;
  std::vector<long> seen;
  bool sw2_finite = true;
  (void)gfd::train_generator(data, o, gfd::drifting_field{}, [&](const gfd::generator_progress& p) {
    seen.push_back(p.step);
    sw2_finite = sw2_finite && std::isfinite(p.sliced_w2) && p.model != nullptr && p.steps == 25;
  });
  CHECK(seen == std::vector<long>{10, 20, 25});
  CHECK(sw2_finite);
  gfd::generator_trainer<> tr(data, o);
  const long taken = tr.run(gfd::drifting_field{}, [](const gfd::generator_progress& p) { return p.step < 20; });
  CHECK(taken == 20);
  CHECK(tr.steps_done() == 20);
}

TEST_CASE("training is deterministic for a seed", "[generator][train]") {
  const Mat data = gfd::toy::sample("8gaussians", 500, 2);
  gfd::generator_options o;
  o.noise_dim = 3;
  o.widths = {12, 12};
  o.batch = 40;
  o.steps = 10;
  o.seed = 9;
  const auto a = gfd::train_generator(data, o);
  const auto b = gfd::train_generator(data, o);
  CHECK(a.to_bytes() == b.to_bytes());
  o.seed = 10;
  CHECK(gfd::train_generator(data, o).to_bytes() != a.to_bytes());
}

TEST_CASE("the model stores the data scaling and samples in data units", "[generator][model]") {
  Mat data = gfd::toy::sample("moons", 1000, 4);
  data.row(0) = data.row(0) * 10.0;
  data.row(0).array() += 100.0;
  gfd::generator_options o;
  o.noise_dim = 2;
  o.widths = {8};
  o.steps = 0;
  o.input_scale = 0;  // untrained: keep f(e) of order 1 in standardised units (checked below)
  const Eigen::VectorXd mean = data.rowwise().mean();
  const Eigen::VectorXd sd = ((data.colwise() - mean).array().square().rowwise().mean()).sqrt();
  const auto per = gfd::train_generator(data, o);
  CHECK((per.mean() - mean).norm() < 1e-12 * mean.norm());
  CHECK((per.scale() - sd).norm() < 1e-12 * sd.norm());
  o.scaling = gfd::data_scaling::pooled;
  const auto pooled = gfd::train_generator(data, o);
  CHECK(pooled.scale()(0) == pooled.scale()(1));
  CHECK(pooled.scale()(0) == Approx(std::sqrt(sd.squaredNorm() / 2)));
  o.scaling = gfd::data_scaling::none;
  const auto none = gfd::train_generator(data, o);
  CHECK(none.mean().isZero());
  CHECK(none.scale() == Eigen::VectorXd::Ones(2));
  // Samples live in data units and are prefixes of each other (chunking does not matter).
  const Mat x = per.generate(5000, 3);
  CHECK(x.rows() == 2);
  CHECK(x.cols() == 5000);
  // Same n: bit-identical; a prefix: equal up to the rounding of differently sized products.
  CHECK(per.generate(5000, 3) == x);
  CHECK((per.generate(10, 3) - x.leftCols(10)).cwiseAbs().maxCoeff() < 1e-12 * x.cwiseAbs().maxCoeff());
  CHECK((per.generate(4100, 3) - x.leftCols(4100)).cwiseAbs().maxCoeff() < 1e-12 * x.cwiseAbs().maxCoeff());
  CHECK(std::abs(x.row(0).mean() - 100.0) < 30.0);
  CHECK(per.generate(0, 1).cols() == 0);
  CHECK_THROWS_AS(per.generate(-1, 1), gfd::invalid_argument);
  CHECK_THROWS_AS(gfd::generator_model{}.generate(5, 1), gfd::invalid_argument);
  CHECK_THROWS_AS(per.generate_from_noise(Mat(3, 4)), gfd::invalid_argument);
}

TEST_CASE("save -> load -> generate is bit-identical", "[generator][io]") {
  const auto model = small_model();
  const auto dir = scratch_dir();
  const std::string path = (dir / "model.gfdgen").string();
  gfd::save_generator(model, path);
  const auto back = gfd::load_generator(path);
  CHECK(back.to_bytes() == model.to_bytes());
  CHECK(back.generate(1000, 42) == model.generate(1000, 42));
  CHECK(back.generate(100, 42, false) == model.generate(100, 42, false));
  CHECK(back.hidden() == std::vector<int>{6, 5});
  CHECK(back.noise_dim() == 3);
  CHECK(back.dim() == 2);
  CHECK(back.steps_trained() == 3);
  CHECK(back.mean() == model.mean());
  CHECK(back.scale() == model.scale());
  CHECK(back.ema().parameters() == model.ema().parameters());
  CHECK(back.network().parameters() == model.network().parameters());
  // The header is exactly the documented layout.
  const std::string b = model.to_bytes();
  CHECK(b.substr(0, 8) == std::string("\x89GFDGEN\n", 8));
  const auto p = static_cast<std::size_t>(model.network().parameter_count());
  CHECK(b.size() == 8 + 4 * 6 + 4 * 2 + 8 + 8 + 16 * 2 + 16 * p + 8);
  std::filesystem::remove_all(dir);
}

TEST_CASE("foreign, corrupt and truncated model files are rejected with a clear message", "[generator][io]") {
  const std::string good = small_model().to_bytes();
  using gfd_test::contains_substring;

  SECTION("bad magic") {
    std::string b = good;
    b[1] = 'X';
    const std::string msg = error_message(b);
    CHECK_THAT(msg, contains_substring("model.gfdgen"));
    CHECK_THAT(msg, contains_substring("bad magic"));
    CHECK_THAT(error_message("x,y\n1,2\n", "points.csv"), contains_substring("not a gfd generator file"));
    CHECK_THAT(error_message(""), contains_substring("not a gfd generator file"));
  }
  SECTION("wrong version") {
    std::string b = good;
    b[8] = 3;
    CHECK_THAT(error_message(b), contains_substring("unsupported format version 3"));
  }
  SECTION("unknown activation") {
    std::string b = good;
    b[12] = 7;
    CHECK_THAT(error_message(b), contains_substring("activation"));
  }
  SECTION("sizes out of range are refused before any allocation") {
    std::string b = good;
    b[20] = b[21] = b[22] = static_cast<char>(0xff);  // d = 2^24 - 1
    CHECK_THAT(error_message(b), contains_substring("data dimension"));
    b = good;
    b[29] = static_cast<char>(0xff);  // 65282 hidden layers
    CHECK_THAT(error_message(b), contains_substring("number of hidden layers 65282 out of range"));
    b = good.substr(0, 40);
    b[28] = static_cast<char>(0xff);  // 255 hidden layers, but the file ends first
    CHECK_THAT(error_message(b), contains_substring("truncated file: 1020 bytes of the hidden widths expected"));
    b = good;
    b[32] = 0;  // first width 6 -> 0
    CHECK_THAT(error_message(b), contains_substring("hidden width 0 = 0"));
    b = good;
    b[32] = 0;
    b[33] = 0;
    b[34] = 0x10;  // first width 2^20: the parameter count no longer matches
    CHECK_THAT(error_message(b), contains_substring("does not match the architecture"));
  }
  SECTION("a flipped bit in the weights fails the hash") {
    std::string b = good;
    b[b.size() / 2] ^= 0x10;
    const std::string msg = error_message(b);
    CHECK((msg.find("hash mismatch") != std::string::npos || msg.find("not finite") != std::string::npos));
  }
  SECTION("trailing bytes") {
    CHECK_THAT(error_message(good + "junk"), contains_substring("4 unexpected bytes"));
  }
  SECTION("truncated at every byte") {
    for (std::size_t cut = 0; cut < good.size(); ++cut) {
      const std::string msg = error_message(good.substr(0, cut));
      INFO("cut at " << cut << ": " << msg);
      REQUIRE(!msg.empty());
      CHECK_THAT(msg, contains_substring("model.gfdgen"));
      if (cut >= 1) CHECK_THAT(msg, contains_substring("truncated"));
    }
  }
  SECTION("truncated files on disk, and missing files") {
    const auto dir = scratch_dir();
    for (std::size_t cut = 0; cut < good.size(); cut += 37) {
      const auto path = dir / ("cut" + std::to_string(cut) + ".gfdgen");
      write_bytes(path, good.substr(0, cut));
      try {
        (void)gfd::load_generator(path.string());
        FAIL("accepted a file cut at " << cut);
      } catch (const gfd::invalid_argument& e) {
        CHECK_THAT(std::string(e.what()), contains_substring("gfd::load_generator"));
        CHECK_THAT(std::string(e.what()), contains_substring(path.string()));
      }
    }
    CHECK_THROWS_WITH(gfd::load_generator((dir / "missing.gfdgen").string()), contains_substring("cannot open"));
    CHECK_THROWS_AS(gfd::save_generator(gfd::generator_model{}, (dir / "empty.gfdgen").string()),
                    gfd::invalid_argument);
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("bad options and data are rejected", "[generator][options]") {
  const Mat data = gfd::toy::sample("moons", 100, 1);
  auto rejects = [&](auto edit) {
    gfd::generator_options o;
    o.steps = 1;
    edit(o);
    return [&, o] { (void)gfd::generator_trainer<>(data, o); };
  };
  CHECK_THROWS_AS(rejects([](auto& o) { o.batch = 1; })(), gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.noise_dim = -1; })(), gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.lr = 0; })(), gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.eta = -1; })(), gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.ema = 1.0; })(), gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.holdout = 99; })(), gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.widths = {4, 0}; })(), gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.bandwidth = gfd::bandwidth_schedule::fixed(0.0); })(),
                  gfd::invalid_argument);
  CHECK_THROWS_AS(rejects([](auto& o) { o.bandwidth.multipliers = {}; })(), gfd::invalid_argument);
  CHECK_THROWS_WITH(rejects([](auto& o) { o.lr_final = 2; })(), gfd_test::contains_substring("lr_final"));
  CHECK_THROWS_WITH(rejects([](auto& o) { o.input_scale = -1; })(), gfd_test::contains_substring("input_scale"));
  CHECK_THROWS_AS(rejects([](auto& o) { o.input_scale = std::numeric_limits<double>::infinity(); })(),
                  gfd::invalid_argument);
  Mat bad = data;
  bad(1, 7) = std::nan("");
  CHECK_THROWS_WITH(gfd::generator_trainer<>(bad), gfd_test::contains_substring("particle 7"));
  CHECK_THROWS_AS(gfd::generator_trainer<>(Mat(2, 0)), gfd::invalid_argument);
}

namespace {
gfd::generator_model small_conditional_model() {
  gfd::generator_options o;
  o.noise_dim = 2;
  o.widths = {6, 5};
  o.batch = 32;
  o.class_batch = 16;
  o.positives = 8;
  o.negatives = 4;
  o.steps = 3;
  o.cfg_min = 1.0;
  o.cfg_max = 2.5;
  gfd::generator_trainer<> t(gfd::toy::sample("8gaussians", 200, 1), gfd::toy::sample_labels("8gaussians", 200, 1), o);
  t.run(gfd::deng_drifting_field{});
  return t.model();
}
}  // namespace

TEST_CASE("a conditional model: inputs, file format version 2, and version 1 files still load",
          "[generator][conditional][io]") {
  using gfd_test::contains_substring;
  const auto cond = small_conditional_model();
  CHECK(cond.classes() == 8);
  CHECK(cond.noise_dim() == 2);
  CHECK(cond.network().input_dim() == 2 + 8 + 1);
  CHECK(cond.guidance_range() == std::pair{1.0, 2.5});
  // Round trip of version 2, bit for bit.
  const std::string b = cond.to_bytes();
  CHECK(b[8] == 2);
  const auto back = gfd::generator_model::from_bytes(b, "cond.gfdgen");
  CHECK(back.to_bytes() == b);
  CHECK(back.classes() == 8);
  CHECK(back.guidance_range() == std::pair{1.0, 2.5});
  CHECK(back.generate(200, 4, 3, 2.0) == cond.generate(200, 4, 3, 2.0));
  // The condition is an input: classes and scales give different samples from the same noise.
  CHECK(cond.generate(50, 4, 3, 2.0) != cond.generate(50, 4, 2, 2.0));
  CHECK(cond.generate(50, 4, 3, 2.0) != cond.generate(50, 4, 3, 1.0));
  // generate_from_noise with a condition is generate's map.
  std::mt19937_64 rng(4);
  gfd::normal_source normal(rng);
  Mat e(2, 50);
  for (Eigen::Index i = 0; i < e.size(); ++i) e.data()[i] = normal();
  CHECK((cond.generate_from_noise(e, true, 3, 2.0) - cond.generate(50, 4, 3, 2.0)).cwiseAbs().maxCoeff() < 1e-12);
  // Bad conditions.
  CHECK_THROWS_WITH(cond.generate(5, 1), contains_substring("conditional (8 classes): give a class"));
  CHECK_THROWS_WITH(cond.generate(5, 1, 8, 1.0), contains_substring("class must be in [0, 8), got 8"));
  CHECK_THROWS_WITH(cond.generate(5, 1, 0, 0.0), contains_substring("omega must be finite and > 0, got 0"));
  CHECK_THROWS_WITH(cond.generate_from_noise(e), contains_substring("class must be in [0, 8), got -1"));
  const auto plain = small_model();
  CHECK_THROWS_WITH(plain.generate(5, 1, 0, 1.0), contains_substring("unconditional"));
  // An unconditional model is still written as version 1: every older build reads it.
  const std::string v1 = plain.to_bytes();
  CHECK(v1[8] == 1);
  // A version-1 file written here byte by byte from the table (not by to_bytes) loads.
  {
    gfd::detail::generator_io::writer w;
    w.bytes(std::string("\x89GFDGEN\n", 8));
    for (std::uint32_t v : {1u, 1u, 1u, 2u, 3u, 2u, 6u, 5u}) w.u32(v);  // version .. widths
    const auto p = plain.network().parameter_count();
    w.u64(static_cast<std::uint64_t>(p));
    w.u64(3);
    w.f64s(plain.mean().data(), 2);
    w.f64s(plain.scale().data(), 2);
    w.f64s(plain.network().parameters().data(), p);
    w.f64s(plain.ema().parameters().data(), p);
    w.u64(gfd::detail::generator_io::fnv1a(w.str()));
    const auto old = gfd::generator_model::from_bytes(w.str(), "old.gfdgen");
    CHECK(!old.conditional());
    CHECK(old.generate(100, 9) == plain.generate(100, 9));
  }
  // Corrupt version-2 headers.
  std::string bad = b;
  bad[28] = 0;  // 0 classes
  CHECK_THAT(error_message(bad), contains_substring("number of classes 0 out of range"));
  bad = b;
  bad[32] = 2;
  CHECK_THAT(error_message(bad), contains_substring("unknown conditioning code 2"));
  for (std::size_t cut = 0; cut < b.size(); cut += 7) CHECK_THAT(error_message(b.substr(0, cut)), contains_substring("model.gfdgen"));
}

TEST_CASE("class_memory_bank keeps the newest capacity points per class and samples what it holds",
          "[generator][conditional]") {
  gfd::class_memory_bank bank(1, 2, 3);
  for (int i = 0; i < 5; ++i) bank.push(Eigen::VectorXd::Constant(1, i), 0);
  bank.push(Eigen::VectorXd::Constant(1, 100), 1);
  CHECK(bank.size(0) == 3);
  CHECK(bank.size(1) == 1);
  gfd::rng_engine rng(1);
  Mat out(1, 3);
  bank.sample(0, 3, rng, out, 0);  // without replacement: exactly the newest three, 2, 3, 4
  std::vector<double> got(out.data(), out.data() + 3);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<double>{2, 3, 4});
  Mat many(1, 10);
  bank.sample(1, 10, rng, many, 0);  // with replacement from the one point
  CHECK((many.array() == 100).all());
  CHECK_THROWS_WITH(gfd::class_memory_bank(1, 2, 3).sample(1, 1, rng, out, 0),
                    gfd_test::contains_substring("class 1 holds no points yet"));
  CHECK_THROWS_WITH(bank.push(Eigen::VectorXd::Zero(1), 2), gfd_test::contains_substring("class must be in [0, 2), got 2"));
  CHECK_THROWS_AS(gfd::class_memory_bank(1, 0, 3), gfd::invalid_argument);
}

TEST_CASE("conditional training: each class's samples land in its own mode, and bad input is refused",
          "[generator][conditional][train]") {
  const Mat data = gfd::toy::sample("8gaussians", 2000, 1);
  const std::vector<int> labels = gfd::toy::sample_labels("8gaussians", 2000, 1);
  gfd::generator_options o;
  o.steps = 400;
  o.holdout = 200;
  o.observe_every = 0;
  gfd::generator_trainer<> t(data, labels, o);
  CHECK(t.training_labels().size() == 1800);
  CHECK(t.holdout_labels().size() == 200);
  double sw2 = 0;
  t.run(gfd::deng_drifting_field{}, [&](const gfd::generator_progress& p) { sw2 = p.sliced_w2; });
  const auto mix = gfd::toy::mixture_of("8gaussians");
  Eigen::Index own = 0;
  for (int c = 0; c < 8; ++c) {
    const Mat x = t.model().generate(250, 3, c, 1.0);
    for (Eigen::Index i = 0; i < x.cols(); ++i) own += (x.col(i) - mix->centres.col(c)).norm() < 3 * mix->stddev;
  }
  INFO("share in the own mode " << static_cast<double>(own) / 2000 << ", sliced W2 " << sw2);
  CHECK(own >= 0.9 * 2000);
  CHECK(sw2 < 0.2);  // the untrained start is above 1
  // Errors.
  using gfd_test::contains_substring;
  CHECK_THROWS_WITH(gfd::generator_trainer<>(data, std::vector<int>(5, 0), o), contains_substring("5 labels for 2000 data points"));
  std::vector<int> neg = labels;
  neg[7] = -1;
  CHECK_THROWS_WITH(gfd::generator_trainer<>(data, neg, o), contains_substring("label 7 must be in [0, 65536), got -1"));
  auto refuses = [&](auto edit, const char* message) {
    gfd::generator_options b = o;
    edit(b);
    CHECK_THROWS_WITH(gfd::generator_trainer<>(data, labels, b), contains_substring(message));
  };
  refuses([](auto& b) { b.class_batch = 1; }, "class_batch must be in [2, batch = 512], got 1");
  refuses([](auto& b) { b.cfg_min = 0.5; }, "need 1 <= cfg_min <= cfg_max");
  refuses([](auto& b) { b.negatives = 0; }, "needs negatives > 0");
  gfd::generator_trainer<> kl_trainer(data, labels, o);
  CHECK_THROWS_WITH(kl_trainer.step(gfd::kl()), contains_substring("give a drifting field"));
}
