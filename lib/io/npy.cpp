#include "dlvk/npy.hpp"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "dlvk/error.hpp"
#include "io/json_util.hpp"

namespace dlvk {

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "npy '<f4' is little-endian");

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMaxNpyHeader = 1 << 20;

int64_t checked_numel(std::span<const int64_t> shape, const std::string& where) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(Status::invalid_argument, "{}: negative dimension {}", where, d);
    if (d != 0 && n > (int64_t(1) << 60) / d)
      fail(Status::invalid_argument, "{}: shape has too many elements", where);
    n *= d;
  }
  return n;
}

}  // namespace

std::vector<uint8_t> encode_npy_f32(std::span<const float> data, std::span<const int64_t> shape) {
  const int64_t n = checked_numel(shape, "encode_npy_f32");
  if (int64_t(data.size()) != n)
    fail(Status::invalid_argument, "encode_npy_f32: {} values for a shape with {} elements",
         data.size(), n);
  // Python repr of the shape tuple: (), (5,), (2, 3)
  std::string shp = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) shp += ", ";
    shp += std::to_string(shape[i]);
  }
  if (shape.size() == 1) shp += ",";
  shp += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shp + ", }";
  // numpy leaves room to grow axis 0 in place (GROWTH_AXIS_MAX_DIGITS = 21).
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[0]).size();
    if (digits < 21) header.append(21 - digits, ' ');
  }
  const size_t hlen = header.size() + 1;                // + '\n'
  const size_t padlen = 64 - ((6 + 2 + 2 + hlen) % 64);  // 1..64, as numpy's _wrap_header
  header.append(padlen, ' ');
  header += '\n';
  if (header.size() > 65535) fail(Status::invalid_argument, "encode_npy_f32: header too long");

  std::vector<uint8_t> out(10 + header.size() + data.size_bytes());
  std::memcpy(out.data(), kMagic, 6);
  out[6] = 1;  // version 1.0
  out[7] = 0;
  out[8] = uint8_t(header.size() & 0xff);
  out[9] = uint8_t(header.size() >> 8);
  std::memcpy(out.data() + 10, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 10 + header.size(), data.data(), data.size_bytes());
  return out;
}

void write_npy_f32(const fs::path& path, std::span<const float> data,
                   std::span<const int64_t> shape) {
  const std::vector<uint8_t> bytes = encode_npy_f32(data, shape);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) fail(Status::io_error, "{}: cannot create: {}", path.string(), std::strerror(errno));
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    fail(Status::io_error, "{}: write failed: {}", path.string(), std::strerror(errno));
  FILE* raw = f.release();
  if (std::fclose(raw) != 0)
    fail(Status::io_error, "{}: write failed: {}", path.string(), std::strerror(errno));
}

void write_npy_f32(const fs::path& path, std::span<const float> data, int64_t rows,
                   int64_t cols) {
  const int64_t shape[2] = {rows, cols};
  write_npy_f32(path, data, shape);
}

namespace {

// Parser for the Python dict literal in the header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view s, const std::string& where) : s_(s), where_(where) {}

  std::string descr;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;

