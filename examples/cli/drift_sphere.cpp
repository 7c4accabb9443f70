// SPDX-License-Identifier: MIT
/// @file drift_sphere.cpp
/// @brief `gfd drift --manifold sphere`: flows on the unit sphere S^{d-1} toward a von
///        Mises-Fisher mixture, the uniform distribution or a file of unit vectors, with geodesic
///        metrics and, on S^2, a picture of two orthographic hemispheres.
///
/// The flow is gfd::flow<Kernel, double, Dynamic, Evaluator, gfd::unit_sphere>: velocities
/// projected on tangent spaces, steps along great circles (Exp_x) or with the projection
/// retraction (x + v) / |x + v| (--retraction).
///
/// Kernels are the tool's usual ones, applied to the chordal distance |x - y| = 2 sin(theta/2)
/// between unit vectors. The default gaussian kernel is then exactly the von Mises-Fisher kernel:
/// exp(-|x - y|^2 / 2h^2) = e^{-kappa} exp(kappa <x, y>) with kappa = 1/h^2; bandwidths are
/// chordal (~ angles for small h).
///
/// Input points must be unit vectors to within 1e-6 (the library's unit_sphere tolerance);
/// others are rejected with exit code 2, naming the file, the data row and the norm, unless
/// --normalise asks to project them (x / |x|).

#include "drift.hpp"

#include <gfd/bandwidth.hpp>
#include <gfd/sphere.hpp>
#include <gfd/toy.hpp>

#include <filesystem>
#include <numbers>

namespace gfd_cli {
namespace {

/// Options that exist only on the sphere (rejected with --manifold euclidean).
const std::vector<std::string> sphere_only_options{"--dim", "--modes", "--kappa", "--normalise",
                                                   "--retraction"};
/// Accepted | |x| - 1 | of input points: the library's unit_sphere tolerance.
constexpr double sphere_tolerance = gfd::unit_sphere{}.tolerance;

}  // namespace

void add_sphere_options(CLI::App* drift, sphere_args& s) {
  drift
      ->add_option("--manifold", s.manifold,
                   "euclidean (R^d) or sphere (the unit sphere S^(d-1); targets vmf-mixture "
                   "(default), sphere-uniform or a file of unit vectors, start uniform on the "
                   "sphere; the kernel acts on the chordal distance, gaussian = von Mises-Fisher "
                   "exp(kappa <x,y>), kappa = 1/h^2)")
      ->check(CLI::IsMember({"euclidean", "sphere"}))
      ->capture_default_str();
  drift->add_option("--dim", s.dim, "Sphere toys: ambient dimension d (the sphere S^(d-1))")
      ->check(CLI::Range(2L, 100000L))
      ->capture_default_str();
  drift->add_option("--modes", s.modes, "vmf-mixture: number of components")
      ->check(CLI::Range(1L, 100000L))
      ->capture_default_str();
  drift->add_option("--kappa", s.kappa, "vmf-mixture: concentration of each component (> 0)")
      ->capture_default_str();
  drift->add_flag("--normalise", s.normalise,
                  "Sphere: project file points whose norm is off 1 by more than 1e-6 onto the "
                  "sphere (x/|x|) instead of rejecting them");
  drift->add_flag("--retraction", s.retraction,
                  "Sphere: step with the projection retraction (x+v)/|x+v| instead of the exact "
                  "exponential map");
}

/// Whether the sphere command applies; rejects sphere-only options on the Euclidean path.
bool sphere_requested(const CLI::App& drift, const sphere_args& s) {
  if (s.manifold == "sphere") return true;
  for (const auto& o : sphere_only_options)
    if (drift.count(o) > 0)
      throw usage_error(o + " applies only with --manifold sphere (the manifold is " + s.manifold +
                        ")");
  return false;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Input on the sphere
// ---------------------------------------------------------------------------------------------

/// Points of `path` (given to `option`), checked to lie on the unit sphere, or projected on it
/// with --normalise. Appends a note on what was normalised to `notes`.
Eigen::MatrixXd sphere_points(Eigen::MatrixXd x, const std::string& option,
                              const std::string& path, bool normalise, std::string& notes) {
  const std::string who = option + " " + path;
  if (x.rows() < 2)
    throw usage_error(who + ": the points have dimension " + std::to_string(x.rows()) +
                      "; the unit sphere S^(d-1) needs d >= 2");
  long moved = 0;
  double worst = 0;
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    const double r = x.col(i).norm();
    const std::string row = "data row " + std::to_string(i + 1) + " (not counting a header)";
    if (!(std::isfinite(r) && r > 0))
      throw usage_error(who + ": " + row + " has norm " + num(r) +
                        ": not a direction, cannot be put on the sphere");
    const double off = std::abs(r - 1.0);
    if (off > sphere_tolerance) {
      if (!normalise) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s has norm %.12g (| |x| - 1 | = %.3g > %.0e)", row.c_str(),
                      r, off, sphere_tolerance);
        throw usage_error(who + ": " + buf + ": not on the unit sphere S^" +
                          std::to_string(x.rows() - 1) +
                          "; pass --normalise to project every point onto it (x/|x|)");
      }
      ++moved;
      worst = std::max(worst, off);
    }
    if (normalise) x.col(i) /= r;
  }
  if (normalise)
    notes += "  " + who + ": --normalise projected " + std::to_string(moved) + " of " +
             std::to_string(x.cols()) + " points onto the sphere" +
             (moved ? " (largest | |x| - 1 | was " + num(worst) + ")" : "") + "\n";
  return x;
}

