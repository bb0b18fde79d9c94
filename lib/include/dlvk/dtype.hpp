// Element types of weights on disk (safetensors F32/F16/BF16) and exact scalar conversions.
// f32 -> f16/bf16 rounds to nearest, ties to even; overflow gives +-inf; subnormals, infinities and
// NaN are handled (a NaN stays a NaN, its sign and top payload bits are kept, so every f16/bf16
// value round-trips through f32 bit-exactly).
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dlvk {

enum class DType { f32, f16, bf16 };

// Bytes per element.
constexpr size_t size_of(DType t) { return t == DType::f32 ? 4 : 2; }

// Safetensors spelling: "F32", "F16", "BF16".
constexpr const char* name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
  }
  return "?";
}

// Parses the safetensors spelling ("F32", "F16", "BF16"); nullopt for anything else.
constexpr std::optional<DType> dtype_from_safetensors(std::string_view s) {
  if (s == "F32") return DType::f32;
  if (s == "F16") return DType::f16;
  if (s == "BF16") return DType::bf16;
  return std::nullopt;
}

// Parses a torch dtype name as written in config.json ("float32", "float16", "bfloat16", with or
// without a "torch." prefix; also "half", "float", "bf16"-style short names); nullopt otherwise.
std::optional<DType> dtype_from_torch_name(std::string_view s);

constexpr float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24, exact in f32
    const float mag = float(mant) * (1.0f / 16777216.0f);
    return std::bit_cast<float>(std::bit_cast<uint32_t>(mag) | sign);
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

constexpr uint16_t f32_to_f16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) {
    if (x == 0x7f800000u) return uint16_t(sign | 0x7c00u);
    uint32_t m = (x >> 13) & 0x3ffu;
    if (m == 0) m = 0x200u;  // payload lost in the low bits: keep it a (quiet) NaN
    return uint16_t(sign | 0x7c00u | m);
  }
  if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (x < 0x38800000u) {                                   // below 2^-14: f16 subnormal or zero
    const uint32_t e = x >> 23;
    if (e < 102) return sign;  // < 2^-25 (or exactly 2^-25 with an even result): rounds to zero
    const uint32_t m = (x & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e;  // 14..24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return uint16_t(sign | r);
  }
  uint32_t r = (x - 0x38000000u) >> 13;  // rebias exponent 127 -> 15
  const uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return uint16_t(sign | r);
}

constexpr float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

constexpr uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    uint16_t r = uint16_t(x >> 16);
    if ((r & 0x7fu) == 0) r |= 0x40u;  // keep it a NaN
    return r;
  }
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// Stores `value` as one element of dtype `t` at `out` (size_of(t) bytes, little-endian, unaligned ok);
// returns the value the stored element represents (value itself for f32, else rounded).
inline float store_as(DType t, float value, void* out) {
  if (t == DType::f32) {
    __builtin_memcpy(out, &value, 4);
    return value;
  }
  const uint16_t h = t == DType::f16 ? f32_to_f16(value) : f32_to_bf16(value);
  __builtin_memcpy(out, &h, 2);
  return t == DType::f16 ? f16_to_f32(h) : bf16_to_f32(h);
}

// Reads one element of dtype `t` at `in` (unaligned ok) as f32 (exact).
inline float load_as(DType t, const void* in) {
  if (t == DType::f32) {
    float v;
    __builtin_memcpy(&v, in, 4);
    return v;
  }
  uint16_t h;
  __builtin_memcpy(&h, in, 2);
  return t == DType::f16 ? f16_to_f32(h) : bf16_to_f32(h);
}

}  // namespace dlvk
