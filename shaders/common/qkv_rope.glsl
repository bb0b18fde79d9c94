// RoPE and the KV-cache write fused into the q/k/v projection (the matmul kernels' ROPE variants).
// The q and k heads' weight rows are stored permuted (ops::rope_stored_row): within each group of 16
// rows of a head, rows i and i + 8 are a rotation pair (head elements j and j + d/2 of frequency j),
// so a pair is two of the kernel's columns 8 apart, like a GLU's gate and up rows. The kernel writes
// the rotated queries to Y (row m), and keys (rotated) and values into the caches [ctx, Hkv * d] at row
// pos0 + m. Keys and queries stay in the permuted order: their dot products are unchanged. Values are
// not permuted. The including kernel declares `y` and push constants p.ldy, p.rope_q (H * d),
// p.rope_kv (Hkv * d) and p.rope_d (d, a multiple of 16).
layout(binding = 5) readonly buffer RopeParams { uint pos0; } rope_params;
layout(binding = 6) readonly buffer RopeTable { vec2 rope_cs[]; };  // cos/sin [positions, d / 2]
layout(binding = 7) writeonly buffer KCache { float kc[]; };
layout(binding = 8) writeonly buffer VCache { float vc[]; };
const uint ROPE_GROUP = 8u;

// Writes output row m of projection rows `row` (in the first half of its group of 16) and
// row + ROPE_GROUP, values a and b.
void store_qkv_pair(uint m, uint row, float a, float b) {
  const uint pos = rope_params.pos0 + m;
  const uint qk = p.rope_q + p.rope_kv;
  if (row >= qk) {
    const uint o = pos * p.rope_kv + row - qk;
    vc[o] = a;
    vc[o + ROPE_GROUP] = b;
    return;
  }
  const uint c = row % p.rope_d;  // within the head; frequency index below
  const vec2 cs = rope_cs[pos * (p.rope_d / 2u) + (c / (2u * ROPE_GROUP)) * ROPE_GROUP + c % ROPE_GROUP];
  const float ra = a * cs.x - b * cs.y, rb = b * cs.x + a * cs.y;
  if (row < p.rope_q) {
    const uint o = m * p.ldy + row;
    y[o] = ra;
    y[o + ROPE_GROUP] = rb;
  } else {
    const uint o = pos * p.rope_kv + row - p.rope_q;
    kc[o] = ra;
    kc[o + ROPE_GROUP] = rb;
  }
}
