// Shapes shared by the fused differential attention test (test_diff_attention.cpp) and the two-pass
// baseline's (test_attention_two_pass.cpp): both run every case against ref::diff_attention.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace dlvk::test {

// lambda_init of DiffLlama layer `layer` (spec: 0.8 - 0.6 exp(-0.3 layer)).
inline double attention_lambda_init(uint32_t layer) { return 0.8 - 0.6 * std::exp(-0.3 * double(layer)); }

struct AttentionCase {
  uint32_t H, Hkv, d, T, pos0, n_split;
  float lambda;
  uint32_t layer;
  uint32_t q_pad = 0, o_pad = 0;  // extra columns in q / out rows
};

// Decode (T = 1): GQA 1/2/3/4 and MQA, odd Hkv, head_dim 16/24/40/64/128, 1 .. more-than-keys splits
// (empty splits), 2048 keys, strided q/out.
inline const std::vector<AttentionCase>& attention_decode_cases() {
  static const std::vector<AttentionCase> cases = {
      // H, Hkv, d, T, pos0, n_split, lambda, layer (, q_pad, o_pad)
      {8, 8, 64, 1, 0, 1, 0.85f, 0},           // a single key
      {8, 4, 64, 1, 100, 1, -0.4f, 5, 64, 8},  // GQA 2, strided q/out
      {8, 4, 64, 1, 300, 4, 0.5f, 2, 3, 8},    // ldq % 4 != 0: storage-buffer row kernels (no texel Q)
      {8, 2, 16, 1, 511, 4, 0.3f, 0},          // GQA 4
      {8, 1, 24, 1, 1000, 16, 0.6f, 5},        // MQA
      {6, 3, 24, 1, 2, 8, 0.5f, 0},            // odd Hkv; 3 keys over 8 splits: empty splits
      {6, 3, 128, 1, 0, 16, -0.2f, 5},         // 1 key over 16 splits
      {12, 4, 128, 1, 700, 32, 0.7f, 0},       // GQA 3
      {10, 5, 40, 1, 1234, 5, -0.6f, 3, 3, 5}, // odd sizes throughout
      {32, 8, 64, 1, 2047, 1, 0.8f, 5},        // the 1.24B attention shape at 2048 keys
      {32, 8, 64, 1, 2047, 16, 0.8f, 5},
      {4, 2, 128, 1, 2047, 4, -0.7f, 0, 0, 3},
      {4, 1, 128, 1, 2047, 1, 0.45f, 2},       // 2048 keys in one split at head_dim 128
      {2, 1, 16, 1, 63, 3, 0.1f, 5},           // one pair
  };
  return cases;
}

// Prefill (T > 1) with and without a cache offset, with and without splits.
inline const std::vector<AttentionCase>& attention_prefill_cases() {
  static const std::vector<AttentionCase> cases = {
      {8, 4, 64, 64, 0, 1, 0.85f, 0},
      {8, 8, 16, 37, 0, 1, -0.3f, 5, 5, 0},
      {6, 3, 24, 17, 300, 1, 0.4f, 0, 0, 24},
      {4, 1, 128, 64, 1984, 1, 0.75f, 5},  // 2048 keys at the last row
      {8, 2, 64, 16, 100, 4, -0.5f, 0},    // prefill rows also split
      {12, 6, 16, 9, 5, 7, 0.2f, 5},
  };
  return cases;
}

// Where the "test can fail" checks run deliberately wrong references.
inline const std::vector<AttentionCase>& attention_can_fail_cases() {
  static const std::vector<AttentionCase> cases = {{8, 4, 64, 5, 20, 1, 0.7f, 5}, {8, 2, 24, 1, 9, 4, -0.4f, 0}};
  return cases;
}

}  // namespace dlvk::test
