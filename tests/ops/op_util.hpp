// Helpers for op tests: weights in a stored dtype plus the f32 values the reference must use.
#pragma once
#include <cstring>
#include <doctest/doctest.h>

#include "dlvk/dtype.hpp"
#include "ops/weights.hpp"
#include "ref/ref.hpp"
#include "support/test_device.hpp"

namespace dlvk::test {

// Rounds `values` to dtype; returns the raw bytes to upload, and replaces values with what they became.
inline std::vector<uint8_t> encode(std::vector<float>& values, DType dt) {
  std::vector<uint8_t> bytes(values.size() * size_of(dt));
  for (size_t i = 0; i < values.size(); ++i) values[i] = store_as(dt, values[i], &bytes[i * size_of(dt)]);
  return bytes;
}

#define CHECK_CLOSE_NMSE(stats, tol)                                                                   \
  do {                                                                                                  \
    INFO("nmse " << (stats).nmse << " max_abs " << (stats).max_abs << " max_ref " << (stats).max_ref); \
    CHECK_FALSE((stats).has_nan);                                                                      \
    CHECK((stats).nmse <= (tol));                                                                      \
  } while (0)

}  // namespace dlvk::test
