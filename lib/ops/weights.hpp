// Device-resident weights. Matrices keep their stored dtype (f32/f16/bf16) and are split into row
// chunks that each fit one storage-buffer binding (maxStorageBufferRange may be 128 MiB or less), so a
// 1 GiB embedding table or LM head works on any device.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dlvk/dtype.hpp"
#include "vk/device.hpp"
#include "vk/memory.hpp"

namespace dlvk::ops {

struct WeightMatrix {
  struct Chunk {
    vk::BufferSlice slice;
    uint32_t row0 = 0, rows = 0;
  };
  DType dtype = DType::f32;
  uint32_t rows = 0, cols = 0;
  std::vector<Chunk> chunks;
  uint64_t bytes() const { return uint64_t(rows) * cols * size_of(dtype); }
};

// Rows per chunk so that a chunk fits the device's binding range (and allocation limit).
uint32_t rows_per_chunk(const vk::Capabilities& caps, DType dtype, uint32_t cols);

// Allocates and uploads a [rows, cols] row-major matrix stored as `dtype` (data holds rows*cols
// elements of that type). `name` is used in errors.
WeightMatrix upload_matrix(vk::Device& device, vk::Arena& arena, DType dtype, uint32_t rows, uint32_t cols,
                           const void* data, const std::string& name);

// A small f32 vector (norm weights, biases, tables).
vk::BufferSlice upload_f32(vk::Device& device, vk::Arena& arena, std::span<const float> values, const std::string& name);

}  // namespace dlvk::ops
