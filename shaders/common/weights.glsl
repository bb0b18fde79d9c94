// Weights are bound as arrays of 32-bit words and decoded here, so one shader serves f32, f16 and
// bf16 storage (chosen by a specialization constant) without needing 16-bit storage support.
#define DT_F32 0u
#define DT_F16 1u
#define DT_BF16 2u

// Element i of a weight array ARR stored as dtype DT.
#define DEFINE_WEIGHT_LOADER(NAME, ARR, DT)                                   \
  float NAME(uint i) {                                                        \
    if (DT == DT_F32) return uintBitsToFloat(ARR[i]);                         \
    uint w = ARR[i >> 1];                                                     \
    uint h = (i & 1u) == 0u ? (w & 0xffffu) : (w >> 16);                      \
    if (DT == DT_F16) return unpackHalf2x16(h).x;                             \
    return uintBitsToFloat(h << 16);                                          \
  }                                                                           \
  /* elements i and i+1 for even i */                                         \
  vec2 NAME##2(uint i) {                                                      \
    if (DT == DT_F32) return vec2(uintBitsToFloat(ARR[i]), uintBitsToFloat(ARR[i + 1u])); \
    uint w = ARR[i >> 1];                                                     \
    if (DT == DT_F16) return unpackHalf2x16(w);                               \
    return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u));  \
  }
