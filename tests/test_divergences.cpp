// SPDX-License-Identifier: MIT
// Velocity fields: the drifting identity, MMD against finite differences, f-divergence weights,
// fixed points, Alg. 2 of Deng et al. against a dense transcription, finiteness far away.
#include <gfd/divergences.hpp>
#include <gfd/flow.hpp>
#include <gfd/kde.hpp>

#include <cmath>
#include <random>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "catch.hpp"
#include "util.hpp"

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

using gfd_test::random_cloud;

template <class K>
struct setup {
  Mat x, y;
  Vec lw;
  K kernel{};
  gfd::exact_evaluator ev{};
  double h;
  gfd::flow_problem<double, Eigen::Dynamic, K, gfd::exact_evaluator> problem() const {
    return {x, y, lw, kernel, ev, h, 0.0};
  }
};

template <class K = gfd::gaussian>
setup<K> make_setup(Eigen::Index n, Eigen::Index m, double h, bool weighted, std::uint64_t seed = 1) {
  setup<K> s{random_cloud(2, n, seed, 1.0, 0.3), random_cloud(2, m, seed + 1, 1.5), Vec(), K{}, {}, h};
  Vec w = Vec::Ones(m);
  if (weighted) w = (random_cloud(1, m, seed + 2).array().abs() + 0.05).matrix().transpose();
  s.lw = (w / w.sum()).array().log().matrix();
  return s;
}

double max_abs(const Mat& a) { return a.cwiseAbs().maxCoeff(); }

}  // namespace

TEST_CASE("drifting field with a Gaussian kernel equals h^2 (s_p - s_q)", "[drifting]") {
  for (bool weighted : {false, true}) {
    INFO("weighted targets: " << weighted);
    const auto s = make_setup(120, 200, 0.4, weighted);
    const auto pb = s.problem();
    const Mat v = gfd::drifting_field{}.field(pb);
    // Scores from the KDE class, independently of the divergence code.
    const Vec w = s.lw.array().exp().matrix();
    const gfd::kde<> p(gfd::cloud_view<double>(s.y, w), s.h), q(s.x, s.h);
    const Mat ref = s.h * s.h * (p.score(s.x) - q.score(s.x));
    CHECK(max_abs(v - ref) <= 1e-12 * (1 + max_abs(ref)));
    // As a flow velocity it is s_p - s_q: the drifting step is the Euler step of KL(q||p).
    Mat vel, vkl;
    gfd::drifting_field{}.velocity(pb, vel, false);
    gfd::kl().velocity(pb, vkl, false);
    CHECK(max_abs(vel - vkl) <= 1e-10 * (1 + max_abs(vkl)));
  }
}

TEST_CASE("with a Laplacian kernel the drifting field is not a score difference, "
          "kernel-gradient drifting is", "[drifting]") {
  auto s = make_setup<gfd::laplacian>(100, 150, 0.5, false);
  const auto pb = s.problem();
  const Mat v = gfd::drifting_field{}.field(pb);
  const gfd::kde<gfd::laplacian> p(s.y, s.h), q(s.x, s.h);
  const Mat sdiff = p.score(s.x) - q.score(s.x);
  // Mean-shift drifting differs from h^2 (s_p - s_q) by far more than round-off ...
  CHECK(max_abs(v - s.h * s.h * sdiff) > 1e-2 * max_abs(v));
  // ... and from any multiple of it: the best scalar fit leaves a large residual.
  const double c = (v.array() * sdiff.array()).sum() / sdiff.squaredNorm();
  CHECK((v - c * sdiff).norm() > 0.05 * v.norm());
  gfd::drifting_options o;
  o.kernel_gradient = true;
  const Mat vk = gfd::drifting_field(o).field(pb);
  CHECK(max_abs(vk - sdiff) <= 1e-10 * (1 + max_abs(sdiff)));
}

