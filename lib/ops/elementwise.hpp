// Small ops: gated activations (SwiGLU / exact-GELU GLU), addition, and the embedding gather.
#pragma once
#include "ops/weights.hpp"
#include "vk/recorder.hpp"

namespace dlvk::ops {

// *_pairs: the GLU of an interleaved gate/up projection, gate and up values in groups of glu_group
// (ops::glu_group): out[i] = act(a[g]) * a[g + glu_group], g = (i / glu_group) * 2 glu_group + i % glu_group
// (b is not read; n a multiple of glu_group).
enum class EltOp : uint32_t { silu_mul = 0, gelu_mul = 1, add = 2, silu_mul_pairs = 3, gelu_mul_pairs = 4 };

// out[i] = op(a[i], b[i]) for i < n
void record_elementwise(vk::Recorder& rec, EltOp op, const vk::BufferSlice& a, const vk::BufferSlice& b,
                        const vk::BufferSlice& out, uint32_t n, std::string_view label, uint32_t glu_group = 1);

// out[t, :] = table[ids[ids_offset + t], :] for t < T. ids must be validated in range by the caller.
void record_embedding(vk::Recorder& rec, const WeightMatrix& table, const vk::BufferSlice& ids, uint32_t ids_offset,
                      const vk::BufferSlice& out, uint32_t ldo, uint32_t T, std::string_view label);

}  // namespace dlvk::ops
