#include "ops/elementwise.hpp"

#include <algorithm>

namespace dlvk::ops {

void record_elementwise(vk::Recorder& rec, EltOp op, const vk::BufferSlice& a, const vk::BufferSlice& b,
                        const vk::BufferSlice& out, uint32_t n, std::string_view label, uint32_t glu_group) {
  const bool glu = op == EltOp::silu_mul_pairs || op == EltOp::gelu_mul_pairs;
  if (glu && (glu_group == 0 || n % glu_group != 0))
    fail(Status::internal, "{}: {} GLU outputs are not whole groups of {}", label, n, glu_group);
  const uint32_t wg = 64;
  const auto& k = rec.device().kernel({"elementwise", {wg, uint32_t(op)}, 3, 8});
  uint32_t groups = std::min<uint32_t>((n + wg - 1) / wg, rec.device().caps().max_workgroup_count[0]);
  struct {
    uint32_t n, group;
  } p{n, glu_group};
  rec.dispatch(k, {vk::in(a), vk::in(b), vk::out(out)}, p, groups, 1, 1, label);
}

void record_embedding(vk::Recorder& rec, const WeightMatrix& table, const vk::BufferSlice& ids, uint32_t ids_offset,
                      const vk::BufferSlice& out, uint32_t ldo, uint32_t T, std::string_view label) {
  struct Push {
    uint32_t hidden, row0, rows, ids_offset, ldo;
  };
  uint32_t code = table.dtype == DType::f32 ? 0 : table.dtype == DType::f16 ? 1 : 2;
  const auto& k = rec.device().kernel({"embedding", {64, code}, 3, sizeof(Push)});
  for (const auto& c : table.chunks) {
    Push p{table.cols, c.row0, c.rows, ids_offset, ldo};
    rec.dispatch(k, {vk::in(ids), vk::in(c.slice), vk::out(out)}, p, T, 1, 1, label);
  }
}

}  // namespace dlvk::ops