TEST_CASE("MMD velocity is -N times the gradient of MMD^2 in particle positions", "[mmd]") {
  auto check = [](auto kernel_tag, double h) {
    using K = decltype(kernel_tag);
    auto s = make_setup<K>(30, 40, h, true, 5);
    Mat v;
    gfd::mmd{}.velocity(s.problem(), v, false);
    const Vec w = s.lw.array().exp().matrix();
    // V-statistic MMD^2 with the unnormalised kernel k(0) = 1, by a direct double loop.
    auto mmd2 = [&](const Mat& x) {
      const K k{};
      double xx = 0, xy = 0, yy = 0;
      const double n = static_cast<double>(x.cols());
      for (Eigen::Index i = 0; i < x.cols(); ++i)
        for (Eigen::Index j = 0; j < x.cols(); ++j)
          xx += std::exp(k.log_profile((x.col(i) - x.col(j)).squaredNorm() / (h * h)));
      for (Eigen::Index i = 0; i < x.cols(); ++i)
        for (Eigen::Index j = 0; j < s.y.cols(); ++j)
          xy += w(j) * std::exp(k.log_profile((x.col(i) - s.y.col(j)).squaredNorm() / (h * h)));
      for (Eigen::Index i = 0; i < s.y.cols(); ++i)
        for (Eigen::Index j = 0; j < s.y.cols(); ++j)
          yy += w(i) * w(j) * std::exp(k.log_profile((s.y.col(i) - s.y.col(j)).squaredNorm() / (h * h)));
      return xx / (n * n) - 2 * xy / n + yy;
    };
    for (Eigen::Index i : {0, 7, 29})
      for (int c = 0; c < 2; ++c) {
        Mat xp = s.x, xm = s.x;
        xp(c, i) += 1e-6;
        xm(c, i) -= 1e-6;
        const double grad = (mmd2(xp) - mmd2(xm)) / 2e-6;
        CHECK(v(c, i) == Approx(-30 * grad).epsilon(1e-5).margin(1e-9));
      }
  };
  check(gfd::gaussian{}, 0.6);
  check(gfd::inverse_multiquadric{}, 0.6);
}

TEST_CASE("f-divergence weights match their closed forms", "[f-divergence]") {
  for (double r : {1e-3, 0.2, 1.0, 3.0, 250.0}) {
    INFO("r = " << r);
    CHECK(gfd::kl().weight(r) == Approx(1.0));
    CHECK(gfd::reverse_kl().weight(r) == Approx(1.0 / r));
    CHECK(gfd::chi2().weight(r) == Approx(2.0 * r));
    CHECK(gfd::reverse_chi2().weight(r) == Approx(2.0 / (r * r)));
    CHECK(gfd::jensen_shannon().weight(r) == Approx(0.5 / (1 + r)));
    CHECK(gfd::squared_hellinger().weight(r) == Approx(0.5 / std::sqrt(r)));
    CHECK(gfd::alpha_divergence(0.5).weight(r) == Approx(1.0 / std::sqrt(r)));
    CHECK(gfd::alpha_divergence(2.0).weight(r) == Approx(r));
    // Closed-form f agrees with f recovered from f'' up to the affine term c (r - 1)
    // that D_f ignores: f(r) - f(1) - f'(1)(r - 1) is what the quadrature returns.
    const gfd::f_divergence from_f2("kl-by-quadrature", [](double x) { return 1.0 / x; });
    CHECK(from_f2.f(r) == Approx(r * std::log(r) - (r - 1)).epsilon(1e-8).margin(1e-12));
  }
  // The alpha family tends to KL at alpha = 1 and to reverse KL at alpha = 0.
  CHECK(gfd::alpha_divergence(1.0).weight(3.0) == Approx(gfd::kl().weight(3.0)));
  CHECK(gfd::alpha_divergence(0.0).weight(3.0) == Approx(gfd::reverse_kl().weight(3.0)));
}

TEST_CASE("a user-defined f'' reproduces a built-in divergence", "[f-divergence]") {
  const auto s = make_setup(80, 100, 0.5, true, 9);
  const auto pb = s.problem();
  const gfd::f_divergence mine("mine", [](double r) { return 1.0 / (r * r); });  // KL(p||q)
  Mat v_mine, v_builtin;
  const double e_mine = mine.velocity(pb, v_mine, true);
  const double e_builtin = gfd::reverse_kl().velocity(pb, v_builtin, true);
  CHECK(max_abs(v_mine - v_builtin) <= 1e-14 * max_abs(v_builtin));
  // f_mine = -log r + (r - 1): the estimates differ by mean_i (r_i - 1) / r_i exactly.
  const auto lf = gfd::compute_local_fields(pb);
  const Vec r = (lf.log_q - lf.log_p).array().exp().matrix();
  const double shift = ((r.array() - 1) / r.array()).mean();
  CHECK(e_mine == Approx(e_builtin + shift).epsilon(1e-7));
  // And its velocity is (p/q)(s_p - s_q), computed here from the KDE class.
  const Vec w = s.lw.array().exp().matrix();
  const gfd::kde<> p(gfd::cloud_view<double>(s.y, w), s.h), q(s.x, s.h);
  const Vec ratio = (p.log_density(s.x) - q.log_density(s.x)).array().exp().matrix();
  const Mat ref = (p.score(s.x) - q.score(s.x)) * ratio.asDiagonal();
  CHECK(max_abs(v_mine - ref) <= 1e-9 * max_abs(ref));
}

