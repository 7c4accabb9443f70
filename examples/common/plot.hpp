// SPDX-License-Identifier: MIT
/// @file plot.hpp
/// @brief Scatter-plot figures (panels of point clouds with axes, ticks, titles and a legend)
///        written as PNG with Cairo; shared by the `gfd` command-line tool and the examples.
///
/// Not part of the library: gfd itself never draws. Cairo is optional. The build defines
/// GFD_HAVE_CAIRO=1 when it found Cairo; without it `plot::available` is false and write_png()
/// throws plot::unavailable, so callers can still build and write their data.
///
/// A figure is a grid of panels sharing one coordinate box, so the panels of a run can be
/// compared by eye. Each panel draws its layers in order (the target first, faint, then the
/// particles on top). Only the first two coordinates of each layer are drawn; callers say so in
/// the title when the data has more. Thread-safety: write_png shares no state.
#pragma once

#include <Eigen/Core>

#include <gfd/io.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(GFD_HAVE_CAIRO) && GFD_HAVE_CAIRO && __has_include(<cairo.h>)
#include <cairo.h>
#define GFD_PLOT_CAIRO 1
#else
#define GFD_PLOT_CAIRO 0
#endif

#ifndef _WIN32
#include <unistd.h>  // getpid, for a unique temporary name
#endif

namespace plot {

/// True when this build can write PNG files.
inline constexpr bool available = GFD_PLOT_CAIRO != 0;

/// Thrown by write_png when Cairo was not found at build time.
class unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct rgba {
  double r = 0, g = 0, b = 0, a = 1;
};

/// Colours of the figures (colour-blind safe, print well in grey scale).
namespace colours {
inline constexpr rgba target{0.45, 0.47, 0.52, 0.22};     ///< faint grey cloud
inline constexpr rgba particles{0.80, 0.20, 0.12, 0.75};  ///< vermilion
inline constexpr rgba start{0.10, 0.35, 0.70, 0.55};      ///< blue
inline constexpr rgba marks{0.0, 0.0, 0.0, 0.9};          ///< mode centres
}  // namespace colours

/// One set of points in a panel: the first two rows of `points` (d x N), as discs.
struct layer {
  Eigen::MatrixXd points;
  rgba colour = colours::particles;
  double radius = 1.6;   ///< disc radius in pixels (at scale 1)
  std::string label;     ///< legend entry; empty = not in the legend
  bool crosses = false;  ///< draw as small '+' marks (mode centres) instead of discs
};

/// A panel: a title above it, layers, and optional note lines under the title.
struct panel {
  std::string title;
  std::vector<layer> layers;
  std::vector<std::string> notes;
};

/// Axis limits [x0, x1] x [y0, y1].
struct box {
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
};

struct figure {
  std::string title;
  std::string subtitle;  ///< one smaller line under the title
  std::vector<panel> panels;
  int columns = 0;           ///< panels per row; 0 = all in one row
  double panel_width = 300;  ///< width of a panel's plot area, in pixels at scale 1
  std::string x_label = "x0", y_label = "x1";
  std::optional<box> limits;  ///< default: from every layer, robust to outliers, equal aspect
  double scale = 2.0;         ///< pixel density (2 = sharp when printed or zoomed)
};

namespace detail {

/// Quantile of a copy of the values (q in [0, 1]).
inline double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const auto k =
      static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

/// "Nice" tick spacing: 1, 2 or 5 times a power of ten, giving about `target` ticks.
inline double tick_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * p;
}

inline std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-9) v = 0;  // no "-0" or "1e-17"
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace detail

/// Limits covering the 0.5%..99.5% quantiles of every layer (so a few stray particles do not
/// shrink the picture), padded by 6%, then widened so that one unit has the same length on both
/// axes for a panel whose height/width ratio is clamped to [0.45, 1.25].
inline box auto_limits(const figure& f) {
  std::vector<double> xs, ys;
  for (const auto& p : f.panels)
    for (const auto& l : p.layers)
      for (Eigen::Index i = 0; i < l.points.cols(); ++i) {
        xs.push_back(l.points(0, i));
        ys.push_back(l.points.rows() > 1 ? l.points(1, i) : 0.0);
      }
  box b{-1, 1, -1, 1};
  if (xs.empty()) return b;
  b.x0 = detail::quantile(xs, 0.005), b.x1 = detail::quantile(xs, 0.995);
  b.y0 = detail::quantile(ys, 0.005), b.y1 = detail::quantile(ys, 0.995);
  double w = b.x1 - b.x0, h = b.y1 - b.y0;
  const double floor =
      1e-9 + 1e-6 * std::max({std::abs(b.x0), std::abs(b.x1), std::abs(b.y0), std::abs(b.y1)});
  if (w < floor) w = std::max(h, floor);
  if (h < floor) h = w;
  const double cx = 0.5 * (b.x0 + b.x1), cy = 0.5 * (b.y0 + b.y1);
  w *= 1.12, h *= 1.12;
  const double aspect = std::clamp(h / w, 0.45, 1.25);
  // Equal units: grow whichever span is short for the clamped aspect.
  if (h < aspect * w)
    h = aspect * w;
  else
    w = h / aspect;
  return {cx - 0.5 * w, cx + 0.5 * w, cy - 0.5 * h, cy + 0.5 * h};
}

