// C API: status and errors, version, device list, sampler.
#include <cstdlib>
#include <string>

#include "capi/capi_internal.hpp"
#include "dlvk/sampler.hpp"

using namespace dlvk;
using dlvk::capi::guard;
using dlvk::capi::need;

// The C enums mirror the C++ ones value for value.
static_assert(DLVK_OK == int(Status::ok) && DLVK_INVALID_ARGUMENT == int(Status::invalid_argument) &&
              DLVK_IO_ERROR == int(Status::io_error) && DLVK_BAD_MODEL == int(Status::bad_model) &&
              DLVK_UNSUPPORTED == int(Status::unsupported) && DLVK_NO_DEVICE == int(Status::no_device) &&
              DLVK_OUT_OF_MEMORY == int(Status::out_of_device_memory) &&
              DLVK_VULKAN_ERROR == int(Status::vulkan_error) && DLVK_CONTEXT_FULL == int(Status::context_full) &&
              DLVK_CANCELLED == int(Status::cancelled) && DLVK_INTERNAL == int(Status::internal));
static_assert(int(DLVK_DEVICE_OTHER) == int(VK_PHYSICAL_DEVICE_TYPE_OTHER) &&
              int(DLVK_DEVICE_INTEGRATED_GPU) == int(VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU) &&
              int(DLVK_DEVICE_DISCRETE_GPU) == int(VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU) &&
              int(DLVK_DEVICE_VIRTUAL_GPU) == int(VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU) &&
              int(DLVK_DEVICE_CPU) == int(VK_PHYSICAL_DEVICE_TYPE_CPU));
#ifdef DLVK_PROJECT_VERSION
static_assert(std::string_view(DLVK_VERSION_STRING) == DLVK_PROJECT_VERSION,
              "dlvk.h's DLVK_VERSION_* must match project(dlvk VERSION ...) in CMakeLists.txt");
#endif

