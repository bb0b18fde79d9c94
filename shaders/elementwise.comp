#version 450
// Element-wise ops over n values: OP 0: out = silu(a) * b (SwiGLU), 1: out = gelu(a) * b (exact erf
// GELU), 2: out = a + b; OP 3 / 4: SwiGLU / GELU-GLU of adjacent pairs, out[i] = act(a[2i]) * a[2i+1]
// (an interleaved gate/up projection; b unused). Grid-stride loop, so any n fits the workgroup-count limit.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;

layout(binding = 0) readonly buffer ABuf { float a[]; };
layout(binding = 1) readonly buffer BBuf { float b[]; };
layout(binding = 2) writeonly buffer OutBuf { float o[]; };

layout(push_constant) uniform Push { uint n; } p;

// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), as GLSL has no erf.
float erf_approx(float x) {
  float z = abs(x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0.0 ? 1.0 - r : r - 1.0;
}

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
    const bool pairs = OP >= 3u;
    float x = pairs ? a[2u * i] : a[i];
    float y = pairs ? a[2u * i + 1u] : b[i];
    float v;
    if (OP == 0u || OP == 3u) v = x / (1.0 + exp(-x)) * y;
    else if (OP == 1u || OP == 4u) v = 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752)) * y;
    else v = x + y;
    o[i] = v;
  }
}
