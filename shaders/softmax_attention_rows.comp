#version 450
// Storage-buffer variant; see common/softmax_attention_rows.glsl.
#extension GL_GOOGLE_include_directive : require
#include "softmax_attention_rows.glsl"
