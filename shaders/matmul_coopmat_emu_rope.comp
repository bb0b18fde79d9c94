#version 450
// matmul_coopmat_rope without cooperative matrices (tests on any device).
#define EMULATED
#define ROPE
#extension GL_GOOGLE_include_directive : require
#include "matmul_coopmat.glsl"
