#include "ops/matmul.hpp"

#include <algorithm>

namespace dlvk::ops {

namespace {

struct MatmulPush {
  uint32_t M, N, K, ldx, ldy, y_col0;
  uint32_t flags;  // 4 / 8: GLU with SiLU / GELU; CPU-device kernels (matmul_io.glsl) also 1 bias,
                   // 2 accumulate (GPU kernels specialize those)
  float norm_eps;  // CPU-device kernels with NORM
  uint32_t glu_group;
  uint32_t rope_q, rope_kv, rope_d;  // ROPE variants: H * d, Hkv * d, d
};

// Columns per subgroup of the subgroup_k kernel (M == 1: 32, else 16).
uint32_t subgroup_k_columns(const MatmulArgs& a) { return a.M == 1 ? 32u : 16u; }
// The rows kernel reads 8 elements at a time where K % 8 == 0 and X rows are whole texels.
bool rows_vectorized(const MatmulArgs& a) { return a.w->cols % 8 == 0 && a.ldx % 4 == 0; }

// The rows kernel's block per invocation: weight rows (output columns) x X rows (measurements in
// record_matmul). Small M gets small blocks (rows past M are computed and dropped).
struct RowsBlock {
  uint32_t cols, xrows;
};
RowsBlock rows_block(const MatmulArgs& a) {
  if (!rows_vectorized(a)) return {1, std::min<uint32_t>(a.M, 4)};
  if (a.M >= 32) return {8, 32};
  if (a.M >= 16) return {16, 16};
  return a.M >= 4 ? RowsBlock{4, 4} : RowsBlock{4, 1};
}

// Tiles of the tiled kernel; common/matmul_tiled.glsl needs tn even, 16 % tn == 0, bn % 16 == 0,
// threads % bk == 0 and (bm * bk) % threads == 0 (fused GLU / RoPE pairs, RMSNorm's sums of squares).
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

// The cooperative-matrix kernel (common/matmul_coopmat.glsl): 2 x 2 subgroups, each 32 x 32 outputs in
// matrices of the device's shape (emulated: 16 x 16), K slices of 32.
struct CoopmatConfig {
  uint32_t sg_m = 2, sg_n = 2, wm = 0, wn = 0, bk = 32, cm_m = 16, cm_n = 16, cm_k = 16, sgs = 0;
  uint32_t bm() const { return sg_m * wm * cm_m; }
  uint32_t bn() const { return sg_n * wn * cm_n; }
  uint32_t threads() const { return sg_m * sg_n * sgs; }
  uint32_t shared_bytes() const { return (bm() + bn()) * (bk + 8) * 2 + bm() * (bn() + 4) * 4 + bm() * 4; }
};

CoopmatConfig coopmat_config(const vk::Capabilities& caps) {
  CoopmatConfig c;
  if (caps.cooperative_matrix()) {
    c.cm_m = caps.coopmat_m;
    c.cm_n = caps.coopmat_n;
    c.cm_k = caps.coopmat_k;
  }
  c.wm = 32 / c.cm_m;
  c.wn = 32 / c.cm_n;
  c.sgs = std::max<uint32_t>(1, caps.subgroup_size);
  return c;
}

// CPU devices: workgroups per thread below which a kernel shrinks its workgroups (lavapipe runs each
// workgroup on one thread; a 16-thread desktop would otherwise idle on small matrices).
constexpr uint64_t kWorkgroupsPerThread = 2;

bool all_texel_bindable(const vk::Capabilities& caps, const MatmulArgs& a) {
  return vk::texel_bindable(caps, a.x) && (!a.norm_weight.valid() || vk::texel_bindable(caps, a.norm_weight)) &&
         std::all_of(a.w->chunks.begin(), a.w->chunks.end(), [&](auto& c) { return vk::texel_bindable(caps, c.slice); });
}

}  // namespace

const char* matmul_variant_name(MatmulVariant v) {
  switch (v) {
    case MatmulVariant::tiled: return "tiled";
    case MatmulVariant::matvec: return "matvec";
    case MatmulVariant::subgroup_k: return "subgroup_k";
    case MatmulVariant::rows: return "rows";
    case MatmulVariant::coopmat: return "coopmat";
    case MatmulVariant::matvec_wide: return "matvec_wide";
    default: return "automatic";
  }
}

// The matvec kernel's WIDE build reads 16 bytes of a weight row (weights.glsl: wide_elems) and 4 floats of
// X (and of the norm weight) at a time: K a multiple of a load's elements, X rows and bindings at
// multiples of 16 bytes.
bool matvec_wide_fits(const MatmulArgs& a) {
  const uint32_t elems = a.w->quant != Quant::none ? 32u : a.w->dtype == DType::f32 ? 4u : 8u;
  return a.w->cols % elems == 0 && (a.M == 1 || a.ldx % 4 == 0) && a.x.offset % 16 == 0 &&
         (!a.norm_weight.valid() || a.norm_weight.offset % 16 == 0) &&
         std::all_of(a.w->chunks.begin(), a.w->chunks.end(), [](auto& c) { return c.slice.offset % 16 == 0; });
}

// The coopmat kernel (or its emulation) needs subgroup sums (NORM's pass), f16 arithmetic (the staged
// slices), the tile's shared memory and invocations.
bool coopmat_runs(const vk::Capabilities& caps) {
  const CoopmatConfig c = coopmat_config(caps);
  return caps.subgroup_arithmetic && caps.shader_float16 && c.shared_bytes() <= caps.max_shared_memory &&
         c.threads() <= caps.max_workgroup_invocations;
}

bool cpu_decode_splits_k(const vk::Capabilities& caps, uint64_t stream_bytes, bool quantized) {
  switch (caps.cpu_matvec) {
    case vk::Capabilities::CpuMatvec::split_k: return true;
    case vk::Capabilities::CpuMatvec::rows: return false;
    default:  // by residency, measured per host in device.cpp; unknown cache: split K
      if (quantized || caps.host_cpu_vendor == "Intel") return false;
      return caps.host_llc_bytes == 0 || stream_bytes > caps.host_llc_bytes;
  }
}

MatmulVariant resolve_matmul_variant(const vk::Capabilities& caps, const MatmulArgs& a) {
  MatmulVariant v = a.variant;
  // On CPU devices the kernels that stream weight rows per lane beat the cooperative ones at every M;
  // for decode, lanes split K instead where unquantized weights stream from memory on some hosts
  // (cpu_decode_splits_k).
  if (v == MatmulVariant::automatic) {
    const bool split_k = a.M < 4 && cpu_decode_splits_k(caps, a.stream_bytes ? a.stream_bytes : a.w->bytes(),
                                                         a.w->quant != Quant::none);
    if (caps.cpu_quirks) v = split_k ? MatmulVariant::subgroup_k : MatmulVariant::rows;
    else if (a.M <= 2)
      v = caps.gpu_matvec == vk::Capabilities::GpuMatvec::wide ? MatmulVariant::matvec_wide : MatmulVariant::matvec;
    else {
      using U = vk::Capabilities::CoopmatUse;
      const bool coop = caps.coopmat_use == U::emulate || (caps.coopmat_use == U::on && caps.cooperative_matrix());
      v = coop ? MatmulVariant::coopmat : MatmulVariant::tiled;
    }
  }
  if (v == MatmulVariant::coopmat && !coopmat_runs(caps)) v = MatmulVariant::tiled;
  if (v == MatmulVariant::matvec_wide && !matvec_wide_fits(a)) v = MatmulVariant::matvec;
  const bool subgroup_k_ok = all_texel_bindable(caps, a) && caps.subgroup_arithmetic && rows_vectorized(a);
  if (v == MatmulVariant::subgroup_k && !subgroup_k_ok) v = MatmulVariant::rows;
  return v;
}

uint32_t glu_group(uint32_t intermediate) { return intermediate % 8 == 0 ? 8u : 1u; }

bool matmul_fuses_glu(const vk::Capabilities& caps, const MatmulArgs& a) {
  const uint32_t G = a.glu_group, pair = 2 * G;
  // Whole gate/up groups in every chunk (chunks start at multiples of 16 rows: weights.cpp).
  if (G == 0 || a.accumulate || a.w->rows % pair != 0) return false;
  for (const auto& c : a.w->chunks)
    if (c.row0 % pair != 0 || c.rows % pair != 0) return false;
  switch (resolve_matmul_variant(caps, a)) {
    case MatmulVariant::matvec:
    case MatmulVariant::matvec_wide: return true;  // one gate/up pair per workgroup
    case MatmulVariant::subgroup_k: return subgroup_k_columns(a) % pair == 0;
    case MatmulVariant::rows: return G == 8 && rows_block(a).cols % 2 == 0;  // lane columns stride 8
    case MatmulVariant::tiled:
    case MatmulVariant::coopmat: return G == 8;  // output columns pair up 8 apart
    default: return false;
  }
}

bool matmul_fuses_rope(const vk::Capabilities& caps, const MatmulArgs& a) {
  if (!a.rope) return false;
  const auto& r = *a.rope;
  // Pairs 8 apart in groups of 16, whole in every chunk (chunks start at multiples of 16 rows).
  if (r.d % 16 != 0 || a.accumulate || a.glu != Glu::none || a.w->rows != (r.H + 2 * r.Hkv) * r.d) return false;
  for (const auto& c : a.w->chunks)
    if (c.row0 % 16 != 0 || c.rows % 16 != 0) return false;
  switch (resolve_matmul_variant(caps, a)) {
    case MatmulVariant::matvec:
    case MatmulVariant::matvec_wide: return true;
    case MatmulVariant::subgroup_k: return subgroup_k_columns(a) % 16 == 0;
    case MatmulVariant::rows: return all_texel_bindable(caps, a) && rows_block(a).cols % 2 == 0;
    case MatmulVariant::tiled:
    case MatmulVariant::coopmat: return true;
    default: return false;
  }
}

void record_matmul(vk::Recorder& rec, const MatmulArgs& a, std::string_view label) {
  const auto& caps = rec.device().caps();
  const WeightMatrix& w = *a.w;
  const bool has_bias = a.bias.valid();
  const MatmulVariant v = resolve_matmul_variant(caps, a);
  const bool texel = all_texel_bindable(caps, a);
  const bool norm = a.norm_weight.valid();
  const bool glu = a.glu != Glu::none;
  if (glu && !matmul_fuses_glu(caps, a))
    fail(Status::internal, "{}: GLU of a {}-row gate/up projection in groups of {} cannot be fused into this matmul",
         label, w.rows, a.glu_group);

  const bool rope = a.rope.has_value();
  if (rope && !matmul_fuses_rope(caps, a))
    fail(Status::internal, "{}: RoPE of this q/k/v projection cannot be fused into this matmul", label);
  const std::string suffix = rope ? "_rope" : "";
  const uint32_t nbind = rope ? 9 : 5;

  vk::KernelKey key;
  uint32_t gx_rows = 0, gy = 0;
  const uint32_t glu_code = a.glu == Glu::silu ? 1u : a.glu == Glu::gelu ? 2u : 0u;  // the GPU kernels' GLU constant
  if (v == MatmulVariant::subgroup_k) {
    // Columns per subgroup measured on lavapipe (AMD EPYC host) in decode of the synthetic models
    // (weights streamed from memory, not cache-resident as in bench ops), tg t/s M / 1.24B: 8 columns
    // 16.1 / 3.6, 16: 22.7 / 3.7, 32: 30.1 / 4.4-5.0, 64: 19.1 / 3.0; the rows kernel 22.7 / 2.9-3.3.
    // (Intel Xeon host, S: 8, 16 and 32 columns within noise, 39-41.)
    const uint32_t xrows = a.M == 1 ? 1u : 4u, ncols = subgroup_k_columns(a);
    const uint32_t sg = std::max<uint32_t>(1, caps.subgroup_size);
    uint32_t wg = std::min<uint32_t>(std::max<uint32_t>(64, sg), caps.max_workgroup_invocations);
    // Fewer subgroups per workgroup where the matrix would leave CPU threads idle.
    const uint64_t row_groups = (a.M + xrows - 1) / xrows;
    auto workgroups = [&](uint32_t size) { return (w.rows + uint64_t(ncols) * (size / sg) - 1) / (uint64_t(ncols) * (size / sg)) * row_groups; };
    while (wg / sg > 1 && workgroups(wg) < kWorkgroupsPerThread * uint64_t(caps.cpu_threads)) wg /= 2;
    const uint32_t blocks = std::max<uint32_t>(1, wg / sg);
    key = {"matmul_subgroup_k" + suffix, {wg, xrows, w.format_code(), ncols, blocks, norm}, nbind, sizeof(MatmulPush),
           0, 0x13u};
    gx_rows = ncols * blocks;
    gy = (a.M + xrows - 1) / xrows;
  } else if (v == MatmulVariant::rows) {
    // Blocks of columns x rows per invocation, measured on lavapipe (bench ops, f16 M=128 2048x2048,
    // GFLOP/s), AMD EPYC host: 16x16 63, 32x16 64, 8x16 55, 16x32 61, 8x32 60, 4x32 51; 1x8 (one
    // column) 16. Intel Xeon host: 16x16 35-42, 8x32 44-48, 16x32 47, 32x32 51, in the models (pp t/s,
    // interleaved) 16x16 vs 8x32: S 479-680 vs 710-769, M 128 vs 158, 1.24B pp64 16.0 vs 21.6-22.4 (16x32
    // 21.2). llvmpipe's compile time grows with the accumulators (16x16 and 8x32: ~1 s a pipeline, 16x32 4 s,
    // 32x32 35 s), so 8x32 from 32 rows on, 16x16 from 16 (rows_block).
    const bool vec = rows_vectorized(a);
    const auto [ncols, xrows] = rows_block(a);
    // A multiple of 8 (the kernel's column interleave); smaller where CPU threads would idle.
    uint32_t wg = std::min<uint32_t>(64, caps.max_workgroup_invocations);
    const uint64_t row_groups = (a.M + xrows - 1) / xrows;
    while (wg > 8 && (w.rows + uint64_t(wg) * ncols - 1) / (uint64_t(wg) * ncols) * row_groups <
                         kWorkgroupsPerThread * uint64_t(caps.cpu_threads))
      wg /= 2;
    // Blocks of 8k X rows fetch each X texel once per 8 rows and shuffle it to the lanes (lavapipe, f16
    // M=128 bench ops: 44 -> 50-55 GFLOP/s): needs subgroups of >= 8 lanes with shuffles.
    // Blocks of fewer rows (decode) fetch each X texel once per 8 K groups instead (quantized: per block;
    // K % 64 == 0). Intel host, bench ops M=1 f16 (ms): 2048x2048 2.85-2.99 -> 2.46-2.50, 32000x512
    // 3.8-4.1 -> 2.4-2.8; tg interleaved: S f16 66-68 -> 71-74, q4_0 68-78 -> 92-98, M f16 20.4-21.3 ->
    // 23.6-23.8, q4_0 26.7-26.9 -> 30.4-31.3, q8_0 20.3-22.0 -> 22.7-23.5.
    const bool shuffle = texel && vec && caps.subgroup_shuffle && caps.subgroup_size >= 8;
    std::string x_shuffle;
    if (shuffle && xrows % 8 == 0) x_shuffle = "_xs";
    else if (shuffle && w.cols % 64 == 0) x_shuffle = "_xk";
    key = {(texel ? "matmul_rows_texel" : "matmul_rows") + suffix + x_shuffle,
           {wg, xrows, w.format_code(), ncols, vec ? 1u : 0u, norm}, nbind, sizeof(MatmulPush), 0, texel ? 0x13u : 0u};
    gx_rows = wg * ncols;
    gy = (a.M + xrows - 1) / xrows;
  } else if (v == MatmulVariant::matvec || v == MatmulVariant::matvec_wide) {
    uint32_t wg = std::min<uint32_t>(64, caps.max_workgroup_invocations);
    uint32_t rows = 2;
    key = {(v == MatmulVariant::matvec_wide ? "matvec_wide" : "matvec") + suffix,
           {wg, rows, w.format_code(), has_bias, a.accumulate, caps.subgroup_arithmetic ? 1u : 0u, norm}, nbind,
           sizeof(MatmulPush)};
    gx_rows = rows;
    gy = a.M;
  } else if (v == MatmulVariant::coopmat) {
    const CoopmatConfig c = coopmat_config(caps);
    key = {std::string("matmul_coopmat") + (caps.cooperative_matrix() ? "" : "_emu") + suffix,
           {c.threads(), c.sg_m, c.sg_n, c.wm, c.wn, c.bk, c.cm_m, c.cm_n, c.cm_k, c.sgs, w.format_code(), has_bias,
            a.accumulate, norm, glu_code},
           nbind, sizeof(MatmulPush)};
    gx_rows = c.bn();
    gy = (a.M + c.bm() - 1) / c.bm();
  } else {
    TiledConfig t = tiled_config(caps);
    key = {"matmul" + suffix, {t.threads(), t.bm, t.bn, t.bk, t.tm, t.tn, w.format_code(), has_bias, a.accumulate, norm, glu_code},
           nbind, sizeof(MatmulPush)};
    gx_rows = t.bn;
    gy = (a.M + t.bm - 1) / t.bm;
  }
  const vk::Kernel& kernel = rec.device().kernel(key);
  for (const auto& chunk : w.chunks) {
    const uint32_t glu_flag = a.glu == Glu::silu ? 4u : a.glu == Glu::gelu ? 8u : 0u;
    const uint32_t flags = (has_bias ? 1u : 0u) | (a.accumulate ? 2u : 0u) | glu_flag;
    MatmulPush p{a.M, chunk.rows, w.cols, a.ldx, a.ldy, chunk.row0, flags, a.norm_eps, a.glu_group, 0, 0, 0};
    if (rope) {
      p.rope_q = a.rope->H * a.rope->d;
      p.rope_kv = a.rope->Hkv * a.rope->d;
      p.rope_d = a.rope->d;
    }
    std::vector<vk::Binding> bindings{vk::in(a.x), vk::in(chunk.slice), vk::in(has_bias ? a.bias : a.x),
                                      a.accumulate ? vk::inout(a.y) : vk::out(a.y)};
    bindings.push_back(vk::in(norm ? a.norm_weight : a.x));  // g
    if (rope)
      for (const vk::Binding& b : {vk::in(a.rope->params), vk::in(a.rope->table), vk::out(a.rope->k_cache),
                                   vk::out(a.rope->v_cache)})
        bindings.push_back(b);
    rec.dispatch(kernel, bindings, p, (chunk.rows + gx_rows - 1) / gx_rows, gy, 1, label);
  }
}

}  // namespace dlvk::ops
