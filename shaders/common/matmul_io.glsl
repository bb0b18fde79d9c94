// Bindings, push constants and weight decoders of the CPU-device matmul kernels (matmul_rows*.comp,
// matmul_subgroup_k.comp): Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] + bias. The including shader chooses
// how W and X are bound: WEIGHTS_TEXEL / X_TEXEL read them as uniform texel buffers of uvec4 (on lavapipe a
// texel fetch is a vector gather, a storage-buffer load a per-lane scalar loop), else storage buffers.
// NORM: the kernel applies RMSNorm to X rows on the fly, Y = W . (g * x / sqrt(mean(x^2) + eps)) with g
// bound at binding 4 (same kind as X), so the norm needs no dispatch or buffer of its own.
#extension GL_GOOGLE_include_directive : require
#include "activation.glsl"
#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint XROWS = 1;
layout(constant_id = 2) const uint WDT = 0;
layout(constant_id = 5) const uint NORM = 0;

#ifdef X_TEXEL
layout(binding = 0) uniform usamplerBuffer x_texels;
vec4 load_x4(uint i) { return uintBitsToFloat(texelFetch(x_texels, int(i))); }
#else
layout(binding = 0) readonly buffer XBuf4 { vec4 x_vec4[]; };
vec4 load_x4(uint i) { return x_vec4[i]; }
#endif
#ifdef X_TEXEL
layout(binding = 4) uniform usamplerBuffer g_texels;
vec4 load_g4(uint i) { return uintBitsToFloat(texelFetch(g_texels, int(i))); }
#else
layout(binding = 4) readonly buffer GBuf4 { vec4 g_vec4[]; };
vec4 load_g4(uint i) { return g_vec4[i]; }
#endif
float load_g(uint i) { return load_g4(i >> 2)[i & 3u]; }
#ifdef WEIGHTS_TEXEL
layout(binding = 1) uniform usamplerBuffer w_texels;
uvec4 load_w4(uint i) { return texelFetch(w_texels, int(i)); }
#else
layout(binding = 1) readonly buffer WBuf4 { uvec4 w_vec4[]; };
uvec4 load_w4(uint i) { return w_vec4[i]; }
#endif
layout(binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(binding = 3) buffer YBuf { float y[]; };

layout(push_constant) uniform Push {
  uint M, N, K;
  uint ldx, ldy;
  uint y_col0;
  uint flags;  // FLAG_BIAS | FLAG_ACCUMULATE: push constants, not specialization, so one pipeline per
               // format and block size serves every projection (each variant is seconds of LLVM time)
  float norm_eps;
  uint glu_group;  // FLAG_GLU_*: gate/up rows interleave in groups of this many (activation.glsl)
} p;
// GLU: the weight rows are an interleaved gate/up projection and Y gets act(gate) * up, one column per
// gate/up pair (no accumulate).
const uint FLAG_BIAS = 1u, FLAG_ACCUMULATE = 2u, FLAG_GLU_SILU = 4u, FLAG_GLU_GELU = 8u;
bool glu() { return (p.flags & (FLAG_GLU_SILU | FLAG_GLU_GELU)) != 0u; }

float load_x(uint i) { return load_x4(i >> 2)[i & 3u]; }
uint load_word(uint i) { return load_w4(i >> 2)[i & 3u]; }
float quant_scale(uint block) {
  return unpackHalf2x16(load_word(quant_data_words(WDT, p.N * p.K) + (block >> 1)))[block & 1u];
}
// Signed bytes 0..3 of w as floats.
vec4 s8x4(uint w) { return vec4(ivec4(uvec4(w << 24, w << 16, w << 8, w)) >> 24); }
float load_w(uint i) {
  if (WDT == DT_F32) return uintBitsToFloat(load_word(i));
  if (WDT == DT_Q8_0) return quant_scale(i >> 5) * float(int(load_word(i >> 2) << (24u - 8u * (i & 3u))) >> 24);
  if (WDT == DT_Q4_0) return quant_scale(i >> 5) * (float((load_word(i >> 3) >> (4u * (i & 7u))) & 15u) - 8.0);
  uint word = load_word(i >> 1);
  uint h = (i & 1u) == 0u ? (word & 0xffffu) : (word >> 16);
  if (WDT == DT_F16) return unpackHalf2x16(h).x;
  return uintBitsToFloat(h << 16);
}

// Writes output (m, n): bias, then the fused residual add.
void store_y(uint m, uint n, float v) {
  if ((p.flags & FLAG_BIAS) != 0u) v += bias[p.y_col0 + n];
  const uint o = m * p.ldy + p.y_col0 + n;
  if ((p.flags & FLAG_ACCUMULATE) != 0u) v += y[o];
  y[o] = v;
}

// GLU: writes act(gate) * up for gate row n of the chunk (its up row is n + glu_group).
void store_glu(uint m, uint n, float g, float u) {
  const uint row = p.y_col0 + n;
  if ((p.flags & FLAG_BIAS) != 0u) {
    g += bias[row];
    u += bias[row + p.glu_group];
  }
  const float a = (p.flags & FLAG_GLU_GELU) != 0u ? gelu(g) : silu(g);
  y[m * p.ldy + glu_column(row, p.glu_group)] = a * u;
}

// The 8 weights of one texel of a 16-bit format.
void decode8(uint texel, out vec4 wa, out vec4 wb) {
  uvec4 q = load_w4(texel);
  if (WDT == DT_F16) {
    wa = vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y));
    wb = vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w));
  } else {
    wa = uintBitsToFloat(uvec4(q.x << 16, q.x & 0xffff0000u, q.y << 16, q.y & 0xffff0000u));
    wb = uintBitsToFloat(uvec4(q.z << 16, q.z & 0xffff0000u, q.w << 16, q.w & 0xffff0000u));
  }
}

// The 8 weights of group g (elements 8g..8g+7 of the chunk, row-major; needs K % 8 == 0), quantized
// formats without their scale.
void decode_group(uint g, out vec4 wa, out vec4 wb) {
  if (WDT == DT_F32) {
    wa = uintBitsToFloat(load_w4(2u * g));
    wb = uintBitsToFloat(load_w4(2u * g + 1u));
  } else if (WDT == DT_Q8_0) {
    uvec4 q = load_w4(g >> 1);
    bool hi = (g & 1u) != 0u;
    wa = s8x4(hi ? q.z : q.x);
    wb = s8x4(hi ? q.w : q.y);
  } else if (WDT == DT_Q4_0) {
    uint w = load_w4(g >> 2)[g & 3u];
    wa = vec4(uvec4(w, w >> 4, w >> 8, w >> 12) & 15u) - 8.0;
    wb = vec4(uvec4(w >> 16, w >> 20, w >> 24, w >> 28) & 15u) - 8.0;
  } else {
    decode8(g, wa, wb);
  }
}
