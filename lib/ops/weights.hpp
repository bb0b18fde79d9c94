// Device-resident weights. Matrices keep their stored dtype (f32/f16/bf16) and are split into row
// chunks that each fit one storage-buffer binding (maxStorageBufferRange may be 128 MiB or less), so a
// 1 GiB embedding table or LM head works on any device.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "dlvk/dtype.hpp"
#include "vk/device.hpp"
#include "vk/memory.hpp"

namespace dlvk::ops {

// Block quantization applied at load (--quant): blocks of 32 elements along a row, one f16 scale each.
// q8_0: q = round(x / d) in [-127, 127] (x / d in f32, halves away from zero), d = max|x| / 127. q4_0: q = round(x / d) in [-8, 7], d = m / -8
// where m is the block's value of largest magnitude (so m itself is exact). x ~ d * q.
enum class Quant { none, q8_0, q4_0 };
const char* quant_name(Quant q);
Quant parse_quant(std::string_view s);  // "none"/"f16"..., "q8_0", "q4_0"; invalid_argument otherwise

// Quantizes one row (cols % 32 == 0) to packed data (q8_0: cols bytes; q4_0: cols/2 bytes, element e
// of a 32-bit word at bits 4e) and f16 scales (cols / 32). The device layout of weights.glsl.
void quantize_row(Quant q, std::span<const float> row, uint8_t* data, uint16_t* scales);

struct WeightMatrix {
  struct Chunk {
    vk::BufferSlice slice;
    uint32_t row0 = 0, rows = 0;
  };
  DType dtype = DType::f32;  // of the source; the stored form when quant == none
  Quant quant = Quant::none;
  uint32_t rows = 0, cols = 0;
  std::vector<Chunk> chunks;
  uint64_t bytes() const;
  // The shaders' weight format code (weights.glsl DT_*).
  uint32_t format_code() const;
};

// Bytes of one stored row (quantized: data and scale).
uint64_t stored_row_bytes(DType dtype, Quant quant, uint32_t cols);
// Rows per chunk so that a chunk fits the device's binding range (and allocation limit).
uint32_t rows_per_chunk(const vk::Capabilities& caps, uint64_t row_bytes);

// Allocates and uploads a [rows, cols] row-major matrix given as `dtype` (data holds rows*cols
// elements of that type), stored as is or quantized (`quant`; only when cols % 32 == 0, else as is).
// `name` is used in errors.
WeightMatrix upload_matrix(vk::Device& device, vk::Arena& arena, DType dtype, uint32_t rows, uint32_t cols,
                           const void* data, const std::string& name, Quant quant = Quant::none);

// A small f32 vector (norm weights, biases, tables).
vk::BufferSlice upload_f32(vk::Device& device, vk::Arena& arena, std::span<const float> values, const std::string& name);

}  // namespace dlvk::ops
