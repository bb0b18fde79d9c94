// Body of diff_attention_rows.comp / diff_attention_rows_texel.comp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifdef KV_SHUFFLE
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
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

#ifdef KV_SHUFFLE
// Prefill without key splits on devices with subgroup shuffles (CPU devices, where a subgroup is one
// SIMD batch): a workgroup is one subgroup of SG invocations, the query rows t0 .. t0 + SG - 1 of one
// block of pairs, so all lanes read the same K and V rows: lane l fetches texels l, l + SG, .. of a row
// and each lane takes the row's texel c from lane c % SG (a vector extract on lavapipe; before, each
// of the D4 texel fetches gathered the same 16 bytes for all SG lanes). All lanes run the key loop of
// the group's last row (shuffles need every lane active); keys past a lane's own causal limit are
// skipped by select, rows past T compute row T - 1 and store nothing.
layout(constant_id = 4) const uint SG = 8;  // the device's subgroup size = the workgroup size
const uint FETCHES = (D4 + SG - 1u) / SG;  // texel fetches per lane per K or V row
#ifndef KBLK
#define KBLK 8u
#endif

// Row texels of a KV head at vec4 offset `row` (lane l fetches texels l + f * SG), then texel c of it.
void fetch_row(bool v, uint row, out vec4 f[FETCHES]) {
  [[unroll]] for (uint j = 0; j < FETCHES; ++j) {
    const uint c = min(gl_SubgroupInvocationID + j * SG, D4 - 1u);
    f[j] = v ? load_v4(row + c) : load_k4(row + c);
  }
}
#define ROW_TEXEL(f, c) subgroupShuffle(f[(c) / SG], (c) % SG)

// item() for this layout (attention_rows_item.glsl numbers invocations across rows, blocks and splits):
// false for rows past T, whose item is row T - 1's; group_end: the end of the group's last row's keys.
bool group_item(out Item it, out uint group_end) {
  const uint H2 = p.H / 2u, blocks = H2 / P, t0 = (gl_WorkGroupID.x / blocks) * SG;
  const uint t = t0 + gl_SubgroupInvocationID;
  it.t = min(t, p.T - 1u);
  it.i = (gl_WorkGroupID.x % blocks) * P;
  it.s = 0u;
  const uint group = p.H / p.Hkv;
  it.r1 = (it.i / group) * D4;
  it.r2 = ((it.i + H2) / group) * D4;
  it.begin = 0u;
  it.end = params.pos0 + it.t + 1u;  // this row's keys
  group_end = params.pos0 + min(t0 + SG - 1u, p.T - 1u) + 1u;
  return t < p.T;
}
#endif

void main() {
  Item it;
#ifdef KV_SHUFFLE
  uint group_end;
  const bool row_valid = group_item(it, group_end);
#else
  if (!item(it)) return;
#endif
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

#ifdef KV_SHUFFLE
  // Keys in blocks of KBLK: the block's scores first, then one rescale of the accumulators and KBLK
  // products per element, so the loop-carried state (on lavapipe every update of it is a masked store
  // to memory) is written once per block instead of once per key. Keys past a row's causal limit (or
  // past the group's last key, whose row index is clamped) weigh 0.
  for (uint key0 = it.begin; key0 < group_end; key0 += KBLK) {
    bool valid[KBLK];
    float s1[KBLK * P], s2[KBLK * P];
    vec4 v1f[KBLK][FETCHES], v2f[KBLK][FETCHES];
    [[unroll]] for (uint j = 0; j < KBLK; ++j) {
      valid[j] = key0 + j < it.end;
      const uint key = min(key0 + j, group_end - 1u);
      const uint r1 = key * kvs + it.r1, r2 = key * kvs + it.r2;
      vec4 k1f[FETCHES], k2f[FETCHES];
      fetch_row(false, r1, k1f);
      fetch_row(false, r2, k2f);
      fetch_row(true, r1, v1f[j]);
      fetch_row(true, r2, v2f[j]);
      [[unroll]] for (uint u = 0; u < P; ++u) {
        vec4 d1 = vec4(0.0), d2 = vec4(0.0);
        [[unroll]] for (uint c = 0; c < D4; ++c) {
          d1 += q1[u * D4 + c] * ROW_TEXEL(k1f, c);
          d2 += q2[u * D4 + c] * ROW_TEXEL(k2f, c);
        }
        s1[j * P + u] = d1.x + d1.y + d1.z + d1.w;
        s2[j * P + u] = d2.x + d2.y + d2.z + d2.w;
      }
    }
    float f1[P], f2[P], p1[KBLK * P], p2[KBLK * P];
    [[unroll]] for (uint u = 0; u < P; ++u) {
      float n1 = m1[u], n2 = m2[u];
      [[unroll]] for (uint j = 0; j < KBLK; ++j) {
        n1 = valid[j] ? max(n1, s1[j * P + u]) : n1;
        n2 = valid[j] ? max(n2, s2[j * P + u]) : n2;
      }
      f1[u] = exp(m1[u] - n1);  // rescale of the old state
      f2[u] = exp(m2[u] - n2);
      float sum1 = 0.0, sum2 = 0.0;
      [[unroll]] for (uint j = 0; j < KBLK; ++j) {
        p1[j * P + u] = valid[j] ? exp(s1[j * P + u] - n1) : 0.0;
        p2[j * P + u] = valid[j] ? exp(s2[j * P + u] - n2) : 0.0;
        sum1 += p1[j * P + u];
        sum2 += p2[j * P + u];
      }
      l1[u] = l1[u] * f1[u] + sum1;
      l2[u] = l2[u] * f2[u] + sum2;
      m1[u] = n1;
      m2[u] = n2;
    }
    [[unroll]] for (uint half_ = 0; half_ < 2u; ++half_)  // V~ = [v_g1 ; v_g2], used by both maps
      [[unroll]] for (uint c = 0; c < D4; ++c) {
        vec4 v[KBLK];
        [[unroll]] for (uint j = 0; j < KBLK; ++j)
          v[j] = half_ == 0u ? ROW_TEXEL(v1f[j], c) : ROW_TEXEL(v2f[j], c);
        [[unroll]] for (uint u = 0; u < P; ++u) {
          const uint e = u * 2u * D4 + half_ * D4 + c;
          vec4 b1 = a1[e] * f1[u], b2 = a2[e] * f2[u];
          [[unroll]] for (uint j = 0; j < KBLK; ++j) {
            b1 += p1[j * P + u] * v[j];
            b2 += p2[j * P + u] * v[j];
          }
          a1[e] = b1;
          a2[e] = b2;
        }
      }
  }
#else
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
#endif

#ifdef KV_SHUFFLE
  if (!row_valid) return;
#endif
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