TEST_CASE("a mixture's velocity is the weighted sum, with weights that may change in time", "[mixture]") {
  const auto s = make_setup(60, 90, 0.5, false, 11);
  auto pb = s.problem();
  const gfd::mixture mix(gfd::reverse_kl(), gfd::chi2(), [](double t) { return 1.0 + t; },
                         [](double t) { return 2.0 - t; });
  Mat v, va, vb;
  gfd::reverse_kl().velocity(pb, va, false);
  gfd::chi2().velocity(pb, vb, false);
  for (double t : {0.0, 0.5}) {
    pb.time = t;
    mix.velocity(pb, v, false);
    CHECK(max_abs(v - ((1 + t) * va + (2 - t) * vb)) <= 1e-12 * max_abs(v));
  }
  REQUIRE_THROWS_AS(gfd::mixture(gfd::kl(), gfd::chi2(), std::nan(""), 1.0), gfd::invalid_argument);
}

TEST_CASE("every velocity vanishes when the particles are the targets (p = q)", "[fixed-point]") {
  const Mat x = random_cloud(2, 150, 13);
  const Vec lw = Vec::Constant(150, -std::log(150.0));
  const gfd::gaussian k;
  const gfd::exact_evaluator ev;
  const gfd::flow_problem<double, Eigen::Dynamic, gfd::gaussian, gfd::exact_evaluator> pb{x, x, lw, k, ev, 0.3, 0.0};
  Mat v;
  for (const auto& d : {gfd::kl(), gfd::reverse_kl(), gfd::chi2(), gfd::reverse_chi2(), gfd::jensen_shannon(),
                        gfd::squared_hellinger(), gfd::alpha_divergence(0.3)}) {
    INFO(d.name());
    const double est = d.velocity(pb, v, true);
    CHECK(max_abs(v) <= 1e-12);
    CHECK(std::abs(est) <= 1e-12);
  }
  gfd::mmd{}.velocity(pb, v, false);
  CHECK(max_abs(v) <= 1e-12);
  gfd::drifting_field{}.velocity(pb, v, false);
  CHECK(max_abs(v) <= 1e-12);
}

TEST_CASE("a cloud collapsed midway between two symmetric modes is stationary although p != q",
          "[fixed-point]") {
  // Targets: two mirror-image clusters at +-3 on the first axis. Particles: all at the origin.
  Mat half = random_cloud(2, 100, 17, 0.3);
  half.row(0).array() += 3.0;
  Mat y(2, 200);
  y << half, -half;
  const Mat x = Mat::Zero(2, 50);
  const Vec lw = Vec::Constant(200, -std::log(200.0));
  const gfd::gaussian k;
  const gfd::exact_evaluator ev;
  const gfd::flow_problem<double, Eigen::Dynamic, gfd::gaussian, gfd::exact_evaluator> pb{x, y, lw, k, ev, 1.0, 0.0};
  Mat v;
  const double kl_value = gfd::kl().velocity(pb, v, true);
  CHECK(max_abs(v) <= 1e-12);
  CHECK(kl_value > 1.0);  // far from p = q
  gfd::reverse_kl().velocity(pb, v, false);
  CHECK(max_abs(v) <= 1e-12);
  gfd::mmd{}.velocity(pb, v, false);
  CHECK(max_abs(v) <= 1e-12);
  // Off the midpoint the same cloud is pushed toward the nearer mode: the point is unstable.
  const Mat x_off = Mat::Constant(2, 50, 0.0).colwise() + Eigen::Vector2d(0.2, 0.0);
  const gfd::flow_problem<double, Eigen::Dynamic, gfd::gaussian, gfd::exact_evaluator> pb_off{x_off, y, lw, k, ev, 1.0, 0.0};
  gfd::kl().velocity(pb_off, v, false);
  CHECK(v.row(0).minCoeff() > 0);
}

