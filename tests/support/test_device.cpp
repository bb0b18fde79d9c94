#include "support/test_device.hpp"

#include <cstdlib>
#include <limits>

namespace dlvk::test {

vk::Device& device() {
  static vk::Device* d = [] {
    vk::DeviceOptions o;
    const char* v = std::getenv("DLVK_VALIDATION");
    o.validation = (v && std::string(v) == "0") ? 0 : 1;  // on unless explicitly turned off
    o.pipeline_cache_dir.assign(1, '-');  // "-": no on-disk cache in tests
    return new vk::Device(o);  // lives until exit; gpu_main checks its validation count
  }();
  return *d;
}

vk::BufferSlice Buffers::f32(std::span<const float> v) {
  auto s = arena.allocate(v.size_bytes(), "test input");
  vk::upload(device(), s, v.data(), v.size_bytes());
  return s;
}

vk::BufferSlice Buffers::nan(size_t count) {
  auto s = arena.allocate(count * 4, "test output");
  vk::fill(device(), s, 0x7fc00000u);
  return s;
}

vk::BufferSlice Buffers::u32(std::span<const uint32_t> v) {
  auto s = arena.allocate(v.size_bytes(), "test input");
  vk::upload(device(), s, v.data(), v.size_bytes());
  return s;
}

std::vector<float> read_f32(const vk::BufferSlice& s, size_t count) {
  std::vector<float> out(count);
  vk::download(device(), s, out.data(), count * 4);
  return out;
}

std::vector<float> random_floats(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

ErrorStats compare(std::span<const float> got, std::span<const double> ref) {
  ErrorStats e;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) e.has_nan = true;
    double d = double(got[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
    e.max_abs = std::max(e.max_abs, std::abs(d));
    e.max_ref = std::max(e.max_ref, std::abs(ref[i]));
  }
  e.nmse = den > 0 ? num / den : num;
  if (e.has_nan) e.nmse = e.max_abs = std::numeric_limits<double>::infinity();
  return e;
}

}  // namespace dlvk::test
