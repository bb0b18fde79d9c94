// Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] + bias with one invocation per output column n and XROWS rows
// of X per weight read: the variant for CPU implementations, where an invocation is a SIMD lane of one
// thread, so streaming a weight row sequentially beats splitting K across lanes (no shared memory, no
// barriers, no reductions). Included by matmul_rows*.comp, which choose how W and X are bound:
// WEIGHTS_TEXEL / X_TEXEL read them as uniform texel buffers of uvec4, else as storage buffers.
#extension GL_GOOGLE_include_directive : require
#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint XROWS = 1;
layout(constant_id = 2) const uint WDT = 0;
layout(constant_id = 3) const uint HAS_BIAS = 0;
layout(constant_id = 4) const uint ACCUMULATE = 0;

#ifdef X_TEXEL
layout(binding = 0) uniform usamplerBuffer x_texels;
vec4 load_x4(uint i) { return uintBitsToFloat(texelFetch(x_texels, int(i))); }
#else
layout(binding = 0) readonly buffer XBuf4 { vec4 x_vec4[]; };
vec4 load_x4(uint i) { return x_vec4[i]; }
#endif
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
} p;

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

// The 32 weights of quantized block `block` (scale not applied).
void decode_block(uint block, out vec4 wv[8]) {
  if (WDT == DT_Q8_0) {
    uvec4 q0 = load_w4(2u * block), q1 = load_w4(2u * block + 1u);
    wv[0] = s8x4(q0.x); wv[1] = s8x4(q0.y); wv[2] = s8x4(q0.z); wv[3] = s8x4(q0.w);
    wv[4] = s8x4(q1.x); wv[5] = s8x4(q1.y); wv[6] = s8x4(q1.z); wv[7] = s8x4(q1.w);
  } else {
    uvec4 q = load_w4(block);
    for (uint j = 0; j < 4u; ++j) {
      uint w = q[j];
      wv[2u * j] = vec4(uvec4(w, w >> 4, w >> 8, w >> 12) & 15u) - 8.0;
      wv[2u * j + 1u] = vec4(uvec4(w >> 16, w >> 20, w >> 24, w >> 28) & 15u) - 8.0;
    }
  }
}

void main() {
  const uint n = gl_GlobalInvocationID.x, m0 = gl_WorkGroupID.y * XROWS;
  if (n >= p.N) return;
  const uint mcount = min(XROWS, p.M - m0);
  float acc[XROWS];
  for (uint r = 0; r < XROWS; ++r) acc[r] = 0.0;
  const bool x_vec = (p.ldx & 3u) == 0u;
  if ((WDT == DT_Q8_0 || WDT == DT_Q4_0) && x_vec) {
    // One block of 32 weights per step: 2 texels (q8_0) or 1 (q4_0) and one scale.
    const uint blocks = p.K / 32u;
    for (uint b = 0; b < blocks; ++b) {
      const uint block = n * blocks + b;
      const float scale = quant_scale(block);
      vec4 wv[8];
      decode_block(block, wv);
      for (uint r = 0; r < mcount; ++r) {
        const uint xb4 = (m0 + r) * (p.ldx / 4u) + 8u * b;
        float s = 0.0;
        for (uint j = 0; j < 8u; ++j) s += dot(wv[j], load_x4(xb4 + j));
        acc[r] += scale * s;
      }
    }
  } else if ((WDT == DT_F16 || WDT == DT_BF16) && (p.K & 7u) == 0u && x_vec) {
    const uint base = n * (p.K / 8u);
    for (uint i = 0; i < p.K / 8u; ++i) {
      vec4 wa, wb;
      decode8(base + i, wa, wb);
      for (uint r = 0; r < mcount; ++r) {
        const uint xb4 = (m0 + r) * (p.ldx / 4u) + 2u * i;
        acc[r] += dot(wa, load_x4(xb4)) + dot(wb, load_x4(xb4 + 1u));
      }
    }
  } else if (WDT == DT_F32 && (p.K & 3u) == 0u && x_vec) {
    const uint base = n * (p.K / 4u);
    for (uint i = 0; i < p.K / 4u; ++i) {
      vec4 wv = uintBitsToFloat(load_w4(base + i));
      for (uint r = 0; r < mcount; ++r) acc[r] += dot(wv, load_x4((m0 + r) * (p.ldx / 4u) + i));
    }
  } else {
    for (uint k = 0; k < p.K; ++k) {
      float wv = load_w(n * p.K + k);
      for (uint r = 0; r < mcount; ++r) acc[r] += wv * load_x((m0 + r) * p.ldx + k);
    }
  }
  for (uint r = 0; r < mcount; ++r) {
    float v = acc[r];
    if (HAS_BIAS != 0u) v += bias[p.y_col0 + n];
    const uint o = (m0 + r) * p.ldy + p.y_col0 + n;
    if (ACCUMULATE != 0u) v += y[o];
    y[o] = v;
  }
}