namespace {
// Alg. 2 of Deng et al. (2026) transcribed densely, as the paper's pseudo-code reads: logits
// -dist/tau over [targets | particles], self-mask, row and column softmax, geometric mean,
// cross-weighting; distances divided by their mean; each field divided by its RMS.
Mat dense_algorithm2(const Mat& x, const Mat& ypos, const std::vector<double>& temps, bool mask,
                     bool normalise_distances, bool normalise_each) {
  const Eigen::Index n = x.cols(), np = ypos.cols(), d = x.rows();
  Mat yall(d, np + n);
  yall << ypos, x;
  Mat dist(n, np + n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < np + n; ++j) dist(i, j) = (x.col(i) - yall.col(j)).norm();
  double data_scale = 1;
  if (normalise_distances) {
    const double s = dist.mean();
    dist /= s;
    data_scale = s / std::sqrt(static_cast<double>(d));
  }
  if (mask)
    for (Eigen::Index i = 0; i < n; ++i) dist(i, np + i) = std::numeric_limits<double>::infinity();
  Mat total = Mat::Zero(d, n);
  for (double tau : temps) {
    const Mat logit = -dist / tau;
    Mat arow = logit, acol = logit;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double mx = logit.row(i).maxCoeff();
      arow.row(i) = (logit.row(i).array() - mx).exp();
      arow.row(i) /= arow.row(i).sum();
    }
    for (Eigen::Index j = 0; j < np + n; ++j) {
      const double mx = logit.col(j).maxCoeff();
      acol.col(j) = (logit.col(j).array() - mx).exp();
      acol.col(j) /= acol.col(j).sum();
    }
    const Mat a = (arow.array() * acol.array()).sqrt();
    const Mat apos = a.leftCols(np), aneg = a.rightCols(n);
    const Vec spos = apos.rowwise().sum(), sneg = aneg.rowwise().sum();
    // In normalised coordinates y / data_scale, as in the paper's code.
    const Mat v = ((sneg.asDiagonal() * apos) * ypos.transpose() - (spos.asDiagonal() * aneg) * x.transpose())
                      .transpose() / data_scale;
    Mat vn = v;
    if (normalise_each) vn /= std::sqrt(std::max(v.squaredNorm() / static_cast<double>(v.size()), 1e-8));
    total += vn;
  }
  return total * data_scale;  // back to data coordinates
}
}  // namespace

TEST_CASE("joint (Alg. 2) drifting matches a dense transcription of the paper", "[drifting]") {
  const Mat x = random_cloud(2, 40, 21, 1.0, 0.5);
  const Mat y = random_cloud(2, 60, 22, 2.0);
  const Vec lw = Vec::Constant(60, -std::log(60.0));
  const gfd::laplacian k;
  const gfd::exact_evaluator ev;
  SECTION("one temperature, plain distances, with and without self-mask") {
    for (bool mask : {false, true}) {
      const gfd::flow_problem<double, Eigen::Dynamic, gfd::laplacian, gfd::exact_evaluator> pb{x, y, lw, k, ev, 0.7, 0.0};
      gfd::drifting_options o;
      o.norm = gfd::drifting_options::normalisation::joint;
      o.self_mask = mask;
      const Mat v = gfd::drifting_field(o).field(pb);
      const Mat ref = dense_algorithm2(x, y, {0.7}, mask, false, false);
      CHECK(max_abs(v - ref) <= 1e-12 * (1 + max_abs(ref)));
    }
  }
  SECTION("the paper's settings: temperatures 0.02, 0.05, 0.2, normalised distances and fields") {
    const gfd::flow_problem<double, Eigen::Dynamic, gfd::laplacian, gfd::exact_evaluator> pb{x, y, lw, k, ev, 1.0, 0.0};
    gfd::drifting_options paper = gfd::deng_drifting_options();
    paper.affinity_floor = 0;  // the paper's equations; the public code's floor is tested below
    const Mat v = gfd::drifting_field(paper).field(pb);
    const Mat ref = dense_algorithm2(x, y, {0.02, 0.05, 0.2}, true, true, true);
    CHECK(max_abs(v - ref) <= 1e-10 * (1 + max_abs(ref)));
  }
}

namespace {
// Deng et al.'s public drift_loss.py (JAX; the PyTorch port computes the same), its algorithm
// written out densely for one batch without extra negatives or weights: gen = x, targets =
// [gen | pos]; distances sqrt(max(|x - y|^2, 1e-8)); scale = their mean; coordinates divided by
// max(scale / sqrt(d), 1e-3), distances by max(scale, 1e-3), +100 on the self pairs; per R:
// logits -dist / R, row and column softmax, affinity sqrt(max(row * col, 1e-6)), force
// sum_neg * A_pos y - sum_pos * A_neg x (the coefficients sum to 0), divided by
// sqrt(max(mean(force^2), 1e-8)); the goal's offset, back in data coordinates.
Mat public_drift_field(const Mat& x, const Mat& ypos) {
  const std::vector<double> temps{0.02, 0.05, 0.2};
  const Eigen::Index n = x.cols(), np = ypos.cols(), d = x.rows();
  Mat yall(d, n + np);
  yall << x, ypos;
  Mat dist(n, n + np);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n + np; ++j)
      dist(i, j) = std::sqrt(std::max((x.col(i) - yall.col(j)).squaredNorm(), 1e-8));
  const double scale = dist.mean();
  const double s_in = std::max(scale / std::sqrt(static_cast<double>(d)), 1e-3);
  Mat dn = dist / std::max(scale, 1e-3);
  for (Eigen::Index i = 0; i < n; ++i) dn(i, i) += 100.0;
  const Mat xs = x / s_in, ys = ypos / s_in;
  Mat total = Mat::Zero(d, n);
  for (double r : temps) {
    const Mat logit = -dn / r;
    Mat arow = logit, acol = logit;
    for (Eigen::Index i = 0; i < n; ++i) {
      arow.row(i) = (logit.row(i).array() - logit.row(i).maxCoeff()).exp();
      arow.row(i) /= arow.row(i).sum();
    }
    for (Eigen::Index j = 0; j < n + np; ++j) {
      acol.col(j) = (logit.col(j).array() - logit.col(j).maxCoeff()).exp();
      acol.col(j) /= acol.col(j).sum();
    }
    const Mat a = (arow.array() * acol.array()).max(1e-6).sqrt();
    const Mat aneg = a.leftCols(n), apos = a.rightCols(np);
    const Vec sneg = aneg.rowwise().sum(), spos = apos.rowwise().sum();
    const Mat f = ((sneg.asDiagonal() * apos) * ys.transpose() - (spos.asDiagonal() * aneg) * xs.transpose()).transpose();
    total += f / std::sqrt(std::max(f.squaredNorm() / static_cast<double>(f.size()), 1e-8));
  }
  return total * s_in;
}
}  // namespace

