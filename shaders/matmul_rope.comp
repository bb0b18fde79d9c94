#version 450
// The q/k/v projection with RoPE and the KV-cache write fused (common/qkv_rope.glsl), tiled.
#extension GL_GOOGLE_include_directive : require
#define ROPE
#include "matmul_tiled.glsl"
