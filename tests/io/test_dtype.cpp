#include <bit>
#include <cmath>
#include <limits>

#include "dlvk/dtype.hpp"
#include "test_util.hpp"

using namespace dlvk;

namespace {
// Independent f16 decoding by the definition: (-1)^s * 2^(e-15) * (1 + m/1024), subnormal
// 2^-14 * m/1024.
double f16_value(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0) v = std::ldexp(double(m), -24);
  else if (e == 31) v = m ? std::numeric_limits<double>::quiet_NaN() : INFINITY;
  else v = std::ldexp(1.0 + m / 1024.0, e - 15);
  return s ? -v : v;
}
}  // namespace

TEST_CASE("dtype: names and sizes") {
  CHECK(size_of(DType::f32) == 4);
  CHECK(size_of(DType::f16) == 2);
  CHECK(size_of(DType::bf16) == 2);
  CHECK(std::string(name(DType::bf16)) == "BF16");
  CHECK(dtype_from_safetensors("F16") == DType::f16);
  CHECK_FALSE(dtype_from_safetensors("F64").has_value());
  CHECK_FALSE(dtype_from_safetensors("f32").has_value());
}

TEST_CASE("dtype: f16 -> f32 -> f16 is exact for all 65536 values") {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = uint16_t(i);
    const float f = f16_to_f32(h);
    const double want = f16_value(h);
    if (std::isnan(want)) {
      REQUIRE(std::isnan(f));
      REQUIRE(std::signbit(f) == bool(h & 0x8000));
    } else {
      REQUIRE(double(f) == want);
      REQUIRE(std::signbit(f) == bool(h & 0x8000));
    }
    REQUIRE(f32_to_f16(f) == h);
  }
}

TEST_CASE("dtype: bf16 -> f32 -> bf16 is exact for all 65536 values") {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t b = uint16_t(i);
    const float f = bf16_to_f32(b);
    REQUIRE(std::bit_cast<uint32_t>(f) == (i << 16));
    REQUIRE(f32_to_bf16(f) == b);
  }
}

TEST_CASE("dtype: f32 -> f16 rounds to nearest even at every midpoint") {
  // For each pair of adjacent finite non-negative f16 values a < b, the midpoint is exact in f32:
  // it must round to the one with an even mantissa, and its f32 neighbours to the nearer one.
  for (uint16_t a = 0; a < 0x7bff; ++a) {
    const uint16_t b = uint16_t(a + 1);
    const float fa = f16_to_f32(a), fb = f16_to_f32(b);
    const float mid = (fa + fb) / 2;
    REQUIRE(double(mid) == (double(fa) + double(fb)) / 2);
    const uint16_t even = (a & 1) ? b : a;
    REQUIRE(f32_to_f16(mid) == even);
    REQUIRE(f32_to_f16(std::nextafter(mid, 0.0f)) == a);
    REQUIRE(f32_to_f16(std::nextafter(mid, INFINITY)) == b);
    REQUIRE(f32_to_f16(-mid) == uint16_t(even | 0x8000));
  }
  // Overflow: 65504 is the largest finite; 65520 (the midpoint to 2^16) rounds to inf.
  CHECK(f32_to_f16(65504.0f) == 0x7bff);
  CHECK(f32_to_f16(std::nextafter(65520.0f, 0.0f)) == 0x7bff);
  CHECK(f32_to_f16(65520.0f) == 0x7c00);
  CHECK(f32_to_f16(1e30f) == 0x7c00);
  CHECK(f32_to_f16(-1e30f) == 0xfc00);
  CHECK(f32_to_f16(INFINITY) == 0x7c00);
  CHECK(f32_to_f16(-INFINITY) == 0xfc00);
  // Underflow: half the smallest subnormal (2^-25) ties to zero; just above rounds up.
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0);
  CHECK(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 1);
  CHECK(f32_to_f16(std::ldexp(1.0f, -26)) == 0);
  CHECK(f32_to_f16(1e-30f) == 0);
  CHECK(f32_to_f16(-1e-30f) == 0x8000);
  CHECK(f32_to_f16(std::numeric_limits<float>::denorm_min()) == 0);
  CHECK(f32_to_f16(-0.0f) == 0x8000);
  // NaN stays NaN (also one whose payload lives only in the low bits), with its sign.
  const uint16_t n = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  CHECK((n & 0x7c00) == 0x7c00);
  CHECK((n & 0x3ff) != 0);
  const uint16_t n2 = f32_to_f16(std::bit_cast<float>(0xff800001u));
  CHECK((n2 & 0x7c00) == 0x7c00);
  CHECK((n2 & 0x3ff) != 0);
  CHECK((n2 & 0x8000) != 0);
  // A few ordinary values.
  CHECK(f32_to_f16(1.0f) == 0x3c00);
  CHECK(f32_to_f16(-2.0f) == 0xc000);
  CHECK(f32_to_f16(0.1f) == 0x2e66);
  CHECK(f32_to_f16(1.0f / 3.0f) == 0x3555);
}

TEST_CASE("dtype: f32 -> bf16 rounds to nearest even at every midpoint") {
  for (uint32_t a = 0; a < 0x7f7f; ++a) {
    const uint16_t b = uint16_t(a + 1);
    const float fa = bf16_to_f32(uint16_t(a)), fb = bf16_to_f32(b);
    const float mid = std::bit_cast<float>((a << 16) | 0x8000u);  // exact midpoint
    REQUIRE(double(mid) == (double(fa) + double(fb)) / 2);
    const uint16_t even = (a & 1) ? b : uint16_t(a);
    REQUIRE(f32_to_bf16(mid) == even);
    REQUIRE(f32_to_bf16(std::nextafter(mid, 0.0f)) == uint16_t(a));
    REQUIRE(f32_to_bf16(std::nextafter(mid, INFINITY)) == b);
  }
  CHECK(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds up to inf
  CHECK(f32_to_bf16(INFINITY) == 0x7f80);
  CHECK(f32_to_bf16(-INFINITY) == 0xff80);
  const uint16_t n = f32_to_bf16(std::bit_cast<float>(0x7f800001u));  // payload in low bits only
  CHECK((n & 0x7f80) == 0x7f80);
  CHECK((n & 0x7f) != 0);
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(std::numeric_limits<float>::denorm_min()) == 0);
}

TEST_CASE("dtype: torch dtype names") {
  CHECK(dtype_from_torch_name("float32") == DType::f32);
  CHECK(dtype_from_torch_name("torch.float16") == DType::f16);
  CHECK(dtype_from_torch_name("bfloat16") == DType::bf16);
  CHECK_FALSE(dtype_from_torch_name("int8").has_value());
}
