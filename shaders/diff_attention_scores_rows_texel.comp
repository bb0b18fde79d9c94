#version 450
// Q, K and V read as uniform texel buffers; see common/diff_attention_scores_rows.glsl.
#extension GL_GOOGLE_include_directive : require
#define KV_TEXEL
#include "diff_attention_scores_rows.glsl"