/// Everything a run on the sphere needs besides its options.
struct sphere_problem : drift_problem {
  std::string start_name, notes;
  std::optional<gfd::sphere::vmf_mixture_params> mixture;
};

sphere_problem make_sphere_problem(const drift_args& a, const sphere_args& s,
                                   const CLI::App& drift) {
  sphere_problem p;
  const std::uint64_t seed = a.seed;
  // On the sphere the default target is the vMF mixture; the plane's toys do not apply.
  const std::string target = drift.count("--target") > 0 ? a.target : "vmf-mixture";
  const bool toy = target == "vmf-mixture" || target == "sphere-uniform";
  if (!toy && is_toy(target))
    throw usage_error("--target " + target +
                      ": a toy of the plane, not of the sphere; with --manifold sphere use "
                      "vmf-mixture, sphere-uniform or a .csv/.npy file of unit vectors");
  if (toy) {
    if (target != "vmf-mixture")
      for (const char* o : {"--modes", "--kappa"})
        if (drift.count(o) > 0)
          throw usage_error(std::string(o) + " applies to --target vmf-mixture, not " + target);
    if (!(std::isfinite(s.kappa) && s.kappa > 0))
      throw usage_error("--kappa: the concentration must be finite and > 0, got " + num(s.kappa));
  } else {
    for (const char* o : {"--dim", "--modes", "--kappa"})
      if (drift.count(o) > 0)
        throw usage_error(std::string(o) + " applies to the sphere toys (vmf-mixture, "
                          "sphere-uniform); the target " + target + " is a file");
  }
  const bool init_file = drift.count("--init") > 0 && a.init != "uniform";
  if (init_file && a.init == "gaussian")
    throw usage_error("--init gaussian: no Gaussian on the sphere; use --init uniform (the "
                      "default there) or a .csv/.npy file of unit vectors");
  if (s.normalise && toy && !init_file)
    throw usage_error("--normalise applies to files (--target FILE or --init FILE); the toy " +
                      target + " and the uniform start are on the sphere already");

  // 1. Targets (and, for a file, the held-out part).
  Eigen::Index held = 0, train = 0;
  Eigen::MatrixXd file_points;
  std::vector<Eigen::Index> perm;
  // With --init FILE the file gives N, and a toy's M defaults to it as it does to --n.
  if (toy && init_file)
    p.start = sphere_points(read_cloud(a.init, s.dim).points, "--init", a.init, s.normalise, p.notes);
  const Eigen::Index m = a.m > 0 ? a.m : toy && init_file ? p.start.cols() : a.n;
  if (toy) {
    const Eigen::Index d = s.dim;
    for (Eigen::Index k = 0; k < d; ++k) p.columns.push_back(gfd::default_column_name(k));
    if (target == "vmf-mixture") {
      auto mix = gfd::sphere::vmf_mixture(d, s.modes, s.kappa, m, seed);
      p.targets = std::move(mix.points);
      p.mixture = std::move(mix.mixture);
      p.target_name = std::to_string(s.modes) + " vMF modes (kappa " + num(s.kappa) + ")";
    } else {
      p.targets = gfd::sphere::uniform(d, m, seed);
      p.target_name = "the uniform distribution";
    }
  } else {
    if (!std::filesystem::exists(target) && std::filesystem::path(target).extension().empty())
      throw usage_error("--target " + target + ": neither a sphere toy (vmf-mixture, "
                        "sphere-uniform) nor an existing .csv/.npy file");
    gfd::table t = read_cloud(target);
    p.columns = t.columns;
    file_points = sphere_points(std::move(t.points), "--target", target, s.normalise, p.notes);
    p.target_name = std::filesystem::path(target).filename().string();
    const target_split split = split_targets(file_points.cols(), a);
    perm = split.perm;
    held = split.held;
    train = split.train;
    p.targets = columns_of(file_points, perm, static_cast<std::size_t>(held),
                           static_cast<std::size_t>(train));
  }
  if (p.targets.cols() < 2) throw usage_error("the target has fewer than 2 points");
  const Eigen::Index d = p.targets.rows();

  // 2. The start: uniform on the sphere, or a file.
  if (init_file) {
    if (!toy) p.start = sphere_points(read_cloud(a.init, d).points, "--init", a.init, s.normalise, p.notes);
    if (p.start.cols() < 2) throw usage_error("--init " + a.init + ": needs at least 2 particles");
    p.start_name = std::filesystem::path(a.init).filename().string();
  } else {
    p.start = gfd::sphere::uniform(d, a.n, seed + 1);
    p.start_name = "uniform";
  }
  const Eigen::Index n = p.start.cols();

  // 3. Held-out and reference samples (the reference against the held-out set is the
  //    two-sample noise floor).
  if (toy) {
    std::mt19937_64 rh(seed + 2), rr(seed + 3);
    p.heldout = p.mixture ? gfd::sphere::sample(*p.mixture, n, rh) : gfd::sphere::uniform(d, n, rh);
    p.reference =
        p.mixture ? gfd::sphere::sample(*p.mixture, n, rr) : gfd::sphere::uniform(d, n, rr);
    p.heldout_note = std::to_string(n) + " fresh target samples (seed " +
                     std::to_string(seed + 2) + ")";
    p.reference_note = "another " + std::to_string(n) + " (seed " + std::to_string(seed + 3) +
                       ") vs the held-out set: the two-sample noise floor";
  } else if (held > 0) {
    p.heldout = columns_of(file_points, perm, 0, static_cast<std::size_t>(held));
    const Eigen::Index ref = std::min<Eigen::Index>(train, n);
    p.reference = p.targets.leftCols(ref);
    p.heldout_note = std::to_string(held) + " points of the file held out at random (" +
                     num(100 * a.holdout) + "%, never seen by the flow)";
    p.reference_note = std::to_string(ref) + " of the " + std::to_string(train) +
                       " training points vs the held-out set: the two-sample noise floor";
  } else {
    p.heldout = file_points;
    p.reference = p.targets;
    p.heldout_note = "the whole file (too few points to hold some out, or --holdout 0): the "
                     "metrics are optimistic";
    p.reference_note = "the flow's targets vs the whole file";
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Metrics on the sphere
// ---------------------------------------------------------------------------------------------

struct sphere_metrics {
  double mmd_vmf = 0, mmd_geo = 0, norm_error = 0;
  std::optional<gfd::coverage> cov;
};

/// Largest | |x_i| - 1 | over the columns.
double max_norm_error(const Eigen::MatrixXd& x) {
  return (x.colwise().norm().array() - 1.0).abs().maxCoeff();
}

/// Radius of a mode for the coverage: 3 angular scales 1/sqrt(kappa) (~99% of a component on
/// S^2), or 1.5 typical angles acos(A_d(kappa)) in high dimension, where the angle to the
/// centre concentrates around the typical one; whichever is larger, at most pi.
double coverage_radius(const gfd::sphere::vmf_mixture_params& mix) {
  return std::min(std::numbers::pi,
                  std::max(3.0 * mix.angular_scale(), 1.5 * mix.typical_angle()));
}

sphere_metrics measure_sphere(const Eigen::MatrixXd& x, const sphere_problem& p, double h_chord,
                              double h_angle) {
  sphere_metrics m;
  m.mmd_vmf = gfd::sphere::mmd2_unbiased(x, p.heldout, h_chord);
  m.mmd_geo = gfd::sphere::mmd2_unbiased(x, p.heldout, h_angle,
                                         gfd::sphere::mmd_kernel::geodesic_gaussian);
  m.norm_error = max_norm_error(x);
  if (p.mixture) {
    // Covered: at least a tenth of a fair share N/K near the mode (as `gfd drift` in the plane).
    const auto k = p.mixture->centres.cols();
    const int min_count = static_cast<int>(std::max<Eigen::Index>(1, x.cols() / (10 * k)));
    m.cov = gfd::sphere::mode_coverage(x, p.mixture->centres, coverage_radius(*p.mixture),
                                       min_count);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Pictures: S^2 as two orthographic hemispheres, S^1 as the circle itself
// ---------------------------------------------------------------------------------------------

/// Orthographic view of the hemisphere x2 >= 0 (north, seen from above: (x0, x1)) or x2 < 0
/// (south, seen from below: (x0, -x1), so that the picture is not mirrored). At most
/// `max_points` points, evenly strided.
Eigen::MatrixXd hemisphere(const Eigen::MatrixXd& x, bool north, std::size_t max_points = picture_points) {
  const Eigen::Index stride =
      std::max<Eigen::Index>(1, x.cols() / static_cast<Eigen::Index>(max_points));
  std::vector<Eigen::Index> keep;
  for (Eigen::Index i = 0; i < x.cols(); i += stride)
    if ((x(2, i) >= 0) == north) keep.push_back(i);
  Eigen::MatrixXd out(2, static_cast<Eigen::Index>(keep.size()));
  for (std::size_t k = 0; k < keep.size(); ++k) {
    out(0, static_cast<Eigen::Index>(k)) = x(0, keep[k]);
    out(1, static_cast<Eigen::Index>(k)) = north ? x(1, keep[k]) : -x(1, keep[k]);
  }
  return out;
}

/// The rim of a hemisphere (the unit circle) as a ring of small dots.
plot::layer rim_layer() {
  plot::layer l;
  const int n = 720;
  l.points.resize(2, n);
  for (int i = 0; i < n; ++i) {
    const double a = 2 * std::numbers::pi * i / n;
    l.points.col(i) << std::cos(a), std::sin(a);
  }
  l.colour = {0.2, 0.2, 0.22, 0.8};
  l.radius = 0.45;
  return l;
}

plot::layer flat_layer(const Eigen::MatrixXd& pts, plot::layer l) {
  l.points = pts;
  return l;
}

// ---------------------------------------------------------------------------------------------
// gfd drift --manifold sphere
// ---------------------------------------------------------------------------------------------

/// The sphere's part of the drift pipeline (drift.hpp).
class sphere_space {
public:
  sphere_space(const drift_args& a, const sphere_args& s, const CLI::App& drift)
      : a(a), s(s), drift(drift) {}

  // Pictures exist for S^1 and S^2 only, so the default is chosen once the dimension is known.
  void before_run(bool, std::string&) const {}
  void adjust(gfd::flow_options& opt) const { opt.retraction = s.retraction; }
  void make_problem() { p = make_sphere_problem(a, s, drift); }
  [[nodiscard]] const drift_problem& problem() const { return p; }
  [[nodiscard]] drift_problem& problem() { return p; }

  // An explicit --png beyond S^2 is a usage error, the no-option demo just says so.
  void after_problem(bool explicit_outputs, std::string& png) {
    const Eigen::Index d = p.targets.rows();
    if (!png.empty() && d > 3)
      throw usage_error("--png " + png + ": pictures are drawn on S^1 and S^2 (d = 2, 3) only; "
                        "this run is on S^" + std::to_string(d - 1) + " (d = " + std::to_string(d) +
                        ")");
    if (!explicit_outputs) {
      if (d > 3)
        no_picture = "no picture: pictures are drawn on S^1 and S^2 only (d = " + std::to_string(d) +
                     "); use --out FILE to save the particles";
      else if (plot::available)
        png = "gfd-drift-sphere.png";
      else
        no_picture = "no picture: built without Cairo; use --out FILE to save the particles";
    }
  }

  void print_header(const std::string& title, const std::string& bw_desc) const {
    const Eigen::Index d = p.targets.rows();
    std::cout << "gfd drift: " << title << " flow on the sphere S^" << d - 1 << " toward "
              << p.target_name << ", N = " << p.start.cols() << " particles (start: " << p.start_name
              << "), M = " << p.targets.cols() << " targets, d = " << d << "\n"
              << "  " << a.kernel << " kernel of the chordal distance"
              << (a.kernel == "gaussian" ? " (= von Mises-Fisher, kappa = 1/h^2)" : "")
              << ", bandwidth " << bw_desc << ", " << a.stepper << " dt = " << num(a.dt)
              << " (units of h^2) along the " << step_name() << ", " << a.steps << " steps, seed "
              << a.seed << parallelism_note(thread_count()) << "\n"
              << p.notes;
  }

  // Snapshot steps: start, end, and evenly spaced ones between (3 panels unless --snapshots).
  [[nodiscard]] int panels() const {
    return drift.count("--snapshots") > 0 ? std::max(2, a.snapshots) : 3;
  }
  [[nodiscard]] gfd::unit_sphere manifold() const { return gfd::unit_sphere{sphere_tolerance}; }

  // Metrics: one bandwidth per kernel for every column. Scott's rule on the held-out set (a
  // chord), and the same as an angle: the scale of a KDE of the target, where missing or
  // misshapen modes show (the median distance, the plane's choice, is the scale of the whole
  // sphere and hardly tells a uniform cloud from a six-mode mixture on S^2).
  void prepare_metrics() {
    // A held-out set whose points coincide has no Scott bandwidth: then the rule on held-out and
    // start points together (the uniform start spreads them).
    if (gfd::detail::size_and_spread(gfd::cloud_view<double>(p.heldout)).second > 0) {
      h_chord = gfd::choose_bandwidth(gfd::bandwidth_rule::scott, gfd::cloud_view<double>(p.heldout));
    } else {
      Eigen::MatrixXd both(p.heldout.rows(), p.heldout.cols() + p.start.cols());
      both << p.heldout, p.start;
      h_chord = gfd::choose_bandwidth(gfd::bandwidth_rule::scott, gfd::cloud_view<double>(both));
    }
    h_angle = 2 * std::asin(std::min(1.0, h_chord / 2));
  }
  [[nodiscard]] sphere_metrics measure(const Eigen::MatrixXd& x) const {
    return measure_sphere(x, p, h_chord, h_angle);
  }
  void check_final(const sphere_metrics& m1) const {
    if (!std::isfinite(m1.mmd_vmf) || !std::isfinite(m1.mmd_geo))
      throw gfd::numerical_error("the final geodesic MMD^2 is not finite");
  }

  void print_metrics(const sphere_metrics& m0, const sphere_metrics& m1,
                     const sphere_metrics& mr) const {
    std::cout << "Metrics on the sphere against the held-out set: " << p.heldout_note << "\n"
              << "  (reference = " << p.reference_note << ";\n"
              << "   MMD bandwidth: Scott's rule on the held-out set, chord " << num(h_chord)
              << " = angle " << num(h_angle) << " rad)\n\n";
    auto row = [](const std::string& name, const std::string& a0, const std::string& a1,
                  const std::string& ar) {
      std::printf("  %-46s %12s %12s %12s\n", name.c_str(), a0.c_str(), a1.c_str(), ar.c_str());
    };
    row("", "start", "final", "reference");
    row("geodesic MMD^2, vMF kernel (kappa = " + num(1 / (h_chord * h_chord)) + ")",
        num(m0.mmd_vmf), num(m1.mmd_vmf), num(mr.mmd_vmf));
    row("geodesic MMD^2, Gaussian in angle (h = " + num(h_angle) + ")", num(m0.mmd_geo),
        num(m1.mmd_geo), num(mr.mmd_geo));
    if (p.mixture) {
      auto cov = [](const sphere_metrics& v) {
        return std::to_string(v.cov->modes_covered) + "/" + std::to_string(v.cov->modes);
      };
      auto near = [](const sphere_metrics& v) { return fmt("%.1f%%", 100 * v.cov->fraction_near); };
      row("modes covered (>= N/10K points)", cov(m0), cov(m1), cov(mr));
      row("within " + num(coverage_radius(*p.mixture)) + " rad of a mode", near(m0), near(m1),
          near(mr));
    }
    row("max | |x| - 1 |", num(m0.norm_error), num(m1.norm_error), num(mr.norm_error));
    std::cout << "\n  final geodesic MMD^2 (vMF kernel) " << num(m1.mmd_vmf) << ", noise floor "
              << num(mr.mmd_vmf) << "; start " << num(m0.mmd_vmf) << "\n";
  }

  void draw(const std::string& png, const drift_context& c, const sphere_metrics& m1,
            const sphere_metrics& mr) const {
    const Eigen::Index d = p.targets.rows();
    const auto& panel_shots = c.run.panel_shots;
    plot::figure fig;
    fig.title = c.title + " flow on " + (d == 3 ? "S\u00b2" : "S\u00b9") + " toward " +
                p.target_name;
    fig.subtitle = "N = " + std::to_string(p.start.cols()) + ", M = " + std::to_string(p.targets.cols()) +
                   ", " + (a.kernel == "gaussian" ? "vMF" : a.kernel) + " kernel, h " +
                   c.bandwidths + ", " + a.stepper + " dt = " + num3(a.dt) + ", " + step_name();
    // The final metrics, under the title of the last panel of the first row.
    std::vector<std::string> final_notes{"MMD\u00b2 " + num3(m1.mmd_vmf) + " (floor " +
                                         num3(mr.mmd_vmf) + ")"};
    if (p.mixture)
      final_notes.back() += ", " + std::to_string(m1.cov->modes_covered) + "/" +
                            std::to_string(m1.cov->modes) + " modes";
    fig.limits = plot::box{-1.1, 1.1, -1.1, 1.1};
    fig.panel_width = 260;
    fig.columns = static_cast<int>(panel_shots.size());
    fig.x_label = p.columns[0];
    plot::layer tl = target_layer(p.targets, "target samples");
    const plot::layer pl = particle_layer(c.run.x, "particles");
    plot::layer centres;
    centres.colour = plot::colours::marks;
    centres.radius = 2.5;
    centres.crosses = true;
    centres.label = "mode centres";
    auto shot_title = [](const snapshot& sh) {
      return sh.step == 0 ? std::string("start")
                          : "step " + std::to_string(sh.step) + "  (h = " +
                                num3(sh.bandwidth) + ")";
    };
    if (d == 3) {
      // Row 1: the northern hemispheres, row 2: the southern ones, one column per snapshot.
      fig.y_label = p.columns[1] + " (north), \u2212" + p.columns[1] + " (south)";
      for (const bool north : {true, false})
        for (const auto& sh : panel_shots) {
          plot::panel pn;
          pn.title = shot_title(sh) + (north ? ", north (" + p.columns[2] + " \u2265 0)"
                                             : ", south (" + p.columns[2] + " < 0)");
          pn.layers = {rim_layer(), flat_layer(hemisphere(p.targets, north), tl)};
          if (p.mixture)
            pn.layers.push_back(flat_layer(hemisphere(p.mixture->centres, north), centres));
          pn.layers.push_back(flat_layer(hemisphere(sh.x, north), pl));
          if (north && &sh == &panel_shots.back()) pn.notes = final_notes;
          fig.panels.push_back(std::move(pn));
        }
    } else {
      fig.y_label = p.columns[1];
      for (const auto& sh : panel_shots) {
        plot::panel pn;
        pn.title = shot_title(sh);
        pn.layers = {rim_layer(), flat_layer(p.targets, tl)};
        if (p.mixture) pn.layers.push_back(flat_layer(p.mixture->centres, centres));
        pn.layers.push_back(flat_layer(sh.x, pl));
        if (&sh == &panel_shots.back()) pn.notes = final_notes;
        fig.panels.push_back(std::move(pn));
      }
    }
    plot::write_png(png, fig);
    std::cout << "  wrote " << png << " (" << panel_shots.size() << " snapshots"
              << (d == 3 ? ", each as two orthographic hemispheres" : "") << ")\n";
  }

  void finish() const {
    if (!no_picture.empty()) std::cout << "  " << no_picture << "\n";
  }

private:
  [[nodiscard]] std::string step_name() const {
    return s.retraction ? "projection retraction" : "exponential map";
  }

  const drift_args& a;
  const sphere_args& s;
  const CLI::App& drift;
  sphere_problem p;
  std::string no_picture;
  double h_chord = 0, h_angle = 0;
};
}  // namespace

int drift_sphere(const drift_args& a, const sphere_args& s, const CLI::App& drift,
                 bool explicit_outputs) {
  sphere_space space(a, s, drift);
  return run_drift_command(a, explicit_outputs, space);
}

}  // namespace gfd_cli
