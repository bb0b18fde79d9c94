// Q / K / V bindings of the CPU-device attention row kernels (diff_attention_rows*.comp,
// softmax_attention_rows*.comp). With KV_TEXEL the query and both caches are uniform texel buffers of
// uvec4 (lavapipe: a texel fetch is a vector gather, a storage-buffer load a per-lane scalar loop with
// bounds checks, 3-4x slower); the host uses that whenever all three slices are texel-bindable and
// ldq % 4 == 0, else the storage-buffer variant. Indices: q in floats (a multiple of 4), K/V in vec4s.
#ifdef KV_TEXEL
layout(binding = 1) uniform usamplerBuffer q_texels;
layout(binding = 2) uniform usamplerBuffer k_texels;
layout(binding = 3) uniform usamplerBuffer v_texels;
vec4 load_q4(uint i) { return uintBitsToFloat(texelFetch(q_texels, int(i >> 2))); }
vec4 load_k4(uint i) { return uintBitsToFloat(texelFetch(k_texels, int(i))); }
vec4 load_v4(uint i) { return uintBitsToFloat(texelFetch(v_texels, int(i))); }
#else
layout(binding = 1) readonly buffer QBuf { float q[]; };
layout(binding = 2) readonly buffer KBuf { vec4 kc[]; };
layout(binding = 3) readonly buffer VBuf { vec4 vc[]; };
vec4 load_q4(uint i) { return vec4(q[i], q[i + 1u], q[i + 2u], q[i + 3u]); }
vec4 load_k4(uint i) { return kc[i]; }
vec4 load_v4(uint i) { return vc[i]; }
#endif
