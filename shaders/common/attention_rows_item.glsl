// The work item of an invocation of the attention row kernels (diff_attention_rows.glsl, the two-phase
// passes, softmax_attention_rows.glsl): one query row, one block of P head pairs that share both KV
// heads, one key split. Needs the push constants T, H, Hkv, n_split, params.pos0, P and D4.
struct Item {
  uint t, i, s;        // query row, first head pair of the block, key split
  uint r1, r2;         // vec4 offsets of the block's two KV heads within a cache row
  uint begin, end;     // this split's keys
};

// False for the invocations past the last (row, block, split). Invocations are numbered across query
// rows (blocks * n_split may be fewer than a SIMD batch). Dispatch: x = ceil(T * H/2 / P * n_split / wg).
bool item(out Item it) {
  const uint H2 = p.H / 2u, blocks = H2 / P, per_row = blocks * p.n_split;
  const uint j = gl_GlobalInvocationID.x % per_row;
  it.t = gl_GlobalInvocationID.x / per_row;
  if (it.t >= p.T) return false;
  it.i = (j % blocks) * P;
  it.s = j / blocks;
  const uint group = p.H / p.Hkv;
  it.r1 = (it.i / group) * D4;
  it.r2 = ((it.i + H2) / group) * D4;
  // Causal with the cache offset: row t sees keys 0 .. pos0 + t; split s takes one chunk of them.
  const uint kv_len = params.pos0 + it.t + 1u;
  const uint chunk = (kv_len + p.n_split - 1u) / p.n_split;
  it.begin = min(kv_len, it.s * chunk);
  it.end = min(kv_len, it.begin + chunk);
  return true;
}
