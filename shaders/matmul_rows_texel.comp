#version 450
// Row-per-invocation matmul for CPU devices, W and X read as uniform texel buffers (lavapipe: vector
// gathers instead of per-lane storage-buffer loads, 3-4x faster).
#extension GL_GOOGLE_include_directive : require
#define WEIGHTS_TEXEL
#define X_TEXEL
#include "matmul_rows.glsl"
