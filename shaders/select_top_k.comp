#version 450
// Top-K selection: the K largest logits with their ids, sorted by value descending, ties broken by
// the smaller id (the CPU sampler's order), so K = 1 is its greedy argmax.
//
// Two stages of the same shader. MERGE 0 reads n logits (f32) and writes one sorted list per
// workgroup; MERGE 1 (one workgroup) merges those lists. A MERGE 0 workgroup walks its items
// (grid-stride, so any n and any workgroup count work) with a few registers per invocation:
//  1. each invocation keeps its best R items (R * WG >= K). The K-th best of those R * WG items, tau,
//     is a lower bound of the workgroup's K-th best item (they are K distinct items). K = 1 stops
//     here: the best of the invocations' best.
//  2. a second walk appends every item not worse than tau to a shared list (its K best are the answer);
//  3. each listed item's rank is the number of listed items better than it; ranks < K are written.
// If more than CAP items pass tau (only for rows built against this scheme), K rounds of "the best item
// worse than the last one" over the items past tau give the same result more slowly.
// MERGE 1 merges the sorted lists in K rounds: invocation t owns list t, each round the best list head
// wins and its list moves on. Reductions use subgroup operations when USE_SUBGROUP, else a shared-
// memory tree.
//
// Values are compared as order-preserving integer keys (-0 is turned into +0 first), so the order is
// exactly the float order of the CPU (no dependence on the device's denormal or NaN handling). NaN
// logits are left out and the smallest NaN id is reported instead.
//
// Output of workgroup g out of G (as uint words): ids at [g*K + r], value bits at [G*K + g*K + r]
// (r < K; slots past the number of items hold id 0xFFFFFFFF and -inf), smallest NaN id at [2*G*K + g]
// (0xFFFFFFFF when none). MERGE 1 reads that layout with n = G*K and in_groups = G <= WG.
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable

layout(local_size_x_id = 0) in;  // a power of two
layout(constant_id = 1) const uint K = 1;
layout(constant_id = 2) const uint MERGE = 0;
layout(constant_id = 3) const uint USE_SUBGROUP = 0;
layout(constant_id = 4) const uint CAP = 512;  // shared list of items past tau
layout(constant_id = 5) const uint R = 1;      // items per invocation in step 1; R * WG >= K

layout(binding = 0) readonly buffer InBuf { uint src[]; };
layout(binding = 1) writeonly buffer OutBuf { uint dst[]; };

layout(push_constant) uniform Push {
  uint n;          // items: logits (MERGE 0) or list entries (MERGE 1)
  uint in_groups;  // MERGE 1: workgroups of the first stage (their lists and NaN slots)
} p;

const uint NONE = 0xFFFFFFFFu;
const uint NEG_INF_BITS = 0xFF800000u;
const uint TOP_KEY = 0xFFFFFFFFu;  // above every float's key (it would be a NaN's)

shared uint s_key[R * gl_WorkGroupSize.x];
shared uint s_id[R * gl_WorkGroupSize.x];
shared uint c_key[CAP];
shared uint c_id[CAP];
shared uint s_count, s_nan, s_tau_key, s_tau_id;

// Monotonic map of non-NaN float bits to uint: a < b as floats <=> key(a) < key(b); key 0 is below
// every float (key(-inf) = 0x007FFFFF), so (0, NONE) marks "no item".
uint order_key(uint bits) {
  if (bits == 0x80000000u) bits = 0u;
  return (bits & 0x80000000u) != 0u ? ~bits : (bits | 0x80000000u);
}
uint key_bits(uint key) { return (key & 0x80000000u) != 0u ? (key & 0x7FFFFFFFu) : ~key; }
bool is_nan(uint bits) { return (bits & 0x7FFFFFFFu) > 0x7F800000u; }
bool better(uint ka, uint ia, uint kb, uint ib) { return ka > kb || (ka == kb && ia < ib); }

// Logit j (MERGE 0): false for a NaN.
bool load_logit(uint j, out uint key, out bool nan) {
  uint bits = src[j];
  nan = is_nan(bits);
  key = order_key(bits);
  return !nan;
}

void write_slot(uint base, uint G, uint r, uint key, uint id) {
  dst[base + r] = id;
  dst[G * K + base + r] = id == NONE ? NEG_INF_BITS : key_bits(key);
}

