// SPDX-License-Identifier: MIT
/// @file io.hpp
/// @brief Point clouds from and to CSV and NumPy .npy files (one point per row in the file,
///        d x N column-major in memory).
///
/// File formats
/// - CSV: an optional header row of column names, then one point per row, fields separated by
///   ',' with optional spaces or tabs around them, "\n" or "\r\n" line endings, a UTF-8 byte
///   order mark and blank lines at the end ignored. The first row is a header when none of its
///   fields is a number, data when all are; a row mixing both is rejected (it is most likely a
///   damaged data row). Header names may be wrapped in double quotes; no other quoting exists.
///   Numbers are parsed with std::from_chars (a leading '+' is allowed).
///   write_csv always writes a header and every value in the shortest form that reads back to the
///   same double (std::to_chars), so a CSV round trip is bit-exact, -0.0 included.
/// - .npy (NumPy format versions 1.0, 2.0, 3.0): dtype '<f8', '|f8', '<f4' or '|f4',
///   fortran_order True or False, shape (N,) (read as d = 1) or (N, d). write_npy writes version
///   1.0, little-endian float64, C order, shape (N, d).
/// Both readers reject empty files, files without points and NaN/Inf values, since a point cloud
/// with those cannot be a target of the flow; the writers reject them too, so that everything
/// written can be read back.
///
/// Writes are atomic: the bytes go to a fresh "<path>.tmp-<16 hex digits>" in the same directory,
/// which is then renamed over `path` (std::filesystem::rename); on any failure the temporary is
/// removed and nothing at `path` changes. (No fsync: atomic against crashes of the process, not
/// of the machine.)
///
/// Errors throw gfd::invalid_argument, the message naming the function and the file, for CSV also
/// the 1-based line and column (field number), e.g.
/// "gfd::read_csv: data.csv:3:2: not a number: 'abc'".
///
/// Thread-safety: the functions share no state; concurrent calls on different paths are safe.
#pragma once

#include <Eigen/Core>

#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "gfd/detail/npy_format.hpp"
#include "gfd/error.hpp"

