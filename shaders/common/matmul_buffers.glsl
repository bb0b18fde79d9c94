// Bindings of the GPU matmul kernels (matvec.glsl, matmul_tiled.glsl): X, W, bias, Y and the norm weight
// as storage buffers, W as 32-bit words decoded by load_w (weights.glsl); the push constants; with ROPE
// the q/k/v bindings 5-8. The including shader declares WDT first.
#ifdef WIDE
// 16-byte loads (matvec.glsl's WIDE build): X and the norm weight as vec4, W as 4 words at a time.
layout(binding = 0) readonly buffer XBuf { vec4 x4[]; };
layout(binding = 1) readonly buffer WBuf { uvec4 w4[]; };
#else
layout(binding = 0) readonly buffer XBuf { float x[]; };
layout(binding = 1) readonly buffer WBuf { uint w[]; };
#endif
layout(binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(binding = 3) buffer YBuf { float y[]; };
#ifdef WIDE
layout(binding = 4) readonly buffer GBuf { vec4 g4[]; };  // NORM's weight (else X again, unread)
#else
layout(binding = 4) readonly buffer GBuf { float g[]; };  // NORM's weight (else X again, unread)
#endif
#include "matmul_push.glsl"
#ifdef ROPE
#include "qkv_rope.glsl"
#endif

#ifndef WIDE
DEFINE_WEIGHT_LOADER_N(load_w, w, WDT, p.N * p.K)
#endif
