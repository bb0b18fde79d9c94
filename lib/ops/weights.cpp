#include "ops/weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dlvk::ops {

const char* quant_name(Quant q) { return q == Quant::q8_0 ? "q8_0" : q == Quant::q4_0 ? "q4_0" : "none"; }

Quant parse_quant(std::string_view s) {
  if (s == "q8_0") return Quant::q8_0;
  if (s == "q4_0") return Quant::q4_0;
  if (s.empty() || s == "none") return Quant::none;
  fail(Status::invalid_argument, "unknown quantization '{}' (known: none, q8_0, q4_0)", s);
}

void quantize_row(Quant q, std::span<const float> row, uint8_t* data, uint16_t* scales) {
  const size_t blocks = row.size() / 32;
  if (q == Quant::q4_0) std::memset(data, 0, row.size() / 2);
  for (size_t b = 0; b < blocks; ++b) {
    std::span<const float> x = row.subspan(b * 32, 32);
    float amax = 0, m = 0;
    for (float v : x)
      if (std::abs(v) > amax) {
        amax = std::abs(v);
        m = v;
      }
    // The scale as stored (f16) is the one the values are rounded against.
    uint16_t d16 = f32_to_f16(q == Quant::q8_0 ? amax / 127.0f : m / -8.0f);
    scales[b] = d16;
    const float d = f16_to_f32(d16);
    for (size_t j = 0; j < 32; ++j) {
      const size_t e = b * 32 + j;
      if (q == Quant::q8_0) {
        data[e] = uint8_t(int8_t(std::clamp(d != 0 ? std::lround(x[j] / d) : 0l, -127l, 127l)));
      } else {
        const uint8_t nib = uint8_t(std::clamp(d != 0 ? std::lround(x[j] / d) : 0l, -8l, 7l) + 8);
        data[e / 2] |= uint8_t(nib << (4 * (e & 1)));
      }
    }
  }
}

uint64_t stored_row_bytes(DType dtype, Quant quant, uint32_t cols) {
  if (quant == Quant::none) return uint64_t(cols) * size_of(dtype);
  return (quant == Quant::q8_0 ? cols : cols / 2) + cols / 32 * 2;
}

uint64_t WeightMatrix::bytes() const { return uint64_t(rows) * stored_row_bytes(dtype, quant, cols); }

uint32_t WeightMatrix::format_code() const {
  if (quant != Quant::none) return quant == Quant::q8_0 ? 3 : 4;
  return dtype == DType::f32 ? 0 : dtype == DType::f16 ? 1 : 2;
}

uint32_t rows_per_chunk(const vk::Capabilities& caps, uint64_t row_bytes) {
  uint64_t limit = std::min<uint64_t>(caps.max_storage_buffer_range, caps.max_allocation_size);
  // Chunks of a multiple of 16 rows (where a chunk holds that many): f16/bf16 pairs never straddle two
  // chunks' words, and a gate/up projection's groups of 2 x 8 rows (ops::glu_group) stay whole.
  uint64_t rows = limit / std::max<uint64_t>(row_bytes + 16, 1);  // + 16: room to pad to whole texels
  if (rows > 16) rows &= ~uint64_t(15);
  else if (rows > 1) rows &= ~uint64_t(1);
  return uint32_t(std::min<uint64_t>(rows, UINT32_MAX));
}

WeightMatrix upload_matrix(vk::Device& device, vk::Arena& arena, DType dtype, uint32_t rows, uint32_t cols,
                           const void* data, const std::string& name, Quant quant) {
  WeightMatrix m;
  m.dtype = dtype;
  m.quant = cols % 32 == 0 ? quant : Quant::none;
  m.rows = rows;
  m.cols = cols;
  const uint64_t row_bytes = stored_row_bytes(dtype, m.quant, cols), src_row_bytes = uint64_t(cols) * size_of(dtype);
  uint32_t per = rows_per_chunk(device.caps(), row_bytes);
  if (per == 0)
    fail(Status::unsupported, "{}: one row of {} {} values exceeds the device's storage-buffer range of {} bytes", name,
         cols, dlvk::name(dtype), device.caps().max_storage_buffer_range);
  std::vector<uint8_t> packed;
  std::vector<float> row(cols);
  for (uint32_t r0 = 0; r0 < rows; r0 += per) {
    uint32_t n = std::min(per, rows - r0);
    WeightMatrix::Chunk c;
    c.row0 = r0;
    c.rows = n;
    // Shaders read 32-bit words or 128-bit texels: round the binding up to whole texels so a tail of
    // 16-bit values stays in range.
    c.slice = arena.allocate((n * row_bytes + 15) & ~uint64_t(15), name);
    const char* src = static_cast<const char*>(data) + r0 * src_row_bytes;
    if (m.quant == Quant::none) {
      vk::upload(device, c.slice, src, n * row_bytes);
    } else {
      // [data of n rows][n * cols / 32 f16 scales]
      const uint64_t data_bytes = uint64_t(n) * (row_bytes - cols / 32 * 2);
      packed.assign(n * row_bytes, 0);
      auto* scales = reinterpret_cast<uint16_t*>(packed.data() + data_bytes);
      for (uint32_t r = 0; r < n; ++r) {
        for (uint32_t k = 0; k < cols; ++k) row[k] = load_as(dtype, src + (uint64_t(r) * cols + k) * size_of(dtype));
        quantize_row(m.quant, row, packed.data() + uint64_t(r) * (data_bytes / n), scales + uint64_t(r) * (cols / 32));
      }
      vk::upload(device, c.slice, packed.data(), packed.size());
    }
    m.chunks.push_back(c);
  }
  return m;
}

vk::BufferSlice upload_f32(vk::Device& device, vk::Arena& arena, std::span<const float> values, const std::string& name) {
  vk::BufferSlice s = arena.allocate(values.size_bytes(), name);
  vk::upload(device, s, values.data(), values.size_bytes());
  return s;
}

}  // namespace dlvk::ops
