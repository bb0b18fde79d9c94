// The output stage of the GPU prefill matmuls (matmul_tiled.glsl, matmul_coopmat.glsl): products a and b
// of output columns n and n + 8 of row m (n in the first half of its group of 16), written with bias,
// fused GLU or RoPE pair, or residual add. GLU and RoPE pairs are whole in a chunk (rows % 16 == 0), so
// b_valid (n + 8 < N) only matters for plain outputs. The including kernel declares HAS_BIAS, ACCUMULATE,
// GLU, the bindings (matmul_buffers.glsl) and, with ROPE, store_qkv_pair.
void store_pair(uint m, uint n, float a, float b, bool b_valid) {
  const uint row = p.y_col0 + n;
  if (HAS_BIAS != 0u) {
    a += bias[row];
    if (b_valid) b += bias[row + 8u];
  }
#ifdef ROPE
  store_qkv_pair(m, row, a, b);
#else
  if (GLU != 0u) {
    y[m * p.ldy + glu_column(row, 8u)] = (GLU == 2u ? gelu(a) : silu(a)) * b;
    return;
  }
  const uint o = m * p.ldy + row;
  if (ACCUMULATE != 0u) {
    a += y[o];
    if (b_valid) b += y[o + 8u];
  }
  y[o] = a;
  if (b_valid) y[o + 8u] = b;
#endif
}
