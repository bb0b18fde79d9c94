// dlvk devices: every Vulkan device with the capabilities dlvk's kernels choose from, and which one a
// run would pick.
//   dlvk devices [--profile native|minimal|mobile-like] [--json]
// Validation layers stay off (this only reads properties). No loader or no device is a one-line error.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "dlvk/error.hpp"
#include "vk/device.hpp"

namespace {

struct Options {
  std::string profile;
  bool json = false;
};


std::string api_string(uint32_t v) {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

std::string bytes_string(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{} bytes ({:.1f} GiB)", b, double(b) / double(1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{} bytes ({:.1f} MiB)", b, double(b) / double(1ull << 20));
  if (b >= (1ull << 10)) return fmt::format("{} bytes ({:.1f} KiB)", b, double(b) / double(1ull << 10));
  return fmt::format("{} bytes", b);
}

const char* yes(bool b) { return b ? "yes" : "no"; }

const char* cpu_matvec_name(dlvk::vk::Capabilities::CpuMatvec m) {
  using M = dlvk::vk::Capabilities::CpuMatvec;
  return m == M::split_k ? "split_k" : m == M::rows ? "rows" : "by_residency";
}

const char* gpu_matvec_name(dlvk::vk::Capabilities::GpuMatvec m) {
  return m == dlvk::vk::Capabilities::GpuMatvec::words ? "words" : "wide";
}

const char* coopmat_use_name(dlvk::vk::Capabilities::CoopmatUse u) {
  using U = dlvk::vk::Capabilities::CoopmatUse;
  return u == U::on ? "on" : u == U::emulate ? "emulate" : "off";
}

nlohmann::ordered_json caps_json(const dlvk::vk::Capabilities& c) {
  nlohmann::ordered_json heaps = nlohmann::ordered_json::array();
  for (const auto& h : c.heaps) heaps.push_back({{"size", h.size}, {"device_local", h.device_local}});
  return {
      {"profile", c.profile},
      {"subgroup_size", c.subgroup_size},
      {"subgroup_basic", c.subgroup_basic},
      {"subgroup_arithmetic", c.subgroup_arithmetic},
      {"subgroup_shuffle", c.subgroup_shuffle},
      {"shader_float16", c.shader_float16},
      {"shader_int8", c.shader_int8},
      {"storage_16bit", c.storage_16bit},
      {"integer_dot_product", c.integer_dot_product},
      {"cooperative_matrix", c.cooperative_matrix() ? fmt::format("NV {}x{}x{} f16 -> f32", c.coopmat_m, c.coopmat_n, c.coopmat_k) : ""},
      {"coopmat_use", coopmat_use_name(c.coopmat_use)},
      {"max_shared_memory", c.max_shared_memory},
      {"max_storage_buffer_range", c.max_storage_buffer_range},
      {"max_allocation_size", c.max_allocation_size},
      {"min_storage_buffer_offset_alignment", c.min_storage_buffer_offset_alignment},
      {"max_workgroup_invocations", c.max_workgroup_invocations},
      {"max_workgroup_size", {c.max_workgroup_size[0], c.max_workgroup_size[1], c.max_workgroup_size[2]}},
      {"max_workgroup_count", {c.max_workgroup_count[0], c.max_workgroup_count[1], c.max_workgroup_count[2]}},
      {"max_push_constants_size", c.max_push_constants_size},
      {"timestamps", c.timestamps},
      {"timestamp_period_ns", c.timestamp_period_ns},
      {"memory_heaps", heaps},
      {"unified_memory", c.unified_memory},
      {"cpu_quirks", c.cpu_quirks},
      {"host_cpu_vendor", c.host_cpu_vendor},
      {"host_llc_bytes", c.host_llc_bytes},
      {"cpu_matvec", cpu_matvec_name(c.cpu_matvec)},
      {"gpu_matvec", gpu_matvec_name(c.gpu_matvec)},
  };
}

void print_caps(const dlvk::vk::Capabilities& c) {
  std::printf("  subgroups         size %u, basic %s, arithmetic %s (compute stage)\n", c.subgroup_size,
              yes(c.subgroup_basic), yes(c.subgroup_arithmetic));
  std::printf("  arithmetic        float16 %s, int8 %s, integer dot product %s\n", yes(c.shader_float16),
              yes(c.shader_int8), yes(c.integer_dot_product));
  std::printf("  16-bit storage    %s\n", yes(c.storage_16bit));
  using Use = dlvk::vk::Capabilities::CoopmatUse;
  if (c.cooperative_matrix())
    std::printf("  coop. matrices    VK_NV_cooperative_matrix %ux%ux%u f16 -> f32; prefill uses them: %s\n", c.coopmat_m,
                c.coopmat_n, c.coopmat_k, c.coopmat_use == Use::off ? "no (DLVK_COOPMAT=1 turns them on)" : "yes");
  else
    std::printf("  coop. matrices    no%s\n", c.coopmat_use == Use::emulate && !c.cpu_quirks ? " (DLVK_COOPMAT=emulate: prefill emulates them)" : "");
  std::printf("  shared memory     %s per workgroup\n", bytes_string(c.max_shared_memory).c_str());
  std::printf("  storage buffer    range %s, offset alignment %llu bytes\n", bytes_string(c.max_storage_buffer_range).c_str(),
              (unsigned long long)c.min_storage_buffer_offset_alignment);
  std::printf("  max allocation    %s\n", bytes_string(c.max_allocation_size).c_str());
  std::printf("  workgroups        %u invocations, size %u x %u x %u, count %u x %u x %u\n", c.max_workgroup_invocations,
              c.max_workgroup_size[0], c.max_workgroup_size[1], c.max_workgroup_size[2], c.max_workgroup_count[0],
              c.max_workgroup_count[1], c.max_workgroup_count[2]);
  std::printf("  push constants    %u bytes\n", c.max_push_constants_size);
  if (c.timestamps)
    std::printf("  timestamps        yes, period %g ns\n", c.timestamp_period_ns);
  else
    std::printf("  timestamps        no (compute queue has no valid timestamp bits)\n");
  for (size_t h = 0; h < c.heaps.size(); ++h)
    std::printf("  memory heap %-5zu %s%s\n", h, bytes_string(c.heaps[h].size).c_str(),
                c.heaps[h].device_local ? ", device-local" : "");
  std::printf("  unified memory    %s\n", yes(c.unified_memory));
  std::printf("  CPU quirks        %s\n", c.cpu_quirks ? "on (kernels use CPU-friendly variants)" : "off");
  if (!c.cpu_quirks)
    std::printf("  decode matmuls    %s\n", c.gpu_matvec == dlvk::vk::Capabilities::GpuMatvec::wide
                                                ? "16-byte loads (matvec_wide) where K allows (DLVK_GPU_MATVEC=words: 4-byte)"
                                                : "4-byte loads (matvec; DLVK_GPU_MATVEC=words)");
  if (c.cpu_quirks)
    std::printf("  host CPU          %s, last-level cache %s; decode matmuls: %s\n", c.host_cpu_vendor.c_str(),
                c.host_llc_bytes ? bytes_string(c.host_llc_bytes).c_str() : "unknown",
                c.cpu_matvec == dlvk::vk::Capabilities::CpuMatvec::by_residency
                    ? "one weight row per lane on Intel hosts or where the model fits that cache or is quantized, else split K across lanes"
                    : cpu_matvec_name(c.cpu_matvec));
}

void run(const Options& o) {
  // Which profile to show: --profile, else DLVK_PROFILE (what a run would apply), else native.
  std::string profile = o.profile;
  if (profile.empty())
    if (const char* e = std::getenv("DLVK_PROFILE"); e && *e) profile = e;
  if (profile.empty()) profile = "native";
  {
    dlvk::vk::Capabilities probe;
    dlvk::vk::apply_profile(probe, profile);  // unknown names fail here, before touching Vulkan
  }

  dlvk::vk::Instance instance(/*validation=*/false);
  const auto& devices = instance.devices();
  if (devices.empty())
    dlvk::fail(dlvk::Status::no_device,
               "no Vulkan device found (the loader works but reports no devices; install a driver such as "
               "mesa-vulkan-drivers)");

  // The device a run would use: DLVK_DEVICE when set, else the best one.
  int picked = -1;
  std::string picked_by, pick_error;
  if (const char* e = std::getenv("DLVK_DEVICE"); e && *e) {
    int i = std::atoi(e);
    if (i >= 0 && size_t(i) < devices.size()) {
      picked = i;
      picked_by = "DLVK_DEVICE";
    } else {
      pick_error = fmt::format("DLVK_DEVICE={} is out of range ({} device(s))", e, devices.size());
    }
  } else {
    try {
      picked = int(instance.best_device_index());
      picked_by = "best device";
    } catch (const dlvk::Error& err) {
      pick_error = err.what();
    }
  }

  if (o.json) {
    nlohmann::ordered_json out;
    out["devices"] = nlohmann::ordered_json::array();
    for (const auto& d : devices) {
      auto caps = d.caps;
      dlvk::vk::apply_profile(caps, profile);
      nlohmann::ordered_json j{{"index", d.index},
                       {"name", caps.device_name},
                       {"type", caps.type_name()},
                       {"cpu", caps.is_cpu()},
                       {"vendor_id", caps.vendor_id},
                       {"vendor", dlvk::vk::vendor_name(caps.vendor_id)},
                       {"device_id", caps.device_id},
                       {"driver_name", caps.driver_name},
                       {"driver_info", caps.driver_info},
                       {"api_version", api_string(caps.api_version)},
                       {"compute_queue_family", d.compute_queue_family == UINT32_MAX ? -1 : int64_t(d.compute_queue_family)},
                       {"selected", int(d.index) == picked},
                       {"capabilities", caps_json(caps)}};
      out["devices"].push_back(std::move(j));
    }
    out["profile"] = profile;
    out["selected"] = picked >= 0 ? nlohmann::ordered_json(picked) : nlohmann::ordered_json(nullptr);
    if (picked >= 0) {
      out["selected_by"] = picked_by;
      if (devices[picked].caps.is_cpu()) out["note"] = "a CPU Vulkan device: expect low speed";
    } else {
      out["error"] = pick_error;
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%zu Vulkan device(s); capabilities shown for profile %s%s\n", devices.size(), profile.c_str(),
                profile == "native" ? " (as reported by the driver)" : " (clamped)");
    for (const auto& d : devices) {
      auto caps = d.caps;
      dlvk::vk::apply_profile(caps, profile);
      std::printf("\ndevice %u: %s%s\n", d.index, caps.device_name.c_str(), int(d.index) == picked ? "  [selected]" : "");
      std::printf("  type              %s\n", caps.type_name());
      std::printf("  vendor            0x%04x (%s), device id 0x%04x\n", caps.vendor_id, dlvk::vk::vendor_name(caps.vendor_id),
                  caps.device_id);
      std::printf("  driver            %s%s%s\n", caps.driver_name.empty() ? "(not reported)" : caps.driver_name.c_str(),
                  caps.driver_info.empty() ? "" : ", ", caps.driver_info.c_str());
      std::printf("  Vulkan API        %s%s\n", api_string(caps.api_version).c_str(),
                  caps.api_version < VK_API_VERSION_1_1 ? " (too old: dlvk needs 1.1)" : "");
      if (d.compute_queue_family == UINT32_MAX)
        std::printf("  compute queue     none (unusable)\n");
      else
        std::printf("  compute queue     family %u\n", d.compute_queue_family);
      print_caps(caps);
    }
    std::printf("\n");
    if (picked >= 0) {
      const auto& c = devices[picked].caps;
      std::printf("selected: device %d (%s), by %s\n", picked, c.device_name.c_str(), picked_by.c_str());
      if (c.is_cpu()) std::printf("note: device %d is a CPU Vulkan device (%s): expect low speed\n", picked,
                                  c.driver_name.empty() ? c.device_name.c_str() : c.driver_name.c_str());
    }
  }
  std::fflush(stdout);
  if (picked < 0) dlvk::fail(dlvk::Status::no_device, "{}", pick_error);
}

dlvk::cli::RegisterCommand reg([](CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("devices", "List Vulkan devices, their capabilities, and which one dlvk would use");
  sub->add_option("--caps", opts->profile,
                  "Show capabilities clamped by a profile: native, minimal, mobile-like (default: $DLVK_PROFILE or native)");
  sub->add_flag("--json", opts->json, "Print one JSON document instead of text");
  sub->callback([opts] { run(*opts); });
});

}  // namespace