TEST_CASE("deng_drifting_options() is the field of Deng et al.'s public code", "[drifting]") {
  const gfd::laplacian k;
  const gfd::exact_evaluator ev;
  for (Eigen::Index n : {64, 200, 512}) {
    for (double sep : {0.0, 2.0, 6.0}) {
      const Mat x = random_cloud(2, n, 40 + n, 1.0);
      const Mat y = random_cloud(2, 2 * n, 41 + n, 0.7, sep);
      const Vec lw = Vec::Constant(2 * n, -std::log(2.0 * static_cast<double>(n)));
      const gfd::flow_problem<double, Eigen::Dynamic, gfd::laplacian, gfd::exact_evaluator> pb{x, y, lw, k, ev, 1.0, 0.0};
      const Mat ref = public_drift_field(x, y);
      const Mat v = gfd::drifting_field(gfd::deng_drifting_options()).field(pb);
      INFO("n = " << n << ", separation " << sep);
      CHECK(max_abs(v - ref) <= 1e-6 * max_abs(ref));
      // Documentation: without the floor the field points elsewhere (the cosine similarity of
      // the two is far from 1 on these clouds).
      gfd::drifting_options no_floor = gfd::deng_drifting_options();
      no_floor.affinity_floor = 0;
      const Mat u = gfd::drifting_field(no_floor).field(pb);
      const double cosine = (u.array() * ref.array()).sum() / (u.norm() * ref.norm());
      CHECK(cosine < 0.999);
    }
  }
  REQUIRE_THROWS_WITH([] {
    gfd::drifting_options o;
    o.affinity_floor = 1.0;
    return gfd::drifting_field(o);
  }(), gfd_test::contains_substring("affinity_floor must be in [0, 1), got 1"));
}

