#version 450
// RoPE for a fused Q/K/V projection row [q heads | k heads | v heads] (each head d wide), one dispatch
// per layer: queries rotated in place, keys rotated into the K cache and values copied into the V
// cache at row pos0 + t. Rotation as in rope.comp (rotate-half, cos/sin from the host table), or with
// pair_group G > 0 on q/k heads stored permuted (common/qkv_rope.glsl): pair j at head elements
// (j / G) * 2G + j % G and that + G; the caches then hold keys in that order.
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Params { uint pos0; } params;
layout(binding = 1) readonly buffer Table { vec2 cs[]; };
layout(binding = 2) buffer QKV { float qkv[]; };
layout(binding = 3) writeonly buffer KCache { float kc[]; };
layout(binding = 4) writeonly buffer VCache { float vc[]; };

layout(push_constant) uniform Push {
  uint T, H, Hkv, d;
  uint ld_qkv;
  uint pair_group;
} p;

void main() {
  const uint half_d = p.d / 2u;
  const uint slots = p.H + 2u * p.Hkv;
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.T * slots * half_d) return;
  const uint j = gid % half_d;
  const uint h = (gid / half_d) % slots;  // head slot: q heads, then k heads, then v heads
  const uint t = gid / (half_d * slots);
  const uint pos = params.pos0 + t;
  const uint G = p.pair_group;
  const uint ja = G == 0u ? j : (j / G) * 2u * G + j % G, step = G == 0u ? half_d : G;  // pair: ja, ja + step
  const uint s = t * p.ld_qkv + h * p.d + ja;
  float a = qkv[s], b = qkv[s + step];
  const uint ldc = p.Hkv * p.d;
  if (h >= p.H + p.Hkv) {
    const uint o = pos * ldc + (h - p.H - p.Hkv) * p.d + ja;
    vc[o] = a;
    vc[o + step] = b;
    return;
  }
  vec2 c = cs[pos * half_d + j];
  float ra = a * c.x - b * c.y, rb = b * c.x + a * c.y;
  if (h < p.H) {
    qkv[s] = ra;
    qkv[s + step] = rb;
  } else {
    const uint o = pos * ldc + (h - p.H) * p.d + ja;
    kc[o] = ra;
    kc[o + step] = rb;
  }
}
