// doctest main for GPU tests: after all tests, any Vulkan validation message fails the run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "support/test_device.hpp"

int main(int argc, char** argv) {
  doctest::Context ctx(argc, argv);
  int rc = ctx.run();
  if (ctx.shouldExit()) return rc;
  auto& inst = dlvk::test::device().instance();
  std::printf("vulkan validation: %s, %llu message(s), device %s, profile %s\n", inst.validation() ? "on" : "off",
              (unsigned long long)inst.validation_messages(), dlvk::test::device().caps().device_name.c_str(),
              dlvk::test::device().caps().profile.c_str());
  if (inst.validation_messages() > 0) {
    std::fprintf(stderr, "FAIL: %llu Vulkan validation message(s); last: %s\n",
                 (unsigned long long)inst.validation_messages(), inst.last_validation_message().c_str());
    return rc ? rc : 1;
  }
  return rc;
}