namespace {
// The public drift_loss.py with all its inputs, for G groups ([G, C, d] tensors stored group
// after group as columns): targets = [gen | neg | pos] per group with weights [wg | wn | wp];
// dist = sqrt(max(|x - y|^2, 1e-8)); scale = mean(dist * w) / mean(w) over every group, row
// and column; coordinates / max(scale / sqrt(d), 1e-3), distances / max(scale, 1e-3), +100 on
// the self pairs; per R: row and column softmax of -dist / R, A = sqrt(max(row * col, 1e-6)) w,
// force = sum_neg(A) A_pos y - sum_pos(A) A_neg y - (sum of the coefficients) x, divided by
// sqrt(max(mean(force^2) over all groups, 1e-8)); the goal's offset back in data units.
Mat public_drift_loss(Eigen::Index groups, const Mat& gen, const Mat& pos, const Mat& neg, const Vec& wg,
                      const Vec& wp, const Vec& wn, const std::vector<double>& temps) {
  const Eigen::Index d = gen.rows(), cg = gen.cols() / groups, cp = pos.cols() / groups, cn = neg.cols() / groups;
  const Eigen::Index cols = cg + cn + cp;
  std::vector<Mat> ys(static_cast<std::size_t>(groups)), dist(static_cast<std::size_t>(groups));
  std::vector<Vec> ws(static_cast<std::size_t>(groups));
  double sum_wd = 0, sum_w = 0;
  for (Eigen::Index b = 0; b < groups; ++b) {
    Mat y(d, cols);
    Vec w(cols);
    y << gen.middleCols(b * cg, cg), neg.middleCols(b * cn, cn), pos.middleCols(b * cp, cp);
    w << wg.segment(b * cg, cg), wn.segment(b * cn, cn), wp.segment(b * cp, cp);
    Mat dd(cg, cols);
    for (Eigen::Index i = 0; i < cg; ++i)
      for (Eigen::Index j = 0; j < cols; ++j) {
        dd(i, j) = std::sqrt(std::max((gen.col(b * cg + i) - y.col(j)).squaredNorm(), 1e-8));
        sum_wd += dd(i, j) * w(j);
      }
    sum_w += w.sum();
    ys[static_cast<std::size_t>(b)] = y;
    ws[static_cast<std::size_t>(b)] = w;
    dist[static_cast<std::size_t>(b)] = dd;
  }
  const double scale = (sum_wd / static_cast<double>(groups * cg * cols)) / (sum_w / static_cast<double>(groups * cols));
  const double s_in = std::max(scale / std::sqrt(static_cast<double>(d)), 1e-3);
  Mat total = Mat::Zero(d, groups * cg);
  for (double r : temps) {
    Mat f(d, groups * cg);
    for (Eigen::Index b = 0; b < groups; ++b) {
      const auto k = static_cast<std::size_t>(b);
      Mat dn = dist[k] / std::max(scale, 1e-3);
      for (Eigen::Index i = 0; i < cg; ++i) dn(i, i) += 100.0;
      const Mat logit = -dn / r;
      Mat arow = logit, acol = logit;
      for (Eigen::Index i = 0; i < cg; ++i) {
        arow.row(i) = (logit.row(i).array() - logit.row(i).maxCoeff()).exp();
        arow.row(i) /= arow.row(i).sum();
      }
      for (Eigen::Index j = 0; j < cols; ++j) {
        acol.col(j) = (logit.col(j).array() - logit.col(j).maxCoeff()).exp();
        acol.col(j) /= acol.col(j).sum();
      }
      const Mat a = (arow.array() * acol.array()).max(1e-6).sqrt().matrix() * ws[k].asDiagonal();
      const Mat aneg = a.leftCols(cg + cn), apos = a.rightCols(cp);
      const Vec sneg = aneg.rowwise().sum(), spos = apos.rowwise().sum();
      Mat coeff(cg, cols);
      coeff << -(spos.asDiagonal() * aneg), sneg.asDiagonal() * apos;
      const Mat yscaled = ys[k] / s_in;
      const Mat xscaled = gen.middleCols(b * cg, cg) / s_in;
      f.middleCols(b * cg, cg) = yscaled * coeff.transpose() - xscaled * coeff.rowwise().sum().asDiagonal();
    }
    total += f / std::sqrt(std::max(f.squaredNorm() / static_cast<double>(f.size()), 1e-8));
  }
  return total * s_in;
}
}  // namespace

TEST_CASE("grouped_drifting_field is the public drift_loss with negatives and weights", "[drifting][conditional]") {
  const std::vector<double> temps{0.02, 0.05, 0.2};
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto weights = [&](Eigen::Index n, double scale) {
    Vec w(n);
    for (Eigen::Index i = 0; i < n; ++i) w(i) = scale * (0.2 + u(rng));
    return w;
  };
  for (Eigen::Index groups : {1, 3}) {
    for (Eigen::Index cg : {8, 64}) {
      for (double sep : {0.0, 3.0}) {
        const Eigen::Index cp = 48, cn = 16;
        gfd::drift_groups in;
        in.groups = groups;
        in.generated = random_cloud(2, groups * cg, 70 + cg, 1.0);
        in.positives = random_cloud(2, groups * cp, 71 + cg, 0.6, sep);
        in.negatives = random_cloud(2, groups * cn, 72 + cg, 1.5, -sep);
        in.generated_weights = weights(groups * cg, 1.0);
        in.positive_weights = weights(groups * cp, 1.0);
        in.negative_weights = weights(groups * cn, 2.5);  // CFG-like: unconditional data weighted up
        const Mat ref = public_drift_loss(groups, in.generated, in.positives, in.negatives, in.generated_weights,
                                          in.positive_weights, in.negative_weights, temps);
        const Mat v = gfd::grouped_drifting_field(in, gfd::deng_drifting_options(), gfd::laplacian{});
        INFO(groups << " groups of " << cg << ", separation " << sep);
        REQUIRE(v.rows() == 2);
        REQUIRE(v.cols() == groups * cg);
        CHECK(max_abs(v - ref) <= 1e-6 * max_abs(ref));
      }
    }
  }
}