namespace gfd {

/// The default name of column c: "x0", "x1", ... (files without a header, written without names).
[[nodiscard]] inline std::string default_column_name(Eigen::Index c) {
  // Built by appending: GCC 12 warns falsely (-Wrestrict) on `"x" + std::to_string(c)`.
  std::string name(1, 'x');
  name += std::to_string(c);
  return name;
}

/// A point cloud with its column names, as read from a CSV file.
struct table {
  std::vector<std::string> columns;  ///< d names (x0, x1, ... when the file had no header).
  Eigen::MatrixXd points;            ///< d x N, one point per column.
};

namespace detail::io {

using gfd::detail::fail;

inline std::string errno_message(int err) { return std::generic_category().message(err); }

/// The most bytes a reader takes from an input that is not a regular file (a pipe, a FIFO, a
/// character device such as /dev/zero): such an input may never end, so it is refused past 1 GiB
/// instead of being read until memory runs out. Regular files end, and are read whole.
inline constexpr std::size_t max_stream_bytes = std::size_t{1} << 30;

/// Whole file as bytes. Throws naming `where` and the path if it cannot be opened or read, or if
/// it is not a regular file and gives more than max_stream_bytes.
inline std::string read_file(std::string_view where, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(where, path, ": is a directory");
  const bool regular = std::filesystem::is_regular_file(path, ec);
  errno = 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail(where, path, ": cannot open: ", errno_message(errno));
  std::string bytes;
  char buffer[1 << 16];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    bytes.append(buffer, got);
    if (!regular && bytes.size() > max_stream_bytes) {
      std::fclose(f);
      fail(where, path, ": not a regular file, and more than ", max_stream_bytes >> 20,
           " MiB came from it (an input that never ends?); save it to a file first");
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) fail(where, path, ": read error: ", errno_message(err));
  return bytes;
}

/// A name for the temporary file that is unlikely to collide even between processes.
inline std::string temporary_name(const std::string& path) {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t x = counter.fetch_add(1, std::memory_order_relaxed) * 0x9e3779b97f4a7c15ULL ^
                    static_cast<std::uint64_t>(
                        std::chrono::steady_clock::now().time_since_epoch().count()) ^
                    reinterpret_cast<std::uintptr_t>(&counter);
  // splitmix64 finaliser
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  static constexpr char hex[] = "0123456789abcdef";
  std::string name = path + ".tmp-";
  for (int shift = 60; shift >= 0; shift -= 4) name += hex[(x >> shift) & 0xf];
  return name;
}

/// The file an output path names: `path` itself, or, when it is a symbolic link (to a link ...),
/// the path the chain ends at, which need not exist yet. Writing to it keeps the user's link.
/// @throws naming `where` on a chain of more than 40 links (a loop).
inline std::string link_target(std::string_view where, const std::string& path) {
  std::filesystem::path p = path;
  std::error_code ec;
  for (int hops = 0; std::filesystem::is_symlink(p, ec); ++hops) {
    if (hops == 40) fail(where, path, ": too many levels of symbolic links");
    const std::filesystem::path next = std::filesystem::read_symlink(p, ec);
    if (ec) fail(where, path, ": cannot read symbolic link: ", ec.message());
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
  return p.string();
}

/// Writes `bytes` to a fresh temporary next to `path`, then renames it over `path`. An output
/// path that is a symbolic link is written through: the file it points to is replaced, and the
/// link stays (a rename onto the link itself would replace the link by a regular file).
inline void write_atomically(std::string_view where, const std::string& requested,
                             const std::string& bytes) {
  if (requested.empty()) fail(where, "empty path");
  const std::string path = link_target(where, requested);
  std::string tmp;
  std::FILE* f = nullptr;
  for (int attempt = 0; attempt < 100 && f == nullptr; ++attempt) {
    tmp = temporary_name(path);
    errno = 0;
    f = std::fopen(tmp.c_str(), "wbx");  // "x": exclusive creation (C11), never clobber
    if (f == nullptr && errno != EEXIST)
      fail(where, path, ": cannot create temporary file '", tmp, "': ", errno_message(errno));
  }
  if (f == nullptr) fail(where, path, ": cannot create a unique temporary file");

  errno = 0;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fflush(f) == 0 && ok;
  int err = errno;
  ok = std::fclose(f) == 0 && ok;
  if (err == 0) err = errno;
  std::error_code ec;
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    fail(where, path, ": write error: ", errno_message(err == 0 ? EIO : err));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    fail(where, path, ": cannot rename temporary file into place: ", ec.message());
  }
}

inline void check_expected_dim(std::string_view where, Eigen::Index expected_dim) {
  if (expected_dim != -1 && expected_dim < 1)
    fail(where, "expected_dim must be -1 (any) or >= 1, got ", expected_dim);
}

/// Throws unless every value is finite; indices in the message are 0-based matrix indices.
inline void check_finite_points(std::string_view where, const std::string& path,
                                const Eigen::Ref<const Eigen::MatrixXd>& points) {
  if (points.rows() < 1 || points.cols() < 1)
    fail(where, path, ": nothing to write, points is ", points.rows(), " x ", points.cols(),
         " (need d >= 1 and N >= 1)");
  for (Eigen::Index i = 0; i < points.cols(); ++i)
    for (Eigen::Index r = 0; r < points.rows(); ++r)
      if (!std::isfinite(points(r, i)))
        fail(where, path, ": non-finite value ", points(r, i), " at point ", i, ", coordinate ",
             r, " (0-based)");
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

enum class field_kind { number, empty, not_number, out_of_range, non_finite };

inline std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

/// Parses a trimmed field; the whole field must be one number.
inline field_kind parse_number(std::string_view field, double& value) {
  if (field.empty()) return field_kind::empty;
  std::string_view digits = field;
  if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-' && digits[1] != '+')
    digits.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ptr != digits.data() + digits.size()) return field_kind::not_number;
  if (ec == std::errc::result_out_of_range) return field_kind::out_of_range;
  if (ec != std::errc()) return field_kind::not_number;
  return std::isfinite(value) ? field_kind::number : field_kind::non_finite;
}

/// Splits one line (without its terminator) into trimmed fields.
inline void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma == std::string_view::npos ? line.npos
                                                                              : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
}

[[noreturn]] inline void field_error(std::string_view where, const std::string& path,
                                     std::size_t line, std::size_t column, field_kind kind,
                                     std::string_view field, std::string_view hint = {}) {
  const char* what = kind == field_kind::empty          ? "empty field"
                     : kind == field_kind::out_of_range ? "number out of range for double"
                     : kind == field_kind::non_finite   ? "non-finite value"
                                                        : "not a number";
  if (kind == field_kind::empty) fail(where, path, ":", line, ":", column, ": ", what, hint);
  fail(where, path, ":", line, ":", column, ": ", what, ": ", gfd::detail::quoted_excerpt(field), hint);
}

struct line_ref {
  std::string_view text;
  std::size_t number;  // 1-based
};

inline table parse_csv(std::string_view where, const std::string& path, std::string_view text,
                       Eigen::Index expected_dim) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);

  std::vector<line_ref> lines;
  std::size_t number = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({line, ++number});
    pos = end + 1;
  }
  while (!lines.empty() && trim(lines.back().text).empty()) lines.pop_back();
  if (lines.empty()) fail(where, path, ": empty file");
  for (const line_ref& l : lines)
    if (trim(l.text).empty()) fail(where, path, ":", l.number, ": blank line before the data ends");

  table result;
  std::vector<std::string_view> fields;
  split_fields(lines.front().text, fields);

  // Header detection: all fields numeric-looking -> data; none -> header; mixed -> error.
  std::size_t numeric = 0;
  std::size_t first_text = fields.size();
  for (std::size_t c = 0; c < fields.size(); ++c) {
    double v = 0.0;
    const field_kind kind = parse_number(fields[c], v);
    if (kind != field_kind::empty && kind != field_kind::not_number)
      ++numeric;
    else if (first_text == fields.size())
      first_text = c;
  }
  const bool has_header = numeric == 0;
  if (numeric != 0 && numeric != fields.size()) {
    double v = 0.0;
    field_error(where, path, lines.front().number, first_text + 1,
                parse_number(fields[first_text], v), fields[first_text],
                " (the first row mixes numbers and text; a header must contain no numbers)");
  }

  const auto d = static_cast<Eigen::Index>(fields.size());
  if (expected_dim != -1 && d != expected_dim)
    fail(where, path, ":", lines.front().number, ": expected dimension ", expected_dim, ", got ", d,
         " columns");
  if (has_header) {
    for (std::string_view name : fields) {
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
        name = name.substr(1, name.size() - 2);
      result.columns.emplace_back(name);
    }
  } else {
    for (Eigen::Index c = 0; c < d; ++c) result.columns.push_back(default_column_name(c));
  }

  const std::size_t first_data = has_header ? 1 : 0;
  if (first_data == lines.size()) fail(where, path, ": no points (header only)");
  std::vector<double> values;
  values.reserve((lines.size() - first_data) * fields.size());
  for (std::size_t l = first_data; l < lines.size(); ++l) {
    split_fields(lines[l].text, fields);
    if (static_cast<Eigen::Index>(fields.size()) != d)
      fail(where, path, ":", lines[l].number, ": expected ", d, " columns, got ", fields.size());
    for (std::size_t c = 0; c < fields.size(); ++c) {
      double v = 0.0;
      const field_kind kind = parse_number(fields[c], v);
      if (kind != field_kind::number)
        field_error(where, path, lines[l].number, c + 1, kind, fields[c]);
      values.push_back(v);
    }
  }
  const auto n = static_cast<Eigen::Index>(lines.size() - first_data);
  result.points = Eigen::Map<const Eigen::MatrixXd>(values.data(), d, n);
  return result;
}

