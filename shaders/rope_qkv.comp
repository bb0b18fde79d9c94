#version 450
// RoPE for a fused Q/K/V projection row [q heads | k heads | v heads] (each head d wide), one dispatch
// per layer: queries rotated in place, keys rotated into the K cache and values copied into the V
// cache at row pos0 + t. Rotation as in rope.comp (rotate-half, cos/sin from the host table).
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Params { uint pos0; } params;
layout(binding = 1) readonly buffer Table { vec2 cs[]; };
layout(binding = 2) buffer QKV { float qkv[]; };
layout(binding = 3) writeonly buffer KCache { float kc[]; };
layout(binding = 4) writeonly buffer VCache { float vc[]; };

layout(push_constant) uniform Push {
  uint T, H, Hkv, d;
  uint ld_qkv;
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
  const uint s = t * p.ld_qkv + h * p.d + j;
  float a = qkv[s], b = qkv[s + half_d];
  const uint ldc = p.Hkv * p.d;
  if (h >= p.H + p.Hkv) {
    const uint o = pos * ldc + (h - p.H - p.Hkv) * p.d + j;
    vc[o] = a;
    vc[o + half_d] = b;
    return;
  }
  vec2 c = cs[pos * half_d + j];
  float ra = a * c.x - b * c.y, rb = b * c.x + a * c.y;
  if (h < p.H) {
    qkv[s] = ra;
    qkv[s + half_d] = rb;
  } else {
    const uint o = pos * ldc + (h - p.H) * p.d + j;
    kc[o] = ra;
    kc[o + half_d] = rb;
  }
}
