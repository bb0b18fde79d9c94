#version 450
// Element-wise ops over n values: OP 0: out = silu(a) * b (SwiGLU), 1: out = gelu(a) * b (exact erf
// GELU), 2: out = a + b; OP 3 / 4: SwiGLU / GELU-GLU of an interleaved gate/up projection, gate and up
// rows in groups of p.group (activation.glsl), out[i] = act(a[gate]) * a[gate + group]; b unused.
// Grid-stride loop, so any n fits the workgroup-count limit.
#extension GL_GOOGLE_include_directive : require
#include "activation.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;

layout(binding = 0) readonly buffer ABuf { float a[]; };
layout(binding = 1) readonly buffer BBuf { float b[]; };
layout(binding = 2) writeonly buffer OutBuf { float o[]; };

layout(push_constant) uniform Push { uint n, group; } p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
    const bool glu = OP >= 3u;
    const uint gate = glu ? glu_gate_row(i, p.group) : i;
    float x = a[gate];
    float y = glu ? a[gate + p.group] : b[i];
    float v;
    if (OP == 0u || OP == 3u) v = silu(x) * y;
    else if (OP == 1u || OP == 4u) v = gelu(x) * y;
    else v = x + y;
    o[i] = v;
  }
}
