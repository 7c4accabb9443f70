// SPDX-License-Identifier: MIT
// Tests of include/gfd/io.hpp: CSV and .npy round trips, hand-made .npy variants, error messages.
#include <gfd/io.hpp>

#include "catch.hpp"

#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using gfd_test::contains_substring;

namespace {

/// A fresh directory under the system temp directory, removed with its contents at scope exit.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    path = fs::temp_directory_path() / ("gfd_test_io_" + std::to_string(rng()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  /// Number of directory entries (to check that no temporary file is left behind).
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(path), fs::directory_iterator()));
  }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) out += static_cast<char>((v >> (8 * b)) & 0xff);
}

/// A .npy file by hand: magic, version, header dict padded to 64 bytes, raw payload.
std::string npy_bytes(const std::string& dict, const std::string& payload, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  append_le(out, header.size(), major == 1 ? 2 : 4);
  return out + header + payload;
}

std::string f8_payload(const std::vector<double>& values) {
  std::string out;
  for (double v : values) append_le(out, std::bit_cast<std::uint64_t>(v), 8);
  return out;
}

std::string f4_payload(const std::vector<float>& values) {
  std::string out;
  for (float v : values) append_le(out, std::bit_cast<std::uint32_t>(v), 4);
  return out;
}

/// Bitwise equality (distinguishes -0.0 from 0.0).
bool bit_equal(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i)
    if (std::bit_cast<std::uint64_t>(a.data()[i]) != std::bit_cast<std::uint64_t>(b.data()[i]))
      return false;
  return true;
}

/// Awkward doubles: tiny, subnormal, -0.0, 1/3, huge, plus random values over many exponents.
Eigen::MatrixXd awkward_points(Eigen::Index d, Eigen::Index n) {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
  std::uniform_int_distribution<int> exponent(-300, 300);
  Eigen::MatrixXd x(d, n);
  for (Eigen::Index i = 0; i < x.size(); ++i)
    x.data()[i] = std::ldexp(mantissa(rng), exponent(rng));
  const double specials[] = {1e-300,
                             -0.0,
                             1.0 / 3.0,
                             1.7976931348623157e308,
                             std::numeric_limits<double>::denorm_min(),
                             -std::numeric_limits<double>::min(),
                             0.1,
                             123456789012345678.0};
  for (std::size_t k = 0; k < std::size(specials) && static_cast<Eigen::Index>(k) < x.size(); ++k)
    x.data()[k] = specials[k];
  return x;
}

}  // namespace

TEST_CASE("CSV round trip is bit-exact and keeps column names", "[io]") {
  temp_dir dir;
  const Eigen::MatrixXd x = awkward_points(3, 200);
  const std::string path = dir / "points.csv";
  gfd::write_csv(path, x);
  CHECK(bit_equal(gfd::read_csv(path), x));
  const gfd::table t = gfd::read_csv_table(path);
  CHECK(t.columns == std::vector<std::string>{"x0", "x1", "x2"});

  gfd::write_points(path, x, {"a", "b", "c"});
  const gfd::table named = gfd::read_csv_table(path);
  CHECK(named.columns == std::vector<std::string>{"a", "b", "c"});
  CHECK(bit_equal(named.points, x));
  CHECK(bit_equal(gfd::read_points(path, 3), x));
  CHECK(dir.entries() == 1);  // overwritten in place, no temporaries left

  // A block (non-contiguous Ref) is written correctly too.
  gfd::write_csv(path, x.block(1, 10, 2, 5));
  CHECK(bit_equal(gfd::read_csv(path), x.block(1, 10, 2, 5)));
}

TEST_CASE(".npy round trip is bit-exact and is what NumPy expects", "[io]") {
  temp_dir dir;
  const Eigen::MatrixXd x = awkward_points(4, 123);
  const std::string path = dir / "points.npy";
  gfd::write_npy(path, x);
  CHECK(bit_equal(gfd::read_npy(path), x));
  CHECK(bit_equal(gfd::read_points(path), x));

  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() == 128 + 4 * 123 * 8);  // header padded to 64, then the payload
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  CHECK(bytes.find("'descr': '<f8', 'fortran_order': False, 'shape': (123, 4), }") !=
        std::string::npos);
  CHECK(bytes[127] == '\n');
  // C order (N, d): the second value in the file is point 0, coordinate 1.
  std::uint64_t bits = 0;
  for (int b = 7; b >= 0; --b) bits = (bits << 8) | static_cast<unsigned char>(bytes[128 + 8 + b]);
  CHECK(std::bit_cast<double>(bits) == x(1, 0));

  gfd::write_points(dir / "one.NPY", x.topRows(1));
  CHECK(bit_equal(gfd::read_points(dir / "one.NPY"), x.topRows(1)));
}

