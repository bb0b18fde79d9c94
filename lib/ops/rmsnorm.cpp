#include "ops/rmsnorm.hpp"

#include <algorithm>

namespace dlvk::ops {

void record_rmsnorm(vk::Recorder& rec, const RmsNormArgs& a, std::string_view label) {
  struct Push {
    uint32_t n, ldx, ldo;
    float eps;
  } p{a.n, a.ldx, a.ldo, a.eps};
  bool has_w = a.weight.valid(), has_r = a.residual.valid();
  uint32_t wg = std::min<uint32_t>(128, rec.device().caps().max_workgroup_invocations);
  const auto& k = rec.device().kernel({"rmsnorm", {wg, has_w, has_r}, 4, sizeof(Push)});
  rec.dispatch(k,
               {has_r ? vk::inout(a.x) : vk::in(a.x), vk::in(has_r ? a.residual : a.x), vk::in(has_w ? a.weight : a.x),
                vk::out(a.out)},
               p, a.rows, 1, 1, label);
}

}  // namespace dlvk::ops
