// Bindings of the GPU matmul kernels (matvec.glsl, matmul_tiled.glsl): X, W, bias, Y and the norm weight
// as storage buffers, W as 32-bit words decoded by load_w (weights.glsl); the push constants; with ROPE
// the q/k/v bindings 5-8. The including shader declares WDT first.
layout(binding = 0) readonly buffer XBuf { float x[]; };
layout(binding = 1) readonly buffer WBuf { uint w[]; };
layout(binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(binding = 3) buffer YBuf { float y[]; };
layout(binding = 4) readonly buffer GBuf { float g[]; };  // NORM's weight (else X again, unread)
#include "matmul_push.glsl"
#ifdef ROPE
#include "qkv_rope.glsl"
#endif

DEFINE_WEIGHT_LOADER_N(load_w, w, WDT, p.N * p.K)
