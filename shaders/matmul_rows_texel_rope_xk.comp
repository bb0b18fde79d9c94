#version 450
// The rows kernel for blocks of fewer than 8 X rows (decode) on devices with subgroup shuffles of at
// least 8 lanes: X texels fetched once per 8 K groups and shuffled to the lanes (common/matmul_rows.glsl),
// with RoPE and the KV-cache write fused (common/qkv_rope.glsl).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define WEIGHTS_TEXEL
#define X_TEXEL
#define X_SHUFFLE_K
#define ROPE
#include "matmul_rows.glsl"
