// The runtime pieces under the kernels: pipeline cache persistence, barrier placement, replay,
// and errors for impossible requests (out of memory, oversize bindings).
#include <cstdlib>
#include <filesystem>

#include "ops/elementwise.hpp"
#include "ops/op_util.hpp"
#include "vk/kernel.hpp"
#include "vk/recorder.hpp"

using namespace dlvk;

TEST_CASE("runtime: the device has the subgroup size the test run asks for (DLVK_TEST_SUBGROUP_SIZE)") {
  // ctest runs the op tests on lavapipe with other vector widths too (tests.cmake); this makes sure the
  // driver really changed its subgroup size, so those runs test what they claim.
  const char* want = std::getenv("DLVK_TEST_SUBGROUP_SIZE");
  if (!want) return;
  const auto& caps = test::device().caps();
  if (caps.driver_name != "llvmpipe") {
    MESSAGE("DLVK_TEST_SUBGROUP_SIZE applies to lavapipe only; this device is " << caps.device_name);
    return;
  }
  CHECK(caps.subgroup_size == uint32_t(std::atoi(want)));
}

TEST_CASE("runtime: subgroup builtins as the kernels assume them (ids, counts, subgroupAdd)") {
  // The host sizes kernels by Capabilities::subgroup_size, and the matmul and attention kernels split
  // workgroups by gl_SubgroupID / gl_NumSubgroups and reduce with subgroupAdd. This checks the driver's
  // view for the workgroup sizes they use: ceil(workgroup / size) subgroups, ids below that count, lanes
  // below the size, and subgroupAdd(1) equal to the invocations sharing an id. It caught lavapipe running
  // code that Mesa's shader cache had kept from another LP_NATIVE_VECTOR_WIDTH (8 lanes where the device
  // said 4: the cache key of a shader that does not read gl_SubgroupSize ignores the width), which is why
  // tests/ops/tests.cmake gives each width its own cache.
  auto& dev = test::device();
  if (!dev.caps().subgroup_arithmetic) return;
  const uint32_t sgs = dev.caps().subgroup_size;
  for (uint32_t wg : {32u, 64u, 128u, 256u}) {
    if (wg > dev.caps().max_workgroup_invocations) continue;
    test::Buffers buf;
    const uint32_t groups = 3, n = wg * groups, subgroups = (wg + sgs - 1) / sgs;
    auto out = buf.arena.allocate(size_t(n) * 16, "probe");
    vk::Recorder rec(dev);
    const uint32_t push = 0;
    rec.dispatch(dev.kernel({"subgroup_probe", {wg}, 1, 4}), {vk::out(out)}, push, groups, 1, 1, "probe");
    rec.finish()->run();
    std::vector<uint32_t> got(size_t(n) * 4);
    vk::download(dev, out, got.data(), got.size() * 4);
    int wrong = 0;
    for (uint32_t g = 0; g < groups; ++g) {
      const uint32_t* v0 = &got[size_t(g) * wg * 4];
      std::vector<uint32_t> members(subgroups + 1, 0);
      for (uint32_t l = 0; l < wg; ++l) members[std::min(v0[l * 4], subgroups)]++;
      for (uint32_t l = 0; l < wg; ++l) {
        const uint32_t* v = v0 + l * 4;
        const bool ok = v[0] < subgroups && v[1] == subgroups && v[2] < sgs && v[3] == members[v[0]];
        if (!ok && wrong++ < 4)
          MESSAGE("workgroup size " << wg << ", invocation " << l << ": subgroup " << v[0] << " of " << v[1] << ", lane "
                                    << v[2] << ", subgroupAdd(1) " << v[3] << " (device: subgroup size " << sgs << ")");
      }
    }
    CHECK_MESSAGE(wrong == 0, "workgroup size " << wg);
  }
}

TEST_CASE("runtime: the pipeline cache is written on exit and read by the next device") {
  auto dir = std::filesystem::temp_directory_path() / ("dlvk_cache_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::path file;
  {
    vk::DeviceOptions o;
    o.pipeline_cache_dir = dir.string();
    vk::Device dev(o);
    CHECK_FALSE(dev.pipeline_cache().loaded_from_disk());
    dev.kernel({"elementwise", {64, 0}, 3, 4});
    file = dev.pipeline_cache().file();
  }
  CHECK(std::filesystem::exists(file));
  CHECK(std::filesystem::file_size(file) > 0);
  {
    vk::DeviceOptions o;
    o.pipeline_cache_dir = dir.string();
    vk::Device dev(o);
    CHECK(dev.pipeline_cache().loaded_from_disk());
  }
  // An unwritable cache directory costs nothing but the cache.
  {
    vk::DeviceOptions o;
    o.pipeline_cache_dir = "/proc/dlvk-cannot-write-here";
    vk::Device dev(o);
    dev.kernel({"elementwise", {64, 2}, 3, 4});
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("runtime: barriers only between dependent dispatches; a recording replays") {
  auto& dev = test::device();
  test::Buffers buf;
  std::vector<float> a(1000, 1.0f), b(1000, 2.0f);
  auto sa = buf.f32(a), sb = buf.f32(b);
  auto o1 = buf.nan(1000), o2 = buf.nan(1000), o3 = buf.nan(1000);
  vk::Recorder rec(dev);
  ops::record_elementwise(rec, ops::EltOp::add, sa, sb, o1, 1000, "independent 1");
  ops::record_elementwise(rec, ops::EltOp::add, sa, sb, o2, 1000, "independent 2");
  ops::record_elementwise(rec, ops::EltOp::add, o1, o2, o3, 1000, "reads both");
  ops::record_elementwise(rec, ops::EltOp::add, sa, sb, o1, 1000, "overwrites an input of the previous");
  auto seq = rec.finish();
  CHECK(seq->dispatch_count() == 4);
  CHECK(seq->barrier_count() == 2);  // before "reads both" (RAW) and before the overwrite (WAR)
  for (int rep = 0; rep < 3; ++rep) {
    seq->run();
    auto r = test::read_f32(o3, 1000);
    CHECK(r[0] == 6.0f);
    CHECK(r[999] == 6.0f);
  }
}

TEST_CASE("runtime: impossible requests are errors, not crashes") {
  auto& dev = test::device();
  vk::Arena arena(dev, vk::MemoryKind::device, 1 << 20, "test");
  try {
    arena.allocate(uint64_t(1) << 44, "a 16 TiB tensor");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.status() == Status::out_of_device_memory);
    CHECK(std::string(e.what()).find("16 TiB tensor") != std::string::npos);
  }
  // A binding larger than maxStorageBufferRange is refused when recorded.
  auto big = arena.allocate(4096, "big");
  {
    test::CapsOverride caps;
    caps->max_storage_buffer_range = 1024;
    vk::Recorder rec(dev);
    CHECK_THROWS_AS(ops::record_elementwise(rec, ops::EltOp::add, big, big, big, 1024, "oversize"), Error);
  }
  vk::Capabilities copy = dev.caps();
  CHECK_THROWS_AS(vk::apply_profile(copy, "no-such-profile"), Error);
}