  void parse() {
    ws();
    expect('{');
    for (;;) {
      ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = str();
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        descr = str();
      } else if (key == "fortran_order") {
        if (s_.substr(i_).starts_with("True")) fortran = true, i_ += 4;
        else if (s_.substr(i_).starts_with("False")) fortran = false, i_ += 5;
        else bad("fortran_order must be True or False");
      } else if (key == "shape") {
        shape = tuple();
      } else {
        bad(fmt::format("unexpected key '{}'", key));
      }
      ws();
      if (peek() == ',') {
        ++i_;
      } else if (peek() != '}') {
        bad("expected ',' or '}'");
      }
    }
    ws();
    if (i_ != s_.size()) bad("trailing characters after the header dict");
    if (descr.empty()) bad("missing 'descr'");
    if (!fortran) bad("missing 'fortran_order'");
    if (!shape) bad("missing 'shape'");
  }

 private:
  std::string_view s_;
  const std::string& where_;
  size_t i_ = 0;

  [[noreturn]] void bad(std::string_view what) const {
    fail(Status::bad_model, "{}: malformed .npy header ({}) at offset {}", where_, what, i_);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    if (peek() != c) bad(fmt::format("expected '{}'", c));
    ++i_;
  }
  std::string str() {
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    const size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) bad("unterminated string");
    return std::string(s_.substr(start, i_++ - start));
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> v;
    for (;;) {
      ws();
      if (peek() == ')') {
        ++i_;
        return v;
      }
      if (peek() < '0' || peek() > '9') bad("expected a non-negative integer in shape");
      int64_t x = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (x > (int64_t(1) << 59)) bad("shape dimension too large");
        x = x * 10 + (s_[i_++] - '0');
      }
      if (v.size() >= 32) bad("shape has too many dimensions");
      v.push_back(x);
      ws();
      if (peek() == ',') ++i_;
      else if (peek() != ')') bad("expected ',' or ')' in shape");
    }
  }
};

}  // namespace

NpyArray decode_npy(std::span<const uint8_t> b, const std::string& where) {
  if (b.size() < 10 || std::memcmp(b.data(), kMagic, 6) != 0)
    fail(Status::bad_model, "{}: not a .npy file (bad magic)", where);
  const int major = b[6];
  size_t hlen = 0, hstart = 0;
  if (major == 1) {
    hlen = size_t(b[8]) | size_t(b[9]) << 8;
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) fail(Status::bad_model, "{}: truncated .npy header", where);
    hlen = size_t(b[8]) | size_t(b[9]) << 8 | size_t(b[10]) << 16 | size_t(b[11]) << 24;
    hstart = 12;
  } else {
    fail(Status::unsupported, "{}: .npy format version {}.{} is not supported", where, major, b[7]);
  }
  if (hlen > kMaxNpyHeader)
    fail(Status::bad_model, "{}: .npy header length {} exceeds the limit {}", where, hlen,
         kMaxNpyHeader);
  if (hlen > b.size() - hstart)
    fail(Status::bad_model, "{}: truncated .npy header ({} bytes declared, {} present)", where,
         hlen, b.size() - hstart);
  HeaderParser hp(std::string_view(reinterpret_cast<const char*>(b.data() + hstart), hlen), where);
  hp.parse();
  size_t item = 0;
  if (hp.descr == "<f4") item = 4;
  else if (hp.descr == "<f8") item = 8;
  else
    fail(Status::unsupported, "{}: .npy dtype '{}' is not supported (expected '<f4' or '<f8')",
         where, hp.descr);
  if (*hp.fortran && hp.shape->size() > 1)
    fail(Status::unsupported, "{}: Fortran-order .npy arrays are not supported", where);

  NpyArray a;
  a.shape = *hp.shape;
  a.was_f64 = item == 8;
  const size_t avail = b.size() - hstart - hlen;
  uint64_t n = 1;
  for (int64_t d : a.shape) {
    if (d != 0 && n > avail / uint64_t(d) + 1) n = uint64_t(avail) + 1;  // saturate: too big
    else n *= uint64_t(d);
  }
  if (n > avail / item || n * item != avail)
    fail(Status::bad_model, "{}: .npy data is {} bytes but shape and dtype '{}' need {} elements",
         where, avail, hp.descr, n);
  a.data.resize(size_t(n));
  const uint8_t* p = b.data() + hstart + hlen;
  if (item == 4) {
    std::memcpy(a.data.data(), p, n * 4);
  } else {
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      a.data[i] = float(d);
    }
  }
  return a;
}

NpyArray read_npy(const fs::path& path) {
  const std::string bytes = io_detail::read_file_limited(path, size_t(1) << 36);
  return decode_npy(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      path.string());
}

}  // namespace dlvk