inline std::string lowercase_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return ext;
}

}  // namespace detail::io

/// Reads a CSV point cloud with its column names (see the file comment for the format).
/// `expected_dim` = -1 accepts any dimension, >= 1 requires exactly that many columns.
/// Complexity O(file size).
/// Throws gfd::invalid_argument naming gfd::read_csv, the file and where applicable
/// "line:column" (1-based) if the file cannot be read, is empty, has a header and no points, a
/// row with another column count than the first, a field that is empty, not a number, out of the
/// double range or NaN/Inf, a blank line before the last row, or the wrong dimension.
[[nodiscard]] inline table read_csv_table(const std::string& path, Eigen::Index expected_dim = -1) {
  constexpr std::string_view where = "gfd::read_csv";
  detail::io::check_expected_dim(where, expected_dim);
  const std::string text = detail::io::read_file(where, path);
  return detail::io::parse_csv(where, path, text, expected_dim);
}

/// Reads a CSV point cloud as d x N (one file row per column); read_csv_table without the names.
/// Complexity O(file size). Throws as read_csv_table.
[[nodiscard]] inline Eigen::MatrixXd read_csv(const std::string& path,
                                              Eigen::Index expected_dim = -1) {
  return read_csv_table(path, expected_dim).points;
}

/// Writes the d x N `points` as CSV, one point per row, after a header of `column_names`
/// (default x0, x1, ...), values in shortest round-trip form; atomic (see the file comment).
/// Complexity O(d N).
/// Throws gfd::invalid_argument naming gfd::write_csv and the path if d or N is 0, a value is
/// NaN/Inf, column_names is neither empty nor of size d, a name is empty, is a number, starts
/// with a UTF-8 byte order mark (it would not read back) or contains ',', '"', '\\r' or '\\n', or
/// the file cannot be written (e.g. the directory does not exist).
inline void write_csv(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& points,
                      const std::vector<std::string>& column_names = {}) {
  constexpr std::string_view where = "gfd::write_csv";
  using gfd::detail::fail;
  detail::io::check_finite_points(where, path, points);
  const Eigen::Index d = points.rows();
  if (!column_names.empty() && static_cast<Eigen::Index>(column_names.size()) != d)
    fail(where, path, ": ", column_names.size(), " column names for points of dimension ", d);

  std::string out;
  out.reserve(static_cast<std::size_t>(points.size()) * 24 + 16 * static_cast<std::size_t>(d));
  for (Eigen::Index c = 0; c < d; ++c) {
    std::string name = column_names.empty() ? default_column_name(c)
                                            : column_names[static_cast<std::size_t>(c)];
    double ignored = 0.0;
    const std::string_view trimmed = detail::io::trim(name);
    // A leading byte order mark would be taken for the file's own and dropped by the reader.
    if (trimmed.empty() || trimmed.size() != name.size() || name.starts_with("\xEF\xBB\xBF") ||
        name.find_first_of(",\"\r\n") != std::string::npos ||
        detail::io::parse_number(trimmed, ignored) != detail::io::field_kind::not_number)
      fail(where, path, ": invalid column name '", name,
           "' (must be non-empty, not a number, without surrounding spaces, a leading byte order "
           "mark, ',', '\"' or newlines)");
    out += c ? "," : "";
    out += name;
  }
  out += '\n';
  char buffer[64];
  for (Eigen::Index i = 0; i < points.cols(); ++i) {
    for (Eigen::Index r = 0; r < d; ++r) {
      if (r) out += ',';
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, points(r, i));
      out.append(buffer, result.ptr);
    }
    out += '\n';
  }
  detail::io::write_atomically(where, path, out);
}

