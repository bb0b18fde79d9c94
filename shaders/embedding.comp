#version 450
// out[t, :] = table[ids[t], :] for ids inside this table chunk's rows [row0, row0 + rows); one
// workgroup per token. Large tables are split into chunks that each fit a storage-buffer binding.
#extension GL_GOOGLE_include_directive : require
#include "weights.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WDT = 0;

layout(binding = 0) readonly buffer Ids { int ids[]; };
layout(binding = 1) readonly buffer Table { uint w[]; };
layout(binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
  uint hidden, row0, rows, ids_offset, ldo;
} p;

DEFINE_WEIGHT_LOADER(load_w, w, WDT)

void main() {
  const uint t = gl_WorkGroupID.x;
  const int id = ids[p.ids_offset + t];
  if (id < int(p.row0) || id >= int(p.row0 + p.rows)) return;
  const uint base = (uint(id) - p.row0) * p.hidden;
  for (uint c = gl_LocalInvocationID.x; c < p.hidden; c += gl_WorkGroupSize.x) o[t * p.ldo + c] = load_w(base + c);
}
