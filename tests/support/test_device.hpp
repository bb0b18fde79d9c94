// The GPU test device: one per test process, validation layers on (any validation message fails the
// run), capability profile from DLVK_PROFILE. Plus helpers shared by the op tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "vk/device.hpp"
#include "vk/memory.hpp"

namespace dlvk::test {

vk::Device& device();

// Device-local arena for a test; freed at the end of the test.
struct Buffers {
  vk::Arena arena{device(), vk::MemoryKind::device, 64ull << 20, "test"};
  vk::BufferSlice f32(std::span<const float> v);             // upload
  vk::BufferSlice nan(size_t count);                          // count floats filled with NaN
  vk::BufferSlice u32(std::span<const uint32_t> v);
};
std::vector<float> read_f32(const vk::BufferSlice& s, size_t count);

// The test device's capabilities, for a test to clamp or flip (forcing a fallback or another kernel
// plan); all restored when this goes out of scope, also when a check throws.
class CapsOverride {
 public:
  CapsOverride() : caps_(device().caps_for_testing()), saved_(caps_) {}
  ~CapsOverride() { caps_ = saved_; }
  CapsOverride(const CapsOverride&) = delete;
  CapsOverride& operator=(const CapsOverride&) = delete;
  vk::Capabilities* operator->() { return &caps_; }
  vk::Capabilities& operator*() { return caps_; }

 private:
  vk::Capabilities& caps_;
  const vk::Capabilities saved_;
};

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f);

// Normalized mean squared error sum((a-b)^2) / sum(b^2) and max absolute error, vs reference b.
struct ErrorStats {
  double nmse = 0, max_abs = 0, max_ref = 0;
  bool has_nan = false;
};
ErrorStats compare(std::span<const float> got, std::span<const double> ref);

}  // namespace dlvk::test