/// Reads a .npy array of shape (N, d) (or (N,), read as d = 1), dtype float64 or float32
/// little-endian, C or Fortran order, NumPy format 1.0/2.0/3.0, as d x N.
/// `expected_dim` = -1 accepts any dimension, >= 1 requires exactly d = expected_dim.
/// Complexity O(N d).
/// Throws gfd::invalid_argument naming gfd::read_npy and the file if it cannot be read, is empty,
/// lacks the NumPy magic, has an unknown version, a malformed header, a dtype other than
/// '<f8'/'<f4' (big-endian, object, integer, structured, ...), a shape not (N,) / (N, d), N = 0
/// or d = 0, truncated or trailing data, a NaN/Inf value (row and column given, 1-based), or the
/// wrong dimension.
[[nodiscard]] inline Eigen::MatrixXd read_npy(const std::string& path,
                                              Eigen::Index expected_dim = -1) {
  constexpr std::string_view where = "gfd::read_npy";
  detail::io::check_expected_dim(where, expected_dim);
  const std::string bytes = detail::io::read_file(where, path);
  return detail::io::parse_npy(where, path, bytes, expected_dim);
}

/// Writes the d x N `points` as a NumPy 1.0 .npy file: dtype '<f8', C order, shape (N, d)
/// (so d = 1 gives (N, 1)); atomic (see the file comment). Complexity O(d N).
/// Throws gfd::invalid_argument naming gfd::write_npy and the path if d or N is 0, a value is
/// NaN/Inf, or the file cannot be written.
inline void write_npy(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& points) {
  constexpr std::string_view where = "gfd::write_npy";
  detail::io::check_finite_points(where, path, points);
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" +
                       std::to_string(points.cols()) + ", " + std::to_string(points.rows()) +
                       "), }";
  // Pad with spaces so that magic (6) + version (2) + length (2) + header ends on a multiple of
  // 64 bytes, the last header byte being '\n', as NumPy does.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 65535) gfd::detail::fail(where, path, ": header too long");

  std::string out("\x93NUMPY\x01\x00", 8);
  detail::io::store_le(out, header.size(), 2);
  out += header;
  out.reserve(out.size() + static_cast<std::size_t>(points.size()) * 8);
  for (Eigen::Index i = 0; i < points.cols(); ++i)
    for (Eigen::Index r = 0; r < points.rows(); ++r)
      detail::io::store_le(out, std::bit_cast<std::uint64_t>(points(r, i)), 8);
  detail::io::write_atomically(where, path, out);
}

