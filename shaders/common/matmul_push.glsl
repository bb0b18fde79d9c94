// Push constants of every matmul kernel (ops::MatmulPush): Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] for
// m < M, n < N, row strides ldx / ldy in elements, W one row chunk whose first row is y_col0.
layout(push_constant) uniform Push {
  uint M, N, K;
  uint ldx, ldy;
  uint y_col0;
  uint flags;  // GLU (4: SiLU, 8: GELU); the CPU-device kernels also bias (1) and accumulate (2), as push
               // constants rather than specialization so one pipeline per format and block serves every
               // projection (each variant is seconds of LLVM time); the tiled kernel specializes all
  float norm_eps;  // NORM
  uint glu_group;  // GLU: gate/up rows interleave in groups of this many (activation.glsl)
  uint rope_q, rope_kv, rope_d;  // ROPE (qkv_rope.glsl)
} p;
