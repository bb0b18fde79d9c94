#version 450
// Matrix-vector product with 16-byte loads (GPUs, decode), RoPE and the KV-cache write fused: common/matvec.glsl.
#extension GL_GOOGLE_include_directive : require
#define WIDE
#define ROPE
#include "matvec.glsl"
