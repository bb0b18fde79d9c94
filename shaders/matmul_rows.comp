#version 450
// Row-per-invocation matmul for CPU devices, weights and X in storage buffers.
#extension GL_GOOGLE_include_directive : require
#include "matmul_rows.glsl"
