#version 450
// Rotate-half RoPE (NeoX layout) for rows t < T of `heads` heads of size d:
//   x'_j = x_j cos - x_{j+d/2} sin,  x'_{j+d/2} = x_{j+d/2} cos + x_j sin,   pos = pos0 + t
// cos/sin come from a table [ctx, d/2] precomputed on the host in double from HF's f32 angles, so every
// rope type (default, linear, llama3) shares this kernel and no GPU sin/cos precision is involved.
// dst may be src (queries, in place) or the KV cache at row pos0 + t (keys; with ROTATE=0: values).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROTATE = 1;

layout(binding = 0) readonly buffer Params { uint pos0; } params;
layout(binding = 1) readonly buffer Table { vec2 cs[]; };
layout(binding = 2) readonly buffer Src { float src[]; };
layout(binding = 3) buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
  uint T, heads, d;
  uint ld_src, ld_dst;
  uint dst_at_pos;  // 1: destination row is pos0 + t (KV cache), 0: row t
} p;

void main() {
  const uint half_d = p.d / 2u;
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.T * p.heads * half_d) return;
  const uint j = gid % half_d;
  const uint h = (gid / half_d) % p.heads;
  const uint t = gid / (half_d * p.heads);
  const uint pos = params.pos0 + t;
  const uint s = t * p.ld_src + h * p.d + j;
  const uint o = (p.dst_at_pos != 0u ? pos : t) * p.ld_dst + h * p.d + j;
  float a = src[s], b = src[s + half_d];
  if (ROTATE != 0u) {
    vec2 c = cs[pos * half_d + j];
    dst[o] = a * c.x - b * c.y;
    dst[o + half_d] = b * c.x + a * c.y;
  } else {
    dst[o] = a;
    dst[o + half_d] = b;
  }
}