#if GFD_PLOT_CAIRO
namespace detail {

inline void set(cairo_t* cr, const rgba& c) { cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a); }

enum class align { left, centre, right };

/// Draws `text` with its baseline at y, aligned at x; returns its advance width.
inline double text(cairo_t* cr, const std::string& s, double x, double y, double size,
                   align a = align::left, bool bold = false) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  const double dx = a == align::left ? 0 : a == align::centre ? -0.5 * e.x_advance : -e.x_advance;
  cairo_move_to(cr, x + dx, y);
  cairo_show_text(cr, s.c_str());
  return e.x_advance;
}

inline void marker(cairo_t* cr, const layer& l, double x, double y) {
  if (l.crosses) {
    const double r = 2.2 * l.radius;
    cairo_move_to(cr, x - r, y);
    cairo_line_to(cr, x + r, y);
    cairo_move_to(cr, x, y - r);
    cairo_line_to(cr, x, y + r);
    cairo_set_line_width(cr, 1.3);
    cairo_stroke(cr);
  } else {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, l.radius, 0, 2 * 3.141592653589793);
    cairo_fill(cr);  // each disc on its own, so overlapping faint discs add up to a density
  }
}

inline cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace detail
#endif

/// Draws the figure and writes it to `path` as PNG, atomically (a temporary file in the same
/// directory renamed over `path`), so a failure never leaves a partial picture.
/// @throws plot::unavailable without Cairo, std::runtime_error if the file cannot be written.
inline void write_png(const std::string& path, const figure& f) {
#if !GFD_PLOT_CAIRO
  (void)f;
  throw unavailable("cannot write " + path +
                    ": gfd was built without Cairo (libcairo2-dev), so it "
                    "cannot draw pictures");
#else
  using detail::align;
  const box lim = f.limits ? *f.limits : auto_limits(f);
  const int n = static_cast<int>(f.panels.size());
  const int cols = f.columns > 0 ? std::min(f.columns, std::max(n, 1)) : std::max(n, 1);
  const int rows = (std::max(n, 1) + cols - 1) / cols;
  const double pw = f.panel_width;
  const double ph = pw * (lim.y1 - lim.y0) / (lim.x1 - lim.x0);

  // Layout (pixels at scale 1).
  // Notes go under each panel's title, above the plot, so they never hide data.
  std::size_t max_notes = 0;
  for (const auto& p : f.panels) max_notes = std::max(max_notes, p.notes.size());
  const double note_h = 14;
  const double margin = 14, left = 58, bottom = 46, gap_x = 22;
  const double panel_title = 24 + note_h * static_cast<double>(max_notes);
  const double title_h = f.title.empty() ? 8 : 34;
  const double sub_h = f.subtitle.empty() ? 0 : 20;
  // Legend entries from the layers of the first panel that has labels.
  std::vector<const layer*> legend;
  for (const auto& p : f.panels) {
    for (const auto& l : p.layers)
      if (!l.label.empty()) legend.push_back(&l);
    if (!legend.empty()) break;
  }
  const double legend_h = legend.empty() ? 0 : 22;
  const double top = margin + title_h + sub_h + legend_h;
  const double cell_w = pw + gap_x, cell_h = panel_title + ph + bottom;
  const double width = margin + left + cols * cell_w - gap_x + margin;
  const double height = top + rows * cell_h + margin - 6;

  const int px_w = static_cast<int>(std::ceil(width * f.scale));
  const int px_h = static_cast<int>(std::ceil(height * f.scale));
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, px_w, px_h);
  cairo_t* cr = cairo_create(surface);
  cairo_scale(cr, f.scale, f.scale);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  const rgba ink{0.12, 0.12, 0.14, 1}, grey{0.35, 0.35, 0.38, 1}, grid{0.90, 0.90, 0.92, 1};
  double y_cursor = margin;
  if (!f.title.empty()) {
    detail::set(cr, ink);
    detail::text(cr, f.title, width / 2, y_cursor + 22, 17, align::centre, true);
    y_cursor += title_h;
  }
  if (!f.subtitle.empty()) {
    detail::set(cr, grey);
    detail::text(cr, f.subtitle, width / 2, y_cursor + 12, 12, align::centre);
    y_cursor += sub_h;
  }
  if (!legend.empty()) {
    // Measure, then centre the legend line.
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    double total = 0;
    for (const layer* l : legend) {
      cairo_text_extents_t e;
      cairo_text_extents(cr, l->label.c_str(), &e);
      total += 16 + e.x_advance + 22;
    }
    double x = width / 2 - total / 2;
    const double y = y_cursor + 12;
    for (const layer* l : legend) {
      layer big = *l;
      big.radius = std::max(3.5, l->radius * 1.6);
      rgba c = l->colour;
      c.a = std::max(c.a, 0.6);
      detail::set(cr, c);
      detail::marker(cr, big, x + 5, y - 4);
      detail::set(cr, ink);
      x += 16 + detail::text(cr, l->label, x + 16, y, 12) + 22;
    }
  }

  // About one tick per 55 px; the same step on both axes when the spans are alike (equal units).
  const double xstep = detail::tick_step(lim.x1 - lim.x0, std::max(3, static_cast<int>(pw / 55)));
  const double ystep = detail::tick_step(lim.y1 - lim.y0, std::max(3, static_cast<int>(ph / 55)));
  for (int k = 0; k < n; ++k) {
    const panel& p = f.panels[static_cast<std::size_t>(k)];
    const int r = k / cols, c = k % cols;
    const double ox = margin + left + c * cell_w;
    const double oy = top + r * cell_h + panel_title;
    auto X = [&](double v) { return ox + (v - lim.x0) / (lim.x1 - lim.x0) * pw; };
    auto Y = [&](double v) { return oy + ph - (v - lim.y0) / (lim.y1 - lim.y0) * ph; };

    detail::set(cr, ink);
    const double title_y = oy - 8 - note_h * static_cast<double>(p.notes.size());
    detail::text(cr, p.title, ox + pw / 2, title_y, 13, align::centre);
    detail::set(cr, grey);
    for (std::size_t k2 = 0; k2 < p.notes.size(); ++k2)
      detail::text(cr, p.notes[k2], ox + pw / 2, title_y + note_h * static_cast<double>(k2 + 1),
                   10.5, align::centre);

    // Grid lines and ticks.
    cairo_set_line_width(cr, 0.8);
    const bool label_x = r == rows - 1 || k + cols >= n;
    const bool label_y = c == 0;
    for (double v = std::ceil(lim.x0 / xstep) * xstep; v <= lim.x1 + 1e-12; v += xstep) {
      detail::set(cr, grid);
      cairo_move_to(cr, X(v), oy);
      cairo_line_to(cr, X(v), oy + ph);
      cairo_stroke(cr);
      detail::set(cr, ink);
      cairo_move_to(cr, X(v), oy + ph);
      cairo_line_to(cr, X(v), oy + ph + 4);
      cairo_stroke(cr);
      if (label_x)
        detail::text(cr, detail::tick_label(v, xstep), X(v), oy + ph + 16, 10.5, align::centre);
    }
    for (double v = std::ceil(lim.y0 / ystep) * ystep; v <= lim.y1 + 1e-12; v += ystep) {
      detail::set(cr, grid);
      cairo_move_to(cr, ox, Y(v));
      cairo_line_to(cr, ox + pw, Y(v));
      cairo_stroke(cr);
      detail::set(cr, ink);
      cairo_move_to(cr, ox - 4, Y(v));
      cairo_line_to(cr, ox, Y(v));
      cairo_stroke(cr);
      if (label_y)
        detail::text(cr, detail::tick_label(v, ystep), ox - 7, Y(v) + 3.5, 10.5, align::right);
    }
    if (label_x) detail::text(cr, f.x_label, ox + pw / 2, oy + ph + 34, 12, align::centre);
    if (label_y) {
      cairo_save(cr);
      cairo_translate(cr, ox - 40, oy + ph / 2);
      cairo_rotate(cr, -3.141592653589793 / 2);
      detail::text(cr, f.y_label, 0, 0, 12, align::centre);
      cairo_restore(cr);
    }

    // Points, clipped to the plot area.
    cairo_save(cr);
    cairo_rectangle(cr, ox, oy, pw, ph);
    cairo_clip(cr);
    for (const layer& l : p.layers) {
      detail::set(cr, l.colour);
      for (Eigen::Index i = 0; i < l.points.cols(); ++i)
        detail::marker(cr, l, X(l.points(0, i)), Y(l.points.rows() > 1 ? l.points(1, i) : 0.0));
    }
    cairo_restore(cr);

    // Frame.
    detail::set(cr, ink);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, ox, oy, pw, ph);
    cairo_stroke(cr);
  }

  cairo_surface_flush(surface);
  std::string bytes;
  const cairo_status_t status =
      cairo_surface_write_to_png_stream(surface, detail::append_bytes, &bytes);
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS)
    throw std::runtime_error("cannot encode " + path + ": " + cairo_status_to_string(status));

  // The library's atomic writer: temporary next to the target, renamed into place, removed on
  // failure; a failure is a gfd::invalid_argument naming the cause (exit 2 in the tool).
  gfd::detail::io::write_atomically("plot::write_png", path, bytes);
#endif
}

}  // namespace plot
