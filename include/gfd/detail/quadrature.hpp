// SPDX-License-Identifier: MIT
/// @file detail/quadrature.hpp
/// @brief Globally adaptive 15-point Gauss-Kronrod quadrature of exp(g) in the log domain (used
///        for the normalisers of kernels on the sphere).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace gfd::detail {

/// 15-point Gauss-Kronrod rule with its embedded 7-point Gauss rule (QUADPACK qk15): nodes on
/// [0, 1] of the symmetric rule, Kronrod weights, and the Gauss weights of nodes 1, 3, 5, 7.
inline constexpr double gk15_nodes[8] = {
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.0};
inline constexpr double gk15_kronrod[8] = {
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
inline constexpr double gk15_gauss[4] = {
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327};

/// log of the integral of exp(g(theta)) d theta from the smallest to the largest of `breaks`,
/// for a log-integrand g that may be -inf, by globally adaptive Gauss-Kronrod (the QUADPACK QAG
/// strategy: bisect the interval with the largest error estimate until the total error is below
/// rel_tol times the integral).
/// `breaks` are points where g is not smooth (or its scale changes): the initial intervals.
/// Values are taken relative to the largest g seen on the initial intervals, so an integrand
/// of size e^{-5000} is fine.
template <class G>
double log_integrate(const G& g, std::vector<double> breaks, double rel_tol = 1e-13,
                     std::size_t max_intervals = 4000) {
  std::sort(breaks.begin(), breaks.end());
  breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());
  // Reference level: the largest g at the Kronrod nodes of the initial intervals.
  double ref = -std::numeric_limits<double>::infinity();
  for (std::size_t b = 0; b + 1 < breaks.size(); ++b) {
    const double c = 0.5 * (breaks[b] + breaks[b + 1]), r = 0.5 * (breaks[b + 1] - breaks[b]);
    for (int k = 0; k < 8; ++k) {
      ref = std::max(ref, g(c - r * gk15_nodes[k]));
      ref = std::max(ref, g(c + r * gk15_nodes[k]));
    }
  }
  if (!std::isfinite(ref)) return ref;  // the integrand vanishes at every node
  struct piece {
    double a, b, value, error;
  };
  auto rule = [&](double a, double b) {
    const double c = 0.5 * (a + b), r = 0.5 * (b - a);
    const double fc = std::exp(g(c) - ref);
    double kronrod = gk15_kronrod[7] * fc, gauss = gk15_gauss[3] * fc;
    for (int k = 0; k < 7; ++k) {
      const double f = std::exp(g(c - r * gk15_nodes[k]) - ref) + std::exp(g(c + r * gk15_nodes[k]) - ref);
      kronrod += gk15_kronrod[k] * f;
      if (k % 2 == 1) gauss += gk15_gauss[k / 2] * f;
    }
    return piece{a, b, kronrod * r, std::abs(kronrod - gauss) * r};
  };
  std::vector<piece> pieces;
  for (std::size_t b = 0; b + 1 < breaks.size(); ++b) pieces.push_back(rule(breaks[b], breaks[b + 1]));
  for (;;) {
    double total = 0, error = 0;
    std::size_t worst = 0;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      total += pieces[i].value;
      error += pieces[i].error;
      if (pieces[i].error > pieces[worst].error) worst = i;
    }
    if (error <= rel_tol * total || pieces.size() >= max_intervals ||
        pieces[worst].b - pieces[worst].a <= 1e-15 * (1.0 + std::abs(pieces[worst].a)))
      return ref + std::log(total);
    const piece w = pieces[worst];
    const double mid = 0.5 * (w.a + w.b);
    pieces[worst] = rule(w.a, mid);
    pieces.push_back(rule(mid, w.b));
  }
}

}  // namespace gfd::detail