TEST_CASE(".npy variants: float32, Fortran order, shape (N,), versions 2.0 and 3.0", "[io]") {
  temp_dir dir;
  const std::string path = dir / "v.npy";

  // float32, C order, shape (3, 2): points (1.5, -2.25), (0.1, 3), (-0, 1e-3).
  const std::vector<float> f = {1.5f, -2.25f, 0.1f, 3.0f, -0.0f, 1e-3f};
  write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
                              f4_payload(f)));
  Eigen::MatrixXd expected(2, 3);
  for (int k = 0; k < 6; ++k) expected(k % 2, k / 2) = static_cast<double>(f[k]);
  CHECK(bit_equal(gfd::read_npy(path), expected));

  // float64, Fortran order, shape (3, 2): the file holds column 0 (all x) then column 1.
  write_bytes(path, npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }",
                              f8_payload({1, 2, 3, 10, 20, 30})));
  Eigen::MatrixXd fortran(2, 3);
  fortran << 1, 2, 3, 10, 20, 30;
  CHECK(gfd::read_npy(path) == fortran);

  // shape (N,) is d = 1; '|f8' is accepted; keys in another order and double quotes too.
  write_bytes(path, npy_bytes("{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"|f8\"}",
                              f8_payload({1, 2, 3, 4})));
  CHECK(gfd::read_npy(path) == Eigen::RowVector4d(1, 2, 3, 4));

  for (int major : {2, 3}) {
    write_bytes(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }",
                                f8_payload({7, 8, 9}), major));
    CHECK(gfd::read_npy(path) == Eigen::Vector3d(7, 8, 9));
  }
}

TEST_CASE("CSV reader accepts headerless files, spaces, CRLF, BOM, trailing blank lines", "[io]") {
  temp_dir dir;
  const std::string path = dir / "loose.csv";
  Eigen::MatrixXd expected(2, 3);
  expected << 1, -3, 5e-3, 2, 4, 6;

  write_bytes(path, "1,2\n-3,4\n5e-3,6\n");
  gfd::table t = gfd::read_csv_table(path);
  CHECK(t.points == expected);
  CHECK(t.columns == std::vector<std::string>{"x0", "x1"});

  write_bytes(path, "\xEF\xBB\xBF \"u\" ,\tv\r\n 1 , 2\r\n-3,\t4 \r\n+5e-3,6\r\n\r\n  \n\n");
  t = gfd::read_csv_table(path);
  CHECK(t.points == expected);
  CHECK(t.columns == std::vector<std::string>{"u", "v"});

  write_bytes(path, "x\n1\n2");  // no final newline, d = 1
  CHECK(gfd::read_csv(path) == Eigen::RowVector2d(1, 2));
}

TEST_CASE("CSV errors name the function, the file, the line and the column", "[io]") {
  temp_dir dir;
  const std::string path = dir / "bad.csv";
  const auto throws_with = [&](const std::string& content, const std::string& where) {
    write_bytes(path, content);
    CAPTURE(content);
    CHECK_THROWS_AS(gfd::read_csv(path), gfd::invalid_argument);
    CHECK_THROWS_WITH(gfd::read_csv(path),
                      contains_substring("gfd::read_csv: " + path) && contains_substring(where));
  };
  throws_with("", ": empty file");
  throws_with("\n \n\r\n", ": empty file");
  throws_with("x,y\n", ": no points (header only)");
  throws_with("x,y\n1,2\n3,4,5\n", path + ":3: expected 2 columns, got 3");
  throws_with("1,2\n3\n", path + ":2: expected 2 columns, got 1");
  throws_with("x,y\n1,2\n3,abc\n", path + ":3:2: not a number: 'abc'");
  throws_with("x,y\n1,2\n3,4x\n", path + ":3:2: not a number: '4x'");
  throws_with("x,y\n1,\n", path + ":2:2: empty field");
  throws_with("x,y\nnan,2\n", path + ":2:1: non-finite value: 'nan'");
  throws_with("x,y\n1,-inf\n", path + ":2:2: non-finite value: '-inf'");
  throws_with("x,y\n1,1e999\n", path + ":2:2: number out of range");
  throws_with("x,y\n1,2\n\n3,4\n", path + ":3: blank line");
  throws_with("1.5,abc\n2,3\n", path + ":1:2: not a number: 'abc'");

  CHECK_THROWS_WITH(gfd::read_csv(dir / "missing.csv"),
                    contains_substring("gfd::read_csv: " + (dir / "missing.csv")) &&
                        contains_substring("cannot open"));
  CHECK_THROWS_WITH(gfd::read_csv(dir.path.string()), contains_substring("is a directory"));

  write_bytes(path, "x,y\n1,2\n");
  CHECK_THROWS_WITH(gfd::read_csv(path, 3),
                    contains_substring(path + ":1: expected dimension 3, got 2"));
  CHECK_THROWS_WITH(gfd::read_points(path, 3), contains_substring("expected dimension 3, got 2"));
  CHECK(gfd::read_csv(path, 2).cols() == 1);
  CHECK_THROWS_WITH(gfd::read_csv(path, 0), contains_substring("expected_dim"));
}