// The workgroup's best (key, id); every invocation gets it. Uniform control flow only.
void reduce_best(inout uint key, inout uint id) {
  const uint tid = gl_LocalInvocationID.x;
  if (USE_SUBGROUP != 0u) {
    uint sk = subgroupMax(key);
    uint si = subgroupMin(key == sk ? id : NONE);
    if (gl_NumSubgroups == 1u) {
      key = sk;
      id = si;
      return;
    }
    if (subgroupElect()) {
      s_key[gl_SubgroupID] = sk;
      s_id[gl_SubgroupID] = si;
    }
    barrier();
    key = s_key[0];
    id = s_id[0];
    for (uint s = 1u; s < gl_NumSubgroups; ++s)
      if (better(s_key[s], s_id[s], key, id)) {
        key = s_key[s];
        id = s_id[s];
      }
  } else {
    s_key[tid] = key;
    s_id[tid] = id;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s /= 2u) {
      if (tid < s && better(s_key[tid + s], s_id[tid + s], s_key[tid], s_id[tid])) {
        s_key[tid] = s_key[tid + s];
        s_id[tid] = s_id[tid + s];
      }
      barrier();
    }
    key = s_key[0];
    id = s_id[0];
  }
  barrier();  // everyone has read the result before the arrays are written again
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint g = gl_WorkGroupID.x, G = gl_NumWorkGroups.x;
  const uint stride = G * WG, base = g * K;

  if (tid == 0u) {
    s_count = 0u;
    s_nan = NONE;
    s_tau_key = 0u;
    s_tau_id = NONE;
  }

  if (MERGE != 0u) {
    uint head = 0u, nan_id = NONE;
    const bool owner = tid < p.in_groups;
    if (owner) nan_id = src[2u * p.n + tid];
    barrier();  // s_nan is initialised
    if (nan_id != NONE) atomicMin(s_nan, nan_id);
    for (uint r = 0u; r < K; ++r) {
      uint hk = 0u, hi = NONE;
      if (owner && head < K) {
        hi = src[tid * K + head];
        if (hi != NONE) hk = order_key(src[p.n + tid * K + head]);
      }
      uint wk = hk, wi = hi;
      reduce_best(wk, wi);
      if (wi != NONE && hi == wi) ++head;  // ids are unique: this list offered the winner
      if (tid == 0u) write_slot(base, G, r, wk, wi);
    }
    barrier();
    if (tid == 0u) dst[2u * G * K + g] = s_nan;
    return;
  }

  // 1. This invocation's best R items, best first (registers: constant indices only).
  uint rk[R], ri[R];
  for (uint r = 0u; r < R; ++r) {
    rk[r] = 0u;
    ri[r] = NONE;
  }
  uint nan_id = NONE;
  for (uint j = g * WG + tid; j < p.n; j += stride) {
    uint key;
    bool nan;
    bool take = load_logit(j, key, nan) && better(key, j, rk[R - 1u], ri[R - 1u]);
    if (nan) nan_id = min(nan_id, j);
    if (take) {
      uint id = j;
      for (uint r = 0u; r < R; ++r)
        if (better(key, id, rk[r], ri[r])) {
          uint tk = rk[r], ti = ri[r];
          rk[r] = key;
          ri[r] = id;
          key = tk;
          id = ti;
        }
    }
  }
  barrier();  // s_nan is initialised
  if (nan_id != NONE) atomicMin(s_nan, nan_id);

  if (K == 1u) {
    uint bk = rk[0], bi = ri[0];
    reduce_best(bk, bi);
    barrier();  // every atomicMin is done (reduce_best has none with a single subgroup)
    if (tid == 0u) {
      write_slot(base, G, 0u, bk, bi);
      dst[2u * G * K + g] = s_nan;
    }
    return;
  }

  for (uint r = 0u; r < R; ++r) {
    s_key[tid * R + r] = rk[r];
    s_id[tid * R + r] = ri[r];
  }
  barrier();
  // tau: the item ranked K-1 among the R * WG (stays "no item" when fewer than K are real).
  for (uint r = 0u; r < R; ++r) {
    if (ri[r] == NONE) continue;
    uint rank = 0u;
    for (uint e = 0u; e < R * WG; ++e) {
      uint ke = s_key[e];  // the id only on equal keys (rare)
      if (ke > rk[r] || (ke == rk[r] && s_id[e] < ri[r])) ++rank;
    }
    if (rank == K - 1u) {
      s_tau_key = rk[r];
      s_tau_id = ri[r];
    }
  }
  barrier();
  const uint tau_key = s_tau_key, tau_id = s_tau_id;

  // 2. Every item not worse than tau into the shared list.
  for (uint j = g * WG + tid; j < p.n; j += stride) {
    uint key;
    bool nan;
    bool take = load_logit(j, key, nan) && !better(tau_key, tau_id, key, j);
    if (take) {
      uint slot = atomicAdd(s_count, 1u);
      if (slot < CAP) {
        c_key[slot] = key;
        c_id[slot] = j;
      }
    }
  }
  barrier();
  const uint C = s_count;

  if (C <= CAP) {
    // 3. Ranks within the list (ids are unique, so ranks are).
    for (uint a = tid; a < C; a += WG) {
      uint ka = c_key[a], ia = c_id[a];
      uint rank = 0u;
      for (uint b = 0u; b < C; ++b) {
        uint kb = c_key[b];
        if (kb > ka || (kb == ka && c_id[b] < ia)) ++rank;
      }
      if (rank < K) write_slot(base, G, rank, ka, ia);
    }
    for (uint r = C + tid; r < K; r += WG) write_slot(base, G, r, 0u, NONE);
  } else {
    // Too many items past tau: K rounds, each the best item worse than the previous winner.
    uint pk = TOP_KEY, pi = 0u;
    for (uint r = 0u; r < K; ++r) {
      uint bk = 0u, bi = NONE;
      for (uint j = g * WG + tid; j < p.n; j += stride) {
        uint key;
        bool nan;
        if (!load_logit(j, key, nan) || better(tau_key, tau_id, key, j)) continue;
        if (better(pk, pi, key, j) && better(key, j, bk, bi)) {
          bk = key;
          bi = j;
        }
      }
      reduce_best(bk, bi);
      if (tid == 0u) write_slot(base, G, r, bk, bi);
      pk = bk;
      pi = bi;
    }
  }
  barrier();
  if (tid == 0u) dst[2u * G * K + g] = s_nan;
}
