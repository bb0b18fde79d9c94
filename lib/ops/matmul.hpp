// Matrix products Y[M, N] (+)= X[M, K] . W[N, K]^T (+ bias): a tiled shared-memory kernel for M > 1
// (prefill) and a matrix-vector kernel for decode. Variants (tile sizes, subgroup reduction) are chosen
// from the device's Capabilities only.
#pragma once
#include <optional>
#include <string_view>

#include "ops/weights.hpp"
#include "vk/recorder.hpp"

namespace dlvk::ops {

// tiled: shared-memory tiles (GPUs, M > 2); matvec: invocations split K and reduce (GPUs, decode);
// rows: each invocation streams a block of weight rows against a block of X rows (CPU devices, prefill;
// any device: no subgroup operations); subgroup_k: a subgroup's lanes split K for a block of columns
// (CPU devices, decode; falls back to rows where it cannot run); coopmat: f16 cooperative matrices with f32
// sums (GPUs with VK_NV_cooperative_matrix, prefill, with $DLVK_COOPMAT=1; asked for on other devices it
// runs its emulation, for tests; tiled where it cannot run: no subgroup arithmetic or fp16); matvec_wide:
// matvec with 16-byte loads (GPUs, decode, as Capabilities::gpu_matvec says; matvec where K is not a
// multiple of a load's elements or X rows do not start at multiples of 4 floats).
enum class MatmulVariant { automatic, tiled, matvec, subgroup_k, rows, coopmat, matvec_wide };
const char* matmul_variant_name(MatmulVariant v);

// (Automatic prefill matmuls on GPUs use coopmat as Capabilities::coopmat_use says.)

// A gated activation applied to a gate/up projection's product (SwiGLU, GELU-GLU).
enum class Glu { none, silu, gelu };

// The group in which a gate/up projection of `intermediate` rows each interleaves its rows (G gate rows,
// then the same G up rows; shaders/common/activation.glsl): 8, the CPU rows kernel's lane stride, where
// it divides the row count, else 1.
uint32_t glu_group(uint32_t intermediate);

struct MatmulArgs {
  vk::BufferSlice x;        // f32 [M, ldx]
  uint32_t ldx = 0;
  const WeightMatrix* w = nullptr;  // [N, K]
  vk::BufferSlice bias;     // optional f32 [N]
  vk::BufferSlice y;        // f32 [M, ldy]
  uint32_t ldy = 0;
  uint32_t M = 0;
  bool accumulate = false;  // Y += result (fused residual add)
  // Optional RMSNorm of the X rows inside the product: Y = W . (g * x / sqrt(mean(x^2) + eps)), g f32 [K].
  // Every kernel applies it.
  vk::BufferSlice norm_weight;
  float norm_eps = 0;
  // Optional GLU of the product: W is a gate/up projection interleaved in groups of glu_group and
  // Y[m, c] = act(gate_c . x_m) * (up_c . x_m) for c < N / 2 (bias added to both; no accumulate).
  // matvec(_wide), subgroup_k, rows (K % 8 == 0, groups of 8), tiled and coopmat (groups of 8) fuse it: check matmul_fuses_glu.
  Glu glu = Glu::none;
  uint32_t glu_group = 1;
  // Optional RoPE and KV-cache write of a q/k/v projection [q: H heads | k: Hkv | v: Hkv] whose q and k
  // heads are stored permuted with pair group 8 (rope_stored_row): Y gets the rotated queries (columns
  // < H * d), the caches [ctx, Hkv * d] keys (rotated, permuted) and values at row pos0 + m, as
  // record_rope_qkv would. matvec(_wide), subgroup_k, tiled, coopmat and rows (texel buffers) fuse it: check matmul_fuses_rope.
  struct QkvRope {
    vk::BufferSlice params, table;  // uint pos0; cos/sin rope_table
    vk::BufferSlice k_cache, v_cache;
    uint32_t H = 0, Hkv = 0, d = 0;
  };
  std::optional<QkvRope> rope;
  // Bytes of weights one pass of the caller's work streams (a decode step: the whole model): CPU devices
  // pick the decode kernel by whether that fits the host's last-level cache. 0: this matrix alone.
  uint64_t stream_bytes = 0;
  MatmulVariant variant = MatmulVariant::automatic;
};

// The variant record_matmul runs for these arguments: `automatic` resolved from the device, and
// subgroup_k replaced by rows where it cannot run (no subgroup arithmetic, no texel buffers, K % 8 != 0),
// coopmat by tiled, matvec_wide by matvec.
MatmulVariant resolve_matmul_variant(const vk::Capabilities& caps, const MatmulArgs& a);

// Whether the coopmat variant (or, on devices without cooperative matrices, its emulation) can run here;
// where not, asking for it runs tiled.
bool coopmat_runs(const vk::Capabilities& caps);

// CPU devices: whether decode matmuls (M < 4) over `stream_bytes` of weights (block-quantized or not)
// split K across lanes (subgroup_k) rather than stream weight rows per lane (rows): Capabilities::cpu_matvec.
bool cpu_decode_splits_k(const vk::Capabilities& caps, uint64_t stream_bytes, bool quantized);

// Whether record_matmul can apply args.glu itself (else: the product, then record_elementwise's GLU).
bool matmul_fuses_glu(const vk::Capabilities& caps, const MatmulArgs& a);

// Whether record_matmul can apply args.rope itself (else: the product, then record_rope_qkv).
bool matmul_fuses_rope(const vk::Capabilities& caps, const MatmulArgs& a);
void record_matmul(vk::Recorder& rec, const MatmulArgs& a, std::string_view label);

}  // namespace dlvk::ops
