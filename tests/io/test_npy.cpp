#include <cstring>

#include "dlvk/npy.hpp"
#include "test_util.hpp"

using dlvk::Status;
using iotest::expect_error;
using namespace std::string_literals;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// What numpy.save (1.24) writes for np.zeros(shape, dtype): the header strings were captured from
// numpy itself.
std::vector<uint8_t> numpy_file(const std::string& dict, const std::vector<uint8_t>& data) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::vector<uint8_t> out = bytes_of("\x93NUMPY");
  out.push_back(1);
  out.push_back(0);
  out.push_back(uint8_t(h.size()));
  out.push_back(uint8_t(h.size() >> 8));
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

}  // namespace

TEST_CASE("npy: writer output is byte-identical to numpy.save") {
  // Header of np.save(np.zeros((2, 3), '<f4')): 118 header bytes + 10 = 128.
  const std::string want_2x3 =
      "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"s +
      std::string(58, ' ') + "\n";
  const std::vector<float> zeros(6, 0.0f);
  const int64_t s23[] = {2, 3};
  std::vector<uint8_t> got = dlvk::encode_npy_f32(zeros, s23);
  REQUIRE(got.size() == 128 + 24);
  CHECK(std::string(got.begin(), got.begin() + 128) == want_2x3);

  // (1, 128256): the growth padding shrinks with the axis-0 digits; still 128 bytes.
  const std::string want_logits =
      "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1, 128256), }"s +
      std::string(53, ' ') + "\n";
  std::vector<float> logits(128256, 1.0f);
  got = dlvk::encode_npy_f32(logits, std::vector<int64_t>{1, 128256});
  CHECK(std::string(got.begin(), got.begin() + 128) == want_logits);

  // 1-d and 0-d
  const std::string want_1d =
      "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"s +
      std::string(60, ' ') + "\n";
  got = dlvk::encode_npy_f32(std::vector<float>(5), std::vector<int64_t>{5});
  CHECK(std::string(got.begin(), got.begin() + 128) == want_1d);
  const std::string want_0d =
      "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (), }"s +
      std::string(62, ' ') + "\n";
  got = dlvk::encode_npy_f32(std::vector<float>(1), std::vector<int64_t>{});
  CHECK(std::string(got.begin(), got.begin() + 128) == want_0d);

  // every header length keeps the data 64-byte aligned
  for (int64_t rows : std::initializer_list<int64_t>{1, 12, 123456789, 1234567890123LL}) {
    const int64_t shape[2] = {rows, 0};
    const auto b = dlvk::encode_npy_f32({}, shape);
    CHECK(b.size() % 64 == 0);
    CHECK(b.back() == '\n');
  }
  expect_error([&] { dlvk::encode_npy_f32(std::vector<float>(5), s23); }, Status::invalid_argument,
               {"5"});
}

TEST_CASE("npy: write and read back") {
  iotest::TempDir dir;
  std::vector<float> v(3 * 7);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.25f - 1.0f;
  dlvk::write_npy_f32(dir / "logits.npy", v, 3, 7);
  const dlvk::NpyArray a = dlvk::read_npy(dir / "logits.npy");
  CHECK(a.shape == std::vector<int64_t>{3, 7});
  CHECK(a.numel() == 21);
  CHECK(a.data == v);
  CHECK_FALSE(a.was_f64);
  expect_error([&] { dlvk::read_npy(dir / "missing.npy"); }, Status::io_error, {"missing.npy"});
  expect_error([&] { dlvk::write_npy_f32(dir / "no" / "such" / "dir.npy", v, 3, 7); },
               Status::io_error, {"dir.npy"});
}

TEST_CASE("npy: reads float64 as numpy writes it, and other versions") {
  const double vals[] = {1.0, -2.5, 1e-3, 3.141592653589793, 0.0, 7.0};
  std::vector<uint8_t> data(sizeof vals);
  std::memcpy(data.data(), vals, sizeof vals);
  const auto f = numpy_file(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }" + std::string(20, ' '), data);
  const dlvk::NpyArray a = dlvk::decode_npy(f, "golden.npy");
  CHECK(a.was_f64);
  CHECK(a.shape == std::vector<int64_t>{3, 2});
  for (size_t i = 0; i < 6; ++i) CHECK(a.data[i] == float(vals[i]));

  // version 2.0 (u32 header length), keys in another order, double quotes
  std::string h = "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}";
  while ((12 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::vector<uint8_t> v2 = bytes_of("\x93NUMPY");
  v2.push_back(2);
  v2.push_back(0);
  for (int i = 0; i < 4; ++i) v2.push_back(uint8_t(h.size() >> (8 * i)));
  v2.insert(v2.end(), h.begin(), h.end());
  const float two[] = {4.0f, 5.0f};
  v2.insert(v2.end(), reinterpret_cast<const uint8_t*>(two), reinterpret_cast<const uint8_t*>(two) + 8);
  const dlvk::NpyArray b = dlvk::decode_npy(v2, "v2.npy");
  CHECK(b.shape == std::vector<int64_t>{2});
  CHECK(b.data == std::vector<float>{4.0f, 5.0f});
}

TEST_CASE("npy: bad files") {
  const std::vector<uint8_t> d8(8);
  auto bad = [&](const std::vector<uint8_t>& b, Status st, std::initializer_list<std::string> subs) {
    expect_error([&] { dlvk::decode_npy(b, "x.npy"); }, st, subs);
  };
  bad({}, Status::bad_model, {"x.npy", "magic"});
  bad(bytes_of("PK\x03\x04 not npy at all"), Status::bad_model, {"magic"});
  bad(numpy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", d8),
      Status::unsupported, {"x.npy", "<i8"});
  bad(numpy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", d8),
      Status::unsupported, {">f4"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }", d8),
      Status::unsupported, {"Fortran"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", d8), Status::bad_model,
      {"x.npy", "8 bytes"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", d8), Status::bad_model,
      {"x.npy"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", d8),
      Status::bad_model, {"x.npy"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", d8),
      Status::bad_model, {"x.npy", "too large"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False}", d8), Status::bad_model, {"shape"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", d8), Status::bad_model,
      {"fortran_order"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", d8), Status::bad_model,
      {"shape"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", d8),
      Status::bad_model, {"'x'"});
  bad(numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", d8), Status::bad_model,
      {"x.npy"});
  std::vector<uint8_t> trunc = numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", d8);
  trunc.resize(30);
  bad(trunc, Status::bad_model, {"truncated"});
  std::vector<uint8_t> v9 = trunc;
  v9[6] = 9;
  bad(v9, Status::unsupported, {"version 9"});
}
