#include "ops/weights.hpp"

#include <algorithm>

namespace dlvk::ops {

uint32_t rows_per_chunk(const vk::Capabilities& caps, DType dtype, uint32_t cols) {
  uint64_t row_bytes = uint64_t(cols) * size_of(dtype);
  uint64_t limit = std::min<uint64_t>(caps.max_storage_buffer_range, caps.max_allocation_size);
  // Keep chunk element indices even so f16/bf16 pairs never straddle two chunks' words.
  uint64_t rows = limit / std::max<uint64_t>(row_bytes, 1);
  if (rows > 1) rows &= ~uint64_t(1);
  return uint32_t(std::min<uint64_t>(rows, UINT32_MAX));
}

WeightMatrix upload_matrix(vk::Device& device, vk::Arena& arena, DType dtype, uint32_t rows, uint32_t cols,
                           const void* data, const std::string& name) {
  WeightMatrix m;
  m.dtype = dtype;
  m.rows = rows;
  m.cols = cols;
  uint32_t per = rows_per_chunk(device.caps(), dtype, cols);
  if (per == 0)
    fail(Status::unsupported, "{}: one row of {} {} values exceeds the device's storage-buffer range of {} bytes", name,
         cols, dlvk::name(dtype), device.caps().max_storage_buffer_range);
  uint64_t row_bytes = uint64_t(cols) * size_of(dtype);
  for (uint32_t r0 = 0; r0 < rows; r0 += per) {
    uint32_t n = std::min(per, rows - r0);
    WeightMatrix::Chunk c;
    c.row0 = r0;
    c.rows = n;
    // Shaders read 32-bit words or 128-bit texels: round the binding up to whole texels so a tail of
    // 16-bit values stays in range.
    c.slice = arena.allocate((n * row_bytes + 15) & ~uint64_t(15), name);
    vk::upload(device, c.slice, static_cast<const char*>(data) + r0 * row_bytes, n * row_bytes);
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
