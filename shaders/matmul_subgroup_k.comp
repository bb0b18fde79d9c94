#version 450
// Lanes split K (CPU devices, decode): common/matmul_subgroup_k.glsl.
#extension GL_GOOGLE_include_directive : require
#define WEIGHTS_TEXEL
#define X_TEXEL
#include "matmul_subgroup_k.glsl"