/// Reads a point cloud as d x N, choosing the format by the extension of `path` (".csv" or
/// ".npy", case-insensitive); see read_csv and read_npy. Complexity O(file size).
/// Throws gfd::invalid_argument naming gfd::read_points for another extension, otherwise as
/// read_csv / read_npy.
[[nodiscard]] inline Eigen::MatrixXd read_points(const std::string& path,
                                                 Eigen::Index expected_dim = -1) {
  const std::string ext = detail::io::lowercase_extension(path);
  if (ext == ".csv") return read_csv(path, expected_dim);
  if (ext == ".npy") return read_npy(path, expected_dim);
  gfd::detail::fail("gfd::read_points", path, ": unsupported extension '", ext,
                    "' (supported: .csv, .npy)");
}

/// Writes the d x N `points`, one point per row, choosing the format by the extension of `path`
/// (".csv" or ".npy", case-insensitive); `column_names` is used by CSV and ignored by .npy,
/// which has no column names. Complexity O(d N).
/// Throws gfd::invalid_argument naming gfd::write_points for another extension, otherwise as
/// write_csv / write_npy.
inline void write_points(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& points,
                         const std::vector<std::string>& column_names = {}) {
  const std::string ext = detail::io::lowercase_extension(path);
  if (ext == ".csv") return write_csv(path, points, column_names);
  if (ext == ".npy") return write_npy(path, points);
  gfd::detail::fail("gfd::write_points", path, ": unsupported extension '", ext,
                    "' (supported: .csv, .npy)");
}

}  // namespace gfd
