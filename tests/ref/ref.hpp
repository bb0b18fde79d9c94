// Plain CPU references in double precision, written from the spec (shared/spec/diffllama.md) and
// independent of the shaders: straightforward loops, full softmax, no tiling or online tricks.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace dlvk::ref {

// y[m, n] = sum_k x[m, k] w[n, k] + bias[n]
inline std::vector<double> matmul(std::span<const float> x, std::span<const float> w, std::span<const float> bias,
                                  size_t M, size_t N, size_t K) {
  std::vector<double> y(M * N);
  for (size_t m = 0; m < M; ++m)
    for (size_t n = 0; n < N; ++n) {
      double s = bias.empty() ? 0.0 : bias[n];
      for (size_t k = 0; k < K; ++k) s += double(x[m * K + k]) * w[n * K + k];
      y[m * N + n] = s;
    }
  return y;
}

inline std::vector<double> rmsnorm(std::span<const float> x, std::span<const float> w, size_t rows, size_t n, double eps) {
  std::vector<double> y(rows * n);
  for (size_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (size_t c = 0; c < n; ++c) ss += double(x[r * n + c]) * x[r * n + c];
    double inv = 1.0 / std::sqrt(ss / double(n) + eps);
    for (size_t c = 0; c < n; ++c) y[r * n + c] = x[r * n + c] * inv * (w.empty() ? 1.0 : w[c]);
  }
  return y;
}

// Rotate-half RoPE of one head vector at position pos; angle formed in f32 like HF.
inline void rope_head(std::span<double> v, std::span<const float> inv_freq, uint32_t pos) {
  size_t half = v.size() / 2;
  for (size_t j = 0; j < half; ++j) {
    double ang = double(float(pos) * inv_freq[j]);
    double c = std::cos(ang), s = std::sin(ang);
    double a = v[j], b = v[j + half];
    v[j] = a * c - b * s;
    v[j + half] = b * c + a * s;
  }
}

inline double silu(double x) { return x / (1.0 + std::exp(-x)); }
inline double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// Differential attention for T query rows at positions pos0 + t over a cache of keys/values
// [pos0 + T, Hkv, d]. q: [T, H, d]. Output [T, H/2 * 2d]. `interleaved` pairs head 2i with 2i+1
// instead of i with i+H/2 — a deliberately wrong variant the tests use to show they can fail; so are
// `swap_value_halves` (V~_i = [v_g(i+H/2); v_g(i)] instead of [v_g(i); v_g(i+H/2)]) and `kv_head_modulo`
// (GQA mapping g(h) = h % Hkv instead of h / (H/Hkv)).
inline std::vector<double> diff_attention(std::span<const float> q, std::span<const float> k, std::span<const float> v,
                                          size_t T, size_t H, size_t Hkv, size_t d, size_t pos0, double lambda,
                                          double lambda_init, double eps, bool interleaved = false,
                                          bool swap_value_halves = false, bool kv_head_modulo = false) {
  size_t H2 = H / 2, group = H / Hkv, C = 2 * d;
  std::vector<double> out(T * H2 * C);
  auto attend = [&](size_t t, size_t h, std::vector<double>& probs) {
    size_t n = pos0 + t + 1, g = kv_head_modulo ? h % Hkv : h / group;
    probs.assign(n, 0.0);
    double mx = -1e300;
    for (size_t s = 0; s < n; ++s) {
      double dot = 0;
      for (size_t c = 0; c < d; ++c) dot += double(q[(t * H + h) * d + c]) * k[(s * Hkv + g) * d + c];
      probs[s] = dot / std::sqrt(double(d));
      mx = std::max(mx, probs[s]);
    }
    double sum = 0;
    for (auto& p : probs) sum += (p = std::exp(p - mx));
    for (auto& p : probs) p /= sum;
  };
  std::vector<double> p1, p2, dv(C);
  for (size_t t = 0; t < T; ++t)
    for (size_t i = 0; i < H2; ++i) {
      size_t h1 = interleaved ? 2 * i : i, h2 = interleaved ? 2 * i + 1 : i + H2;
      attend(t, h1, p1);
      attend(t, h2, p2);
      size_t ga = kv_head_modulo ? h1 % Hkv : h1 / group, gb = kv_head_modulo ? h2 % Hkv : h2 / group;
      if (swap_value_halves) std::swap(ga, gb);
      double ss = 0;
      for (size_t c = 0; c < C; ++c) {
        double o1 = 0, o2 = 0;
        for (size_t s = 0; s < p1.size(); ++s) {
          double val = c < d ? v[(s * Hkv + ga) * d + c] : v[(s * Hkv + gb) * d + c - d];
          o1 += p1[s] * val;
          o2 += p2[s] * val;
        }
        dv[c] = o1 - lambda * o2;
        ss += dv[c] * dv[c];
      }
      double scale = (1.0 - lambda_init) / std::sqrt(ss / double(C) + eps);
      for (size_t c = 0; c < C; ++c) out[(t * H2 + i) * C + c] = dv[c] * scale;
    }
  return out;
}

}  // namespace dlvk::ref