TEST_CASE("one group, no negatives, unit weights: grouped_drifting_field is drifting_field", "[drifting][conditional]") {
  const gfd::laplacian k;
  const gfd::exact_evaluator ev;
  for (double floor : {0.0, 1e-3}) {
    gfd::drifting_options o = gfd::deng_drifting_options();
    o.affinity_floor = floor;
    const Mat x = random_cloud(2, 100, 81, 1.0);
    const Mat y = random_cloud(2, 150, 82, 0.7, 1.5);
    const Vec lw = Vec::Constant(150, -std::log(150.0));
    const gfd::flow_problem<double, Eigen::Dynamic, gfd::laplacian, gfd::exact_evaluator> pb{x, y, lw, k, ev, 1.0, 0.0};
    const Mat v = gfd::drifting_field(o).field(pb);
    gfd::drift_groups in;
    in.generated = x;
    in.positives = y;
    const Mat g = gfd::grouped_drifting_field(in, o, k);
    INFO("floor " << floor);
    CHECK(max_abs(g - v) <= 1e-12 * max_abs(v));
    // Two copies of the problem as two groups: each group's field is unchanged (the distance
    // scale and the RMS are over all groups, the same here).
    gfd::drift_groups two;
    two.groups = 2;
    two.generated = Mat(2, 200);
    two.generated << x, x;
    two.positives = Mat(2, 300);
    two.positives << y, y;
    const Mat g2 = gfd::grouped_drifting_field(two, o, k);
    CHECK(max_abs(g2.leftCols(100) - v) <= 1e-12 * max_abs(v));
    CHECK(max_abs(g2.rightCols(100) - v) <= 1e-12 * max_abs(v));
  }
}

TEST_CASE("guidance weights: negatives of weight 0 change only the softmaxes, and a larger omega "
          "pushes harder away from the unconditional data", "[drifting][conditional]") {
  // Generated samples sit between the class (right) and the other data (left): with more weight
  // on the unconditional negatives, the field points further right on average.
  const Mat x = random_cloud(2, 64, 91, 0.5);
  const Mat pos = random_cloud(2, 64, 92, 0.5, 1.0);
  const Mat neg = random_cloud(2, 32, 93, 0.5, -1.0);
  double previous = -1e300;
  for (double omega : {1.0, 2.0, 4.0}) {
    gfd::drift_groups in;
    in.generated = x;
    in.positives = pos;
    in.negatives = neg;
    in.negative_weights = Vec::Constant(32, 63.0 * (omega - 1.0) / 32.0);
    gfd::drifting_options o = gfd::deng_drifting_options();
    o.affinity_floor = 0;
    o.normalise_each = false;  // keep magnitudes comparable across omega
    const Mat v = gfd::grouped_drifting_field(in, o, gfd::laplacian{});
    const double right = v.row(0).mean() + v.row(1).mean();
    INFO("omega " << omega << ": mean push " << right);
    CHECK(right > previous);
    previous = right;
  }
  gfd::drift_groups bad;
  bad.generated = x;
  bad.positives = pos;
  bad.negatives = neg;
  bad.negative_weights = Vec::Constant(32, -1.0);
  CHECK_THROWS_WITH(gfd::grouped_drifting_field(bad, gfd::deng_drifting_options(), gfd::laplacian{}),
                    gfd_test::contains_substring("negative weight 0 must be finite and >= 0, got -1"));
  bad.negative_weights.resize(0);
  bad.groups = 3;
  CHECK_THROWS_WITH(gfd::grouped_drifting_field(bad, gfd::deng_drifting_options(), gfd::laplacian{}),
                    gfd_test::contains_substring("generated has 64 columns, not a positive multiple of the 3 groups"));
  bad.groups = 1;
  bad.positives = Mat(3, 10);
  bad.positives.setZero();
  CHECK_THROWS_WITH(gfd::grouped_drifting_field(bad, gfd::deng_drifting_options(), gfd::laplacian{}),
                    gfd_test::contains_substring("positives has dimension 3"));
  CHECK_THROWS_WITH(gfd::grouped_drifting_field(bad, gfd::drifting_options{}, gfd::laplacian{}),
                    gfd_test::contains_substring("only the joint"));
}

TEST_CASE("no velocity is NaN or Inf, however far apart the clouds are", "[finite]") {
  for (double sep : {0.0, 1e2, 1e3, 1e5}) {
    INFO("separation " << sep);
    const Mat x = random_cloud(2, 30, 31, 0.1, sep);
    const Mat y = random_cloud(2, 40, 32, 0.1);
    const Vec lw = Vec::Constant(40, -std::log(40.0));
    auto run_all = [&](const auto& k) {
      using K = std::decay_t<decltype(k)>;
      const gfd::exact_evaluator ev;
      const gfd::flow_problem<double, Eigen::Dynamic, K, gfd::exact_evaluator> pb{x, y, lw, k, ev, 0.1, 0.0};
      Mat v;
      for (const auto& d : {gfd::kl(), gfd::reverse_kl(), gfd::chi2(), gfd::reverse_chi2(),
                            gfd::jensen_shannon(), gfd::squared_hellinger(), gfd::alpha_divergence(-1.0)}) {
        INFO(d.name() << " with " << K::name);
        CHECK(std::isfinite(d.velocity(pb, v, true)));
        CHECK(v.allFinite());
      }
      CHECK(std::isfinite(gfd::mmd{}.velocity(pb, v, true)));
      CHECK(v.allFinite());
      CHECK(std::isfinite(gfd::drifting_field{}.velocity(pb, v, true)));
      CHECK(v.allFinite());
      CHECK(std::isfinite(gfd::drifting_field(gfd::deng_drifting_options()).velocity(pb, v, true)));
      CHECK(v.allFinite());
      const gfd::mixture mix(gfd::reverse_kl(), gfd::chi2(), 1.0, 1.0);
      CHECK(std::isfinite(mix.velocity(pb, v, true)));
      CHECK(v.allFinite());
    };
    run_all(gfd::gaussian{});
    run_all(gfd::laplacian{});
    run_all(gfd::epanechnikov{});
    run_all(gfd::inverse_multiquadric{});
  }
}

