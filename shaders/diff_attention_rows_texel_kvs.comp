#version 450
// Q, K and V read as uniform texel buffers, K and V rows fetched once per subgroup and shuffled (prefill,
// no key splits); see common/diff_attention_rows.glsl.
#extension GL_GOOGLE_include_directive : require
#define KV_TEXEL
#define KV_SHUFFLE
#include "diff_attention_rows.glsl"
