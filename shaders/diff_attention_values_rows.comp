#version 450
// Storage-buffer variant; see common/diff_attention_values_rows.glsl.
#extension GL_GOOGLE_include_directive : require
#include "diff_attention_values_rows.glsl"
