// Weights are bound as arrays of 32-bit words and decoded here, so one shader serves f32, f16, bf16 and
// the block-quantized formats (chosen by a specialization constant) without needing 16-bit storage.
//
// Quantized formats (blocks of 32 consecutive elements of a row, one f16 scale per block; K % 32 == 0):
//   q8_0: element i is the signed byte i of the data (4 per word), value = scale * q, q in [-127, 127];
//   q4_0: element i is nibble i (8 per word, element 8w + e at bits 4e..4e+3), value = scale * (q - 8).
// A chunk of N rows stores its data words first, then its N*K/32 f16 scales (two per word).
#define DT_F32 0u
#define DT_F16 1u
#define DT_BF16 2u
#define DT_Q8_0 3u
#define DT_Q4_0 4u

// Words of quantized data in a chunk of n elements (where its scales begin).
uint quant_data_words(uint dt, uint n) { return dt == DT_Q8_0 ? n / 4u : n / 8u; }

// Element i of a weight array ARR stored as dtype DT; NELEM: elements in the bound chunk (only read
// by the quantized formats, to find the scales).
#define DEFINE_WEIGHT_LOADER_N(NAME, ARR, DT, NELEM)                          \
  float NAME(uint i) {                                                        \
    if (DT == DT_F32) return uintBitsToFloat(ARR[i]);                         \
    if (DT == DT_Q8_0 || DT == DT_Q4_0) {                                     \
      uint s = i >> 5;                                                        \
      float scale = unpackHalf2x16(ARR[quant_data_words(DT, NELEM) + (s >> 1)])[s & 1u]; \
      if (DT == DT_Q8_0) return scale * float(int(ARR[i >> 2] << (24u - 8u * (i & 3u))) >> 24); \
      return scale * (float((ARR[i >> 3] >> (4u * (i & 7u))) & 15u) - 8.0);   \
    }                                                                         \
    uint w = ARR[i >> 1];                                                     \
    uint h = (i & 1u) == 0u ? (w & 0xffffu) : (w >> 16);                      \
    if (DT == DT_F16) return unpackHalf2x16(h).x;                             \
    return uintBitsToFloat(h << 16);                                          \
  }                                                                           \
  /* elements i and i+1 for even i */                                         \
  vec2 NAME##2(uint i) {                                                      \
    if (DT == DT_F32) return vec2(uintBitsToFloat(ARR[i]), uintBitsToFloat(ARR[i + 1u])); \
    if (DT == DT_Q8_0 || DT == DT_Q4_0) return vec2(NAME(i), NAME(i + 1u));  \
    uint w = ARR[i >> 1];                                                     \
    if (DT == DT_F16) return unpackHalf2x16(w);                               \
    return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u));  \
  }
#define DEFINE_WEIGHT_LOADER(NAME, ARR, DT) DEFINE_WEIGHT_LOADER_N(NAME, ARR, DT, 0u)

// 16-byte weight loads (matvec.glsl's WIDE build): elements per load of dtype dt ...
uint wide_elems(uint dt) { return dt == DT_F32 ? 4u : dt == DT_Q8_0 ? 16u : dt == DT_Q4_0 ? 32u : 8u; }

// ... and those elements as v[0 .. wide_elems(dt) / 4 - 1], in order; quantized ones as their integer
// values (q8_0: q, q4_0: q - 8), to be multiplied by the block's scale (one block holds a whole load).
void decode_wide(uint dt, uvec4 wv, out vec4 v[8]) {
  if (dt == DT_F32) {
    v[0] = uintBitsToFloat(wv);
  } else if (dt == DT_F16) {
    v[0] = vec4(unpackHalf2x16(wv.x), unpackHalf2x16(wv.y));
    v[1] = vec4(unpackHalf2x16(wv.z), unpackHalf2x16(wv.w));
  } else if (dt == DT_BF16) {
    v[0] = uintBitsToFloat(uvec4(wv.x << 16, wv.x & 0xffff0000u, wv.y << 16, wv.y & 0xffff0000u));
    v[1] = uintBitsToFloat(uvec4(wv.z << 16, wv.z & 0xffff0000u, wv.w << 16, wv.w & 0xffff0000u));
  } else if (dt == DT_Q8_0) {
    for (uint j = 0; j < 4u; ++j) v[j] = vec4((ivec4(wv[j]) << ivec4(24, 16, 8, 0)) >> 24);
  } else {
    for (uint j = 0; j < 4u; ++j) {
      v[2u * j] = vec4((uvec4(wv[j]) >> uvec4(0, 4, 8, 12)) & 15u) - 8.0;
      v[2u * j + 1u] = vec4((uvec4(wv[j]) >> uvec4(16, 20, 24, 28)) & 15u) - 8.0;
    }
  }
}
