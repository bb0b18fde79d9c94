#version 450
// The q/k/v projection with RoPE and the KV-cache write fused (qkv_rope.glsl), cooperative matrices.
#define ROPE
#extension GL_GOOGLE_include_directive : require
#include "matmul_coopmat.glsl"