namespace dlvk::capi {

namespace {
thread_local std::string last_error;
}

dlvk_status set_error(const char* function, dlvk_status status, const char* message) noexcept {
  try {
    last_error = function;
    last_error += ": ";
    last_error += message;
    for (char& c : last_error)
      if (c == '\n' || c == '\r') c = ' ';
  } catch (...) {
    last_error.clear();  // out of memory for the message itself: the status still says what happened
  }
  return status;
}

void clear_error() noexcept { last_error.clear(); }

std::mutex& instance_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace dlvk::capi

extern "C" {

const char* dlvk_version(void) { return DLVK_VERSION_STRING; }

int dlvk_version_number(void) { return DLVK_VERSION; }

const char* dlvk_status_name(dlvk_status status) {
  if (int(status) < DLVK_OK || int(status) > DLVK_INTERNAL) return "unknown";
  return status_name(static_cast<Status>(status));
}

const char* dlvk_last_error(void) { return capi::last_error.c_str(); }

// ---- devices ----

}  // extern "C"

namespace {


}  // namespace

struct dlvk_device_list {
  struct Entry {
    dlvk_device_info info{};
    std::string name, type_name, driver_name, driver_info, profile;
  };
  std::vector<Entry> entries;
};

extern "C" {

dlvk_status dlvk_device_list_create(const char* profile, dlvk_device_list** out_list) {
  return guard(__func__, [&] {
    need(out_list, "out_list");
    std::string prof = profile ? profile : "";
    if (prof.empty())
      if (const char* e = std::getenv("DLVK_PROFILE"); e && *e) prof = e;
    if (prof.empty()) prof = "native";
    {
      vk::Capabilities probe;
      vk::apply_profile(probe, prof);  // unknown names fail before Vulkan is touched
    }
    std::unique_lock<std::mutex> lock(capi::instance_mutex());
    vk::Instance instance(/*validation=*/false);
    lock.unlock();
    const auto& devices = instance.devices();
    if (devices.empty())
      fail(Status::no_device, "no Vulkan device found (the loader works but reports no devices; install a driver)");
    int picked = -1;
    if (const char* e = std::getenv("DLVK_DEVICE"); e && *e) {
      int i = std::atoi(e);
      if (i >= 0 && size_t(i) < devices.size()) picked = i;
    } else {
      try {
        picked = int(instance.best_device_index());
      } catch (const Error&) {
        picked = -1;  // no usable device: none is selected
      }
    }
    auto list = std::make_unique<dlvk_device_list>();
    for (const auto& d : devices) {
      vk::Capabilities c = d.caps;
      vk::apply_profile(c, prof);
      dlvk_device_list::Entry e;
      e.name = c.device_name;
      e.type_name = c.type_name();
      e.driver_name = c.driver_name;
      e.driver_info = c.driver_info;
      e.profile = c.profile;
      dlvk_device_info& i = e.info;
      i.index = d.index;
      i.type = static_cast<dlvk_device_type>(c.type);
      i.vendor_id = c.vendor_id;
      i.device_id = c.device_id;
      i.api_version = c.api_version;
      i.usable = c.api_version >= VK_API_VERSION_1_1 && d.compute_queue_family != UINT32_MAX;
      i.selected = int(d.index) == picked;
      for (const auto& h : c.heaps) (h.device_local ? i.device_local_memory : i.host_memory) += h.size;
      i.unified_memory = c.unified_memory;
      i.subgroup_size = c.subgroup_size;
      i.subgroup_basic = c.subgroup_basic;
      i.subgroup_arithmetic = c.subgroup_arithmetic;
      i.shader_float16 = c.shader_float16;
      i.shader_int8 = c.shader_int8;
      i.storage_16bit = c.storage_16bit;
      i.integer_dot_product = c.integer_dot_product;
      i.max_shared_memory = c.max_shared_memory;
      i.max_storage_buffer_range = c.max_storage_buffer_range;
      i.max_allocation_size = c.max_allocation_size;
      i.max_workgroup_invocations = c.max_workgroup_invocations;
      for (int k = 0; k < 3; ++k) i.max_workgroup_size[k] = c.max_workgroup_size[k];
      i.timestamps = c.timestamps;
      list->entries.push_back(std::move(e));
    }
    *out_list = list.release();
  });
}

dlvk_status dlvk_device_list_count(const dlvk_device_list* list, size_t* out_count) {
  return guard(__func__, [&] {
    need(list, "list");
    need(out_count, "out_count");
    *out_count = list->entries.size();
  });
}

dlvk_status dlvk_device_list_get(const dlvk_device_list* list, size_t index, dlvk_device_info* out_info) {
  return guard(__func__, [&] {
    need(list, "list");
    need(out_info, "out_info");
    if (index >= list->entries.size())
      fail(Status::invalid_argument, "device {} out of range ({} device(s))", index, list->entries.size());
    const auto& e = list->entries[index];
    dlvk_device_info i = e.info;
    i.name = e.name.c_str();
    i.vendor_name = vk::vendor_name(i.vendor_id);
    i.type_name = e.type_name.c_str();
    i.driver_name = e.driver_name.c_str();
    i.driver_info = e.driver_info.c_str();
    i.profile = e.profile.c_str();
    *out_info = i;
  });
}

void dlvk_device_list_free(dlvk_device_list* list) { delete list; }

// ---- sampler ----

}  // extern "C"

struct dlvk_sampler {
  explicit dlvk_sampler(const SamplingParams& p) : sampler(p) {}
  Sampler sampler;
};

namespace dlvk::capi {
SamplingParams sampling_from_c(const dlvk_sampling_params& p) {
  SamplingParams s;
  s.temperature = p.temperature;
  s.top_k = p.top_k;
  s.top_p = p.top_p;
  s.min_p = p.min_p;
  s.repeat_penalty = p.repeat_penalty;
  s.repeat_last_n = p.repeat_last_n;
  s.seed = p.seed;
  return s;
}
}  // namespace dlvk::capi

extern "C" {

dlvk_sampling_params dlvk_sampling_params_default(void) {
  SamplingParams s;
  dlvk_sampling_params p;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.min_p = s.min_p;
  p.repeat_penalty = s.repeat_penalty;
  p.repeat_last_n = s.repeat_last_n;
  p.seed = s.seed;
  return p;
}

dlvk_status dlvk_sampler_create(const dlvk_sampling_params* params, dlvk_sampler** out_sampler) {
  return guard(__func__, [&] {
    need(params, "params");
    need(out_sampler, "out_sampler");
    *out_sampler = new dlvk_sampler(capi::sampling_from_c(*params));
  });
}

dlvk_status dlvk_sampler_sample(dlvk_sampler* sampler, const float* logits, size_t vocab_size, const int32_t* history,
                                size_t history_count, int32_t* out_token) {
  return guard(__func__, [&] {
    need(sampler, "sampler");
    need(logits, "logits");
    need(out_token, "out_token");
    if (history_count) need(history, "history");
    if (vocab_size == 0) fail(Status::invalid_argument, "vocab_size is 0");
    if (vocab_size > size_t(INT32_MAX)) fail(Status::invalid_argument, "vocab_size {} is too large", vocab_size);
    *out_token = sampler->sampler.sample({logits, vocab_size}, {history, history_count});
  });
}

dlvk_status dlvk_sampler_reset(dlvk_sampler* sampler, uint64_t seed) {
  return guard(__func__, [&] {
    need(sampler, "sampler");
    sampler->sampler.reset(seed);
  });
}

void dlvk_sampler_free(dlvk_sampler* sampler) { delete sampler; }

}  // extern "C"