TEST_CASE("ratios are clamped as documented", "[f-divergence]") {
  const gfd::f_divergence d = gfd::chi2({.max_log_ratio = 3.0, .normalise = false});
  gfd::local_fields<double> lf;
  lf.log_p = Vec::Constant(3, 0.0);
  lf.log_q = (Vec(3) << 10.0, -10.0, 1.0).finished();
  const Vec w = d.weights(lf);
  CHECK(w(0) == Approx(2 * std::exp(3.0)));
  CHECK(w(1) == Approx(2 * std::exp(-3.0)));
  CHECK(w(2) == Approx(2 * std::exp(1.0)));
  const Vec wn = gfd::chi2({.max_log_ratio = 3.0, .normalise = true}).weights(lf);
  CHECK(wn.mean() == Approx(1.0));
  CHECK(wn(0) / wn(2) == Approx(w(0) / w(2)));
  REQUIRE_THROWS_AS(gfd::chi2({.max_log_ratio = 0.0}), gfd::invalid_argument);
  REQUIRE_THROWS_AS(gfd::drifting_field(gfd::drifting_options{.temperatures = {0.1, -1.0}}), gfd::invalid_argument);
}

#ifdef _OPENMP
TEST_CASE("the drifting field does not depend on the number of threads", "[drifting][threads]") {
  // Large enough for every parallel loop (kernel passes and the mean distance) to use threads.
  const Mat x = gfd_test::random_cloud(2, 400, 71, 0.5);
  const Mat y = gfd_test::random_cloud(2, 500, 72, 1.0, 0.5);
  const Vec lw = Vec::Constant(500, -std::log(500.0));
  const gfd::laplacian k;
  const gfd::exact_evaluator ev;
  const gfd::flow_problem<double, Eigen::Dynamic, gfd::laplacian, gfd::exact_evaluator> pb{x, y, lw, k, ev, 1.0, 0.0};
  const gfd::drifting_field deng(gfd::deng_drifting_options());
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const Mat v1 = deng.field(pb);
  omp_set_num_threads(2);
  const Mat v2 = deng.field(pb);
  omp_set_num_threads(3);
  const Mat v3 = deng.field(pb);
  omp_set_num_threads(before);
  CHECK(v1 == v2);  // bit for bit
  CHECK(v1 == v3);
}
#endif

TEST_CASE("one flow step with dt 1, no cap and h = 1 moves each particle by Deng's field", "[drifting][flow]") {
  // What `gfd drift --divergence drifting-deng --kernel laplacian --steps 1 --dt 1
  // --max-displacement 0 --bandwidth 1 --holdout 0` asks of the library: x1 - x0 = V(x0).
  const Mat x0 = random_cloud(2, 150, 91, 0.5);
  const Mat y = random_cloud(2, 300, 92, 1.0, 1.5);
  gfd::flow_options o;
  o.max_steps = 1;
  o.dt = 1;
  o.max_displacement = 0;
  o.bandwidth = gfd::bandwidth_schedule::fixed(1.0);
  const gfd::drifting_field deng(gfd::deng_drifting_options());
  const auto [x1, rep] = gfd::flow<gfd::laplacian>(y, o).run_from(x0, deng);
  REQUIRE(rep.steps == 1);
  const Vec lw = Vec::Constant(300, -std::log(300.0));
  const gfd::laplacian k;
  const gfd::exact_evaluator ev;
  const gfd::flow_problem<double, Eigen::Dynamic, gfd::laplacian, gfd::exact_evaluator> pb{x0, y, lw, k, ev, 1.0, 0.0};
  const Mat v = deng.field(pb);
  CHECK(max_abs((x1 - x0) - v) <= 1e-12 * max_abs(v));
  // And that field is the public code's (see above).
  CHECK(max_abs(v - public_drift_field(x0, y)) <= 1e-6 * max_abs(v));
}
