// Body of diff_attention_rows.comp / diff_attention_rows_texel.comp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Fused differential attention for CPU Vulkan implementations (caps.cpu_quirks, e.g. lavapipe), where
// an invocation is one SIMD lane of a CPU thread, every buffer or shared-memory access inside a loop
// costs a per-lane load and a barrier is a coroutine switch. Same result and split-partials layout as
// diff_attention.comp (a reduce merges these partials too), but one invocation per (query row t,
// block of P head pairs i.., key split s) — no shared memory, no barriers, no cross-lane reductions.
// Each invocation keeps both queries, both online softmaxes (running max m, sum l) and both 2d
// accumulators of its pairs in registers and reads each visible key's rows k_g1, k_g2, v_g1, v_g2 once,
// as vec4s (D % 4 == 0), for all P pairs (they share g1 and g2; the host picks P <= 2):
//   map 1 (head i): s1 = q_i . k_g1,  map 2 (head i + H/2): s2 = q_{i+H/2} . k_g2,
//   V~_i = [v_g1 ; v_g2],  g1 = g(i), g2 = g(i + H/2),  g(h) = h / (H / Hkv).
// Lane order: consecutive invocations are consecutive pair blocks of the same split, so the lanes of
// one SIMD batch share GQA groups and read the same K/V rows (cache hits).
// Dispatch: x = ceil(T * H/2 / P * n_split / workgroup size).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;   // head_dim, a multiple of 4
layout(constant_id = 2) const uint KB = 32;  // unused (same constants as diff_attention.comp)
layout(constant_id = 3) const uint P = 1;    // head pairs per invocation, sharing both KV heads

layout(binding = 0) readonly buffer Params { uint pos0; } params;
#include "attention_rows_io.glsl"
layout(binding = 4) writeonly buffer OutBuf { float out_y[]; };
layout(binding = 5) writeonly buffer PartBuf { float part[]; };

layout(push_constant) uniform Push {
  uint T, H, Hkv, ldq, ldo, n_split;
  float lambda, out_scale, eps, sm_scale;
} p;

const uint D4 = D / 4u;
const uint C = 2u * D;
const float NEG_BIG = -1.0e30;

#include "attention_rows_item.glsl"

void main() {
  Item it;
  if (!item(it)) return;
  const uint H2 = p.H / 2u, t = it.t, i = it.i, s = it.s;
  const uint kvs = p.Hkv * D4;  // KV cache row stride in vec4s

  // The loops over D4 have trip counts fixed at specialisation and are unrolled ([[unroll]]), so the
  // arrays live in registers. That is also needed for correctness on lavapipe: gallivm ends every
  // loop of an invocation once all its loops together have run 65535 iterations, so only the key loop
  // may iterate (at most ~65000 keys per split; the shared-memory kernel reaches its limit at ~12k).
  // Pair u of the block: q1/q2[u * D4 ..], a1/a2[u * 2 D4 ..].
  vec4 q1[P * D4], q2[P * D4], a1[P * 2u * D4], a2[P * 2u * D4];
  [[unroll]] for (uint u = 0; u < P; ++u)
    [[unroll]] for (uint c = 0; c < D4; ++c) {
      q1[u * D4 + c] = load_q4(t * p.ldq + (i + u) * D + 4u * c) * p.sm_scale;
      q2[u * D4 + c] = load_q4(t * p.ldq + (i + u + H2) * D + 4u * c) * p.sm_scale;
    }
  [[unroll]] for (uint c = 0; c < P * 2u * D4; ++c) a1[c] = a2[c] = vec4(0.0);
  float m1[P], m2[P], l1[P], l2[P];
  [[unroll]] for (uint u = 0; u < P; ++u) {
    m1[u] = m2[u] = NEG_BIG;
    l1[u] = l2[u] = 0.0;
  }

  for (uint key = it.begin; key < it.end; ++key) {
    const uint r1 = key * kvs + it.r1, r2 = key * kvs + it.r2;
    vec4 k1[D4], k2[D4];
    [[unroll]] for (uint c = 0; c < D4; ++c) {
      k1[c] = load_k4(r1 + c);
      k2[c] = load_k4(r2 + c);
    }
    float f1[P], f2[P], p1[P], p2[P];
    [[unroll]] for (uint u = 0; u < P; ++u) {
      vec4 d1 = vec4(0.0), d2 = vec4(0.0);
      [[unroll]] for (uint c = 0; c < D4; ++c) {
        d1 += q1[u * D4 + c] * k1[c];
        d2 += q2[u * D4 + c] * k2[c];
      }
      const float x1 = d1.x + d1.y + d1.z + d1.w, x2 = d2.x + d2.y + d2.z + d2.w;
      const float n1 = max(m1[u], x1), n2 = max(m2[u], x2);
      f1[u] = exp(m1[u] - n1);  // rescale of the old state
      f2[u] = exp(m2[u] - n2);
      p1[u] = exp(x1 - n1);
      p2[u] = exp(x2 - n2);
      l1[u] = l1[u] * f1[u] + p1[u];
      l2[u] = l2[u] * f2[u] + p2[u];
      m1[u] = n1;
      m2[u] = n2;
    }
    [[unroll]] for (uint c = 0; c < D4; ++c) {  // v_g1: columns [0, d) of V~, used by both maps
      const vec4 v = load_v4(r1 + c);
      [[unroll]] for (uint u = 0; u < P; ++u) {
        a1[u * 2u * D4 + c] = a1[u * 2u * D4 + c] * f1[u] + p1[u] * v;
        a2[u * 2u * D4 + c] = a2[u * 2u * D4 + c] * f2[u] + p2[u] * v;
      }
    }
    [[unroll]] for (uint c = 0; c < D4; ++c) {  // v_g2: columns [d, 2d)
      const vec4 v = load_v4(r2 + c);
      [[unroll]] for (uint u = 0; u < P; ++u) {
        a1[u * 2u * D4 + D4 + c] = a1[u * 2u * D4 + D4 + c] * f1[u] + p1[u] * v;
        a2[u * 2u * D4 + D4 + c] = a2[u * 2u * D4 + D4 + c] * f2[u] + p2[u] * v;
      }
    }
  }

  [[unroll]] for (uint u = 0; u < P; ++u) {
    const uint b = u * 2u * D4;
    if (p.n_split == 1u) {  // finish the pair: D = O+ - lambda O-, 2d RMSNorm, scale
      const float i1 = 1.0 / l1[u], i2 = p.lambda / l2[u];
      float ss = 0.0;
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c) {
        a1[b + c] = a1[b + c] * i1 - a2[b + c] * i2;
        ss += dot(a1[b + c], a1[b + c]);
      }
      const float scale = p.out_scale * inversesqrt(ss / float(C) + p.eps);
      const uint o = t * p.ldo + (i + u) * C;
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
        [[unroll]] for (uint e = 0; e < 4u; ++e) out_y[o + 4u * c + e] = a1[b + c][e] * scale;
    } else {
      // Partials for the reduce: (m1, l1, m2, l2, acc1[C], acc2[C]); an empty split leaves l == 0 and
      // is ignored there.
      const uint base = ((t * H2 + i + u) * p.n_split + s) * (4u + 2u * C);
      part[base] = m1[u];
      part[base + 1u] = l1[u];
      part[base + 2u] = m2[u];
      part[base + 3u] = l2[u];
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
        [[unroll]] for (uint e = 0; e < 4u; ++e) {
          part[base + 4u + 4u * c + e] = a1[b + c][e];
          part[base + 4u + C + 4u * c + e] = a2[b + c][e];
        }
    }
  }
}
