// SPDX-License-Identifier: MIT
/// @file make_corpus.cpp
/// @brief Writes the fuzzers' seed corpora: `fuzz_make_corpus <tests/fuzz/corpus>` (run once by
///        hand; the files are committed). Valid files of every accepted variant and a few that
///        each break one rule, so that the fuzzers start next to every branch of the readers.
#include <gfd/generator.hpp>
#include <gfd/io.hpp>
#include <gfd/toy.hpp>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

void put(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

void le(std::string& out, std::uint64_t v, int n, bool big = false) {
  for (int b = 0; b < n; ++b) {
    const int shift = 8 * (big ? n - 1 - b : b);
    out += static_cast<char>((v >> shift) & 0xff);
  }
}

/// A .npy file by hand: `values` are the file's items in file order.
std::string npy(int major, const std::string& descr, bool fortran, const std::string& shape,
                const std::vector<double>& values, int item, bool big = false) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  const std::size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  le(out, header.size(), major == 1 ? 2 : 4);
  out += header;
  for (double v : values) {
    if (item == 8) le(out, std::bit_cast<std::uint64_t>(v), 8, big);
    else le(out, std::bit_cast<std::uint32_t>(static_cast<float>(v)), 4, big);
  }
  return out;
}

void csv_corpus(const fs::path& dir) {
  put(dir / "header.csv", "x,y\n1,2\n3.5,-4e-3\n");
  put(dir / "no_header.csv", "1,2,3\n4,5,6\n");
  put(dir / "bom_crlf_spaces.csv", "\xEF\xBB\xBF" "a , b\r\n1\t, 2\r\n-3 ,+4\r\n\r\n");
  put(dir / "quoted_names_extremes.csv",
      "\"a\",\"b\"\n-0,5e-324\n1.7976931348623157e308,-2.2250738585072014e-308\n");
  put(dir / "one_column.csv", "v\n+1\n0x1p3\n1e-3\n");
  put(dir / "no_final_newline.csv", "x0,x1\n0.1,0.2");
  put(dir / "bad_mixed_first_row.csv", "x,1\n2,3\n");
  put(dir / "bad_field.csv", "x,y\n1,abc\n");
  put(dir / "bad_blank_line.csv", "x\n1\n\n2\n");
  put(dir / "bad_nan_inf.csv", "x,y\nnan,inf\n");
  put(dir / "bad_out_of_range.csv", "x\n1e400\n");
  put(dir / "bad_ragged.csv", "x,y\n1\n");
  put(dir / "bad_header_only.csv", "x,y\n");
  put(dir / "bad_empty_field.csv", "x,y\n1,\n");
}

void npy_corpus(const fs::path& dir) {
  const std::vector<double> c{1, 2, 3, 4, 5.5, -6};     // (3, 2) in C order: rows (1,2) (3,4) ...
  const std::vector<double> f{1, 3, 5.5, 2, 4, -6};     // the same matrix in Fortran order
  put(dir / "f8_c.npy", npy(1, "<f8", false, "(3, 2)", c, 8));
  put(dir / "f4_c.npy", npy(1, "<f4", false, "(3, 2)", c, 4));
  put(dir / "f8_fortran.npy", npy(1, "<f8", true, "(3, 2)", f, 8));
  put(dir / "f4_fortran_v2.npy", npy(2, "<f4", true, "(3, 2)", f, 4));
  put(dir / "f8_1d_v3.npy", npy(3, "|f8", false, "(4,)", {0.0, -0.0, 5e-324, 1e308}, 8));
  put(dir / "bad_big_endian.npy", npy(1, ">f8", false, "(3, 2)", c, 8, true));
  put(dir / "bad_int.npy", npy(1, "<i8", false, "(2,)", {0, 0}, 8));
  put(dir / "bad_3d.npy", npy(1, "<f8", false, "(1, 2, 1)", {1, 2}, 8));
  put(dir / "bad_empty_shape.npy", npy(1, "<f8", false, "(0, 2)", {}, 8));
  put(dir / "bad_nan.npy", npy(1, "<f8", false, "(1, 2)", {1, std::numeric_limits<double>::quiet_NaN()}, 8));
  std::string truncated = npy(1, "<f8", false, "(3, 2)", c, 8);
  truncated.resize(truncated.size() - 5);
  put(dir / "bad_truncated.npy", truncated);
  put(dir / "bad_trailing.npy", npy(1, "<f8", false, "(3, 2)", c, 8) + "xx");
  // What write_npy itself writes.
  Eigen::MatrixXd x(2, 3);
  x << 1, 2, 3, 4, 5, 6;
  gfd::write_npy((dir / "written.npy").string(), x);
}