TEST_CASE(".npy errors name the function, the file and the problem", "[io]") {
  temp_dir dir;
  const std::string path = dir / "bad.npy";
  const auto throws_with = [&](const std::string& content, const std::string& what) {
    write_bytes(path, content);
    CAPTURE(what);
    CHECK_THROWS_AS(gfd::read_npy(path), gfd::invalid_argument);
    CHECK_THROWS_WITH(gfd::read_npy(path),
                      contains_substring("gfd::read_npy: " + path) && contains_substring(what));
  };
  const std::string ok_payload = f8_payload({1, 2, 3, 4});
  throws_with("", "empty file");
  throws_with("PK\x03\x04 this is a zip file", "bad magic");
  throws_with(npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", ok_payload),
              "big-endian");
  throws_with(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", ok_payload),
              "unsupported dtype '<i8'");
  throws_with(npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", ok_payload),
              "object arrays");
  throws_with(npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }",
                        ok_payload),
              "structured");
  throws_with(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                        ok_payload.substr(0, 30)),
              "truncated data");
  throws_with(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                        ok_payload + "xx"),
              "unexpected bytes");
  throws_with(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }",
                        ok_payload),
              "expected shape (N,) or (N, d), got (1, 2, 2)");
  throws_with(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2), }", ""),
              "no points");
  throws_with(npy_bytes("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2, 2), }",
                        ok_payload),
              "malformed .npy header");
  throws_with(npy_bytes("{'descr': '<f8', 'shape': (2, 2), }", ok_payload), "missing key");
  throws_with(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                        f8_payload({1, 2, std::numeric_limits<double>::quiet_NaN(), 4})),
              "non-finite value nan at row 2, column 1");
  std::string future = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                                 ok_payload);
  future[6] = 9;
  throws_with(future, "unsupported .npy format version 9.0");
  throws_with(std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 17), "truncated .npy header");
  throws_with(std::string("\x93NUMPY\x01", 7), "truncated .npy header");

  write_bytes(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                              ok_payload));
  CHECK_THROWS_WITH(gfd::read_npy(path, 3),
                    contains_substring(path) && contains_substring("expected dimension 3, got 2"));
  CHECK_THROWS_WITH(gfd::read_npy(dir / "missing.npy"),
                    contains_substring("gfd::read_npy: " + (dir / "missing.npy")) &&
                        contains_substring("cannot open"));
  CHECK_THROWS_WITH(gfd::read_points(dir / "points.txt"),
                    contains_substring("gfd::read_points") && contains_substring("'.txt'"));
}

TEST_CASE("failed writes throw naming the path and leave no file behind", "[io]") {
  temp_dir dir;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);

  const std::string nowhere = dir / "no/such/dir/points.csv";
  CHECK_THROWS_WITH(gfd::write_csv(nowhere, x),
                    contains_substring("gfd::write_csv: " + nowhere));
  CHECK_THROWS_WITH(gfd::write_npy(dir / "no/such/dir/points.npy", x),
                    contains_substring("gfd::write_npy: " + (dir / "no/such/dir/points.npy")));
  CHECK_FALSE(fs::exists(dir.path / "no"));
  CHECK(dir.entries() == 0);

  // Renaming over a directory fails after the temporary was written: it must be removed.
  fs::create_directory(dir.path / "taken.csv");
  CHECK_THROWS_WITH(gfd::write_points(dir / "taken.csv", x),
                    contains_substring("gfd::write_csv: " + (dir / "taken.csv")));
  CHECK(dir.entries() == 1);

  // Invalid content is rejected before anything is created.
  Eigen::MatrixXd nan = x;
  nan(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(gfd::write_csv(dir / "a.csv", nan),
                    contains_substring("non-finite value nan at point 2, coordinate 1"));
  CHECK_THROWS_WITH(gfd::write_npy(dir / "a.npy", nan), contains_substring("non-finite"));
  CHECK_THROWS_WITH(gfd::write_csv(dir / "a.csv", x, {"only_one"}),
                    contains_substring("1 column names for points of dimension 2"));
  CHECK_THROWS_WITH(gfd::write_csv(dir / "a.csv", x, {"x", "2"}),
                    contains_substring("invalid column name '2'"));
  CHECK_THROWS_WITH(gfd::write_csv(dir / "a.csv", x, {"x", "a,b"}),
                    contains_substring("invalid column name 'a,b'"));
  // Found by tests/fuzz/fuzz_csv: a first name starting with a byte order mark (the reader keeps
  // the second of two) was written at the start of the file and read back without it.
  write_bytes(dir / "bom.csv", "\xEF\xBB\xBF\xEF\xBB\xBFu,v\n1,2\n");
  const gfd::table bom = gfd::read_csv_table(dir / "bom.csv");
  CHECK(bom.columns == std::vector<std::string>{"\xEF\xBB\xBFu", "v"});
  CHECK_THROWS_WITH(gfd::write_csv(dir / "a.csv", x, bom.columns),
                    contains_substring("leading byte order mark"));
  fs::remove(dir.path / "bom.csv");
  CHECK_THROWS_WITH(gfd::write_csv(dir / "a.csv", Eigen::MatrixXd(2, 0)),
                    contains_substring("nothing to write"));
  CHECK_THROWS_WITH(gfd::write_points(dir / "a.txt", x),
                    contains_substring("gfd::write_points") && contains_substring("'.txt'"));
  CHECK(dir.entries() == 1);
}
