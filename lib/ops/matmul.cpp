#include "ops/matmul.hpp"

#include <algorithm>

namespace dlvk::ops {

namespace {

struct MatmulPush {
  uint32_t M, N, K, ldx, ldy, y_col0;
};

struct TiledConfig {
  uint32_t bm, bn, bk, tm, tn;
  uint32_t threads() const { return (bm / tm) * (bn / tn); }
  uint32_t shared_bytes() const { return bk * (bm + bn) * 4; }
};

TiledConfig tiled_config(const vk::Capabilities& caps) {
  TiledConfig big{64, 64, 16, 4, 4};
  if (big.threads() <= caps.max_workgroup_invocations && big.shared_bytes() <= caps.max_shared_memory) return big;
  return {32, 32, 16, 4, 4};  // 64 invocations, 4 KiB shared: fits every Vulkan 1.1 device
}

}  // namespace

void record_matmul(vk::Recorder& rec, const MatmulArgs& a, std::string_view label) {
  const auto& caps = rec.device().caps();
  const WeightMatrix& w = *a.w;
  bool has_bias = a.bias.valid();
  MatmulVariant v = a.variant;
  // On CPU devices the row-per-invocation kernel (XROWS rows of X per weight read) beats the
  // cooperative ones at every M.
  if (v == MatmulVariant::automatic)
    v = caps.cpu_quirks ? MatmulVariant::rows : a.M <= 2 ? MatmulVariant::matvec : MatmulVariant::tiled;

  vk::KernelKey key;
  uint32_t gx_rows = 0, gy = 0;
  if (v == MatmulVariant::rows) {
    uint32_t wg = std::min<uint32_t>(64, caps.max_workgroup_invocations);
    uint32_t xrows = a.M >= 8 ? 8u : a.M >= 4 ? 4u : 1u;
    // Texel buffers where X and every weight chunk fit one (whole uvec4s, within the element limit).
    auto texel_ok = [&](const vk::BufferSlice& s) { return s.size % 16 == 0 && s.size / 16 <= caps.max_texel_buffer_elements; };
    bool texel = texel_ok(a.x) && std::all_of(w.chunks.begin(), w.chunks.end(), [&](auto& c) { return texel_ok(c.slice); });
    key = {texel ? "matmul_rows_texel" : "matmul_rows", {wg, xrows, w.format_code(), has_bias, a.accumulate}, 4,
           sizeof(MatmulPush), 0, texel ? 3u : 0u};
    gx_rows = wg;
    gy = (a.M + xrows - 1) / xrows;
  } else if (v == MatmulVariant::matvec) {
    uint32_t wg = std::min<uint32_t>(64, caps.max_workgroup_invocations);
    uint32_t rows = 2;
    key = {"matvec", {wg, rows, w.format_code(), has_bias, a.accumulate, caps.subgroup_arithmetic ? 1u : 0u},
           4, sizeof(MatmulPush)};
    gx_rows = rows;
    gy = a.M;
  } else {
    TiledConfig t = tiled_config(caps);
    key = {"matmul", {t.threads(), t.bm, t.bn, t.bk, t.tm, t.tn, w.format_code(), has_bias, a.accumulate}, 4,
           sizeof(MatmulPush)};
    gx_rows = t.bn;
    gy = (a.M + t.bm - 1) / t.bm;
  }
  const vk::Kernel& kernel = rec.device().kernel(key);
  for (const auto& chunk : w.chunks) {
    MatmulPush p{a.M, chunk.rows, w.cols, a.ldx, a.ldy, chunk.row0};
    rec.dispatch(kernel,
                 {vk::in(a.x), vk::in(chunk.slice), vk::in(has_bias ? a.bias : a.x),
                  a.accumulate ? vk::inout(a.y) : vk::out(a.y)},
                 p, (chunk.rows + gx_rows - 1) / gx_rows, gy, 1, label);
  }
}

}  // namespace dlvk::ops