void model_corpus(const fs::path& dir) {
  // A model trained for two steps, as `gfd train --steps 2 --width 4 --depth 1` would save it.
  const Eigen::MatrixXd data = gfd::toy::sample("8gaussians", 64, 1);
  gfd::generator_options o;
  o.width = 4;
  o.depth = 1;
  o.steps = 2;
  o.batch = 16;
  o.warmup = 1;
  const gfd::generator_model trained = gfd::train_generator(data, o);
  const std::string bytes = trained.to_bytes();
  put(dir / "trained_2d.gfdgen", bytes);
  // No hidden layer, 1-D; two hidden layers, 3-D noise.
  gfd::generator_model linear(1, {}, Eigen::VectorXd::Constant(1, 0.5), Eigen::VectorXd::Constant(1, 2.0));
  linear.network().parameters().setLinSpaced(-1, 1);
  linear.set_steps_trained(7);
  put(dir / "linear_1d.gfdgen", linear.to_bytes());
  gfd::generator_model deep(3, {3, 2}, Eigen::VectorXd::Zero(2), Eigen::VectorXd::Ones(2));
  deep.network().parameters().setConstant(0.25);
  put(dir / "deep.gfdgen", deep.to_bytes());
  // A conditional model (format version 2): 3 classes, guidance range [1, 4].
  gfd::generator_model cond(2, {3}, Eigen::VectorXd::Zero(2), Eigen::VectorXd::Ones(2), 3);
  cond.set_guidance_range(1.0, 4.0);
  cond.network().parameters().setLinSpaced(-0.5, 0.5);
  put(dir / "conditional.gfdgen", cond.to_bytes());
  // Broken copies of the trained one: hash, truncation, magic, version.
  std::string bad = bytes;
  bad[bad.size() / 2] ^= 1;
  put(dir / "bad_hash.gfdgen", bad);
  put(dir / "bad_truncated.gfdgen", bytes.substr(0, bytes.size() - 9));
  bad = bytes;
  bad[1] = 'X';
  put(dir / "bad_magic.gfdgen", bad);
  bad = bytes;
  bad[8] = 3;
  put(dir / "bad_version.gfdgen", bad);
  // Valid, with a step count above LONG_MAX (read as LONG_MAX): u64 at 32 + 4 H + 8, H = 1.
  std::string big = bytes;
  for (std::size_t i = 44; i < 52; ++i) big[i] = '\xff';
  std::uint64_t h = gfd::detail::generator_io::fnv1a(std::string_view(big).substr(0, big.size() - 8));
  for (std::size_t i = big.size() - 8; i < big.size(); ++i, h >>= 8) big[i] = static_cast<char>(h & 0xff);
  put(dir / "steps_above_long_max.gfdgen", big);
}

void cli_corpus(const fs::path& dir) {
  const std::vector<std::string> seeds{
      "1", "+2.5", "-0", "1e-3", "0x1p3", "inf", "nan", "1e400", "+-1", " 1",
      "1:1", "0.5:2", "0:0", "1:", ":1", "gaussian", "laplacian", "kl", "mixed", "drifting-deng",
      "heun", "exact", "tree", "grid"};
  for (std::size_t i = 0; i < seeds.size(); ++i) put(dir / ("seed_" + std::to_string(i)), seeds[i]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus <corpus directory>\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* name : {"csv", "npy", "model", "cli_numbers"}) fs::create_directories(root / name);
  csv_corpus(root / "csv");
  npy_corpus(root / "npy");
  model_corpus(root / "model");
  cli_corpus(root / "cli_numbers");
  std::printf("fuzz_make_corpus: corpora written under %s\n", root.string().c_str());
  return 0;
}
