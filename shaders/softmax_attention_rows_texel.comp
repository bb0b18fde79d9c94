#version 450
// Q, K and V read as uniform texel buffers; see common/softmax_attention_rows.glsl.
#extension GL_GOOGLE_include_directive : require
#define KV_TEXEL
#include "softmax_attention_rows.glsl"
