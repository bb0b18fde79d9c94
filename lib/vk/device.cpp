#include "vk/device.hpp"

#if defined(__linux__)
#include <dlfcn.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "vk/kernel.hpp"

namespace dlvk::vk {

namespace {

// The host processor's vendor, which CPU Vulkan implementations run on (shown by dlvk devices / bench:
// measurements of CPU-device kernels depend on the host).
std::string host_cpu_vendor() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx)) {
    char id[13] = {};
    std::memcpy(id, &ebx, 4);
    std::memcpy(id + 4, &edx, 4);
    std::memcpy(id + 8, &ecx, 4);
    if (std::strcmp(id, "GenuineIntel") == 0) return "Intel";
    if (std::strcmp(id, "AuthenticAMD") == 0 || std::strcmp(id, "HygonGenuine") == 0) return "AMD";
  }
#endif
  return "unknown";
}

// The host's last-level cache in bytes, from Linux sysfs (0 where unknown).
uint64_t host_llc_bytes() {
  uint64_t best = 0;
  int best_level = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::FILE* lf = std::fopen((dir + "level").c_str(), "r");
    if (!lf) break;
    int level = 0;
    const bool got_level = std::fscanf(lf, "%d", &level) == 1;
    std::fclose(lf);
    std::FILE* sf = std::fopen((dir + "size").c_str(), "r");
    if (!sf) continue;
    unsigned long long size = 0;
    char unit = 0;
    const int n = std::fscanf(sf, "%llu%c", &size, &unit);
    std::fclose(sf);
    if (!got_level || n < 1) continue;
    const uint64_t bytes = size * (unit == 'K' ? 1024ull : unit == 'M' ? 1048576ull : 1ull);
    if (level > best_level || (level == best_level && bytes > best)) best = bytes, best_level = level;
  }
  return best;
}

// The choice named by environment variable `name` among `choices` ("what": how the error names them);
// unset or empty: the first.
template <typename E, size_t N>
E env_choice(const char* name, const std::pair<const char*, E> (&choices)[N], const char* what) {
  const char* v = std::getenv(name);
  if (!v || !*v) return choices[0].second;
  std::string known;
  for (const auto& [text, value] : choices) {
    if (std::strcmp(v, text) == 0) return value;
    known += (known.empty() ? "" : ", ") + std::string(text);
  }
  fail(Status::invalid_argument, "{}='{}' is not {} (known: {})", name, v, what, known);
}

// How CPU implementations run decode matmuls. Measured with lavapipe (Mesa 22.3.6, LLVM 15, 2 cores),
// `DLVK_CPU_MATVEC=... dlvk bench --synthetic SHAPE -p 0 -n 32`, tg t/s split K vs rows, interleaved:
//   AMD EPYC host:                   M (300 MB) 30.1 vs 22.7, 1.24B (2.5 GB) 4.4-5.0 vs 2.9-3.3
//   Intel Xeon host, 480 MiB of L3:  S (107 MB) 42 vs 56, M 14.2 vs 17.5 (q4_0 S 54 vs 63, M 17.4 vs 18.6);
//                                    1.24B 3.83 vs 3.62 and 3.68 vs 3.65 (two runs), q8_0 3.21 vs 3.01,
//                                    q4_0 3.14 vs 3.36: about equal
//   Intel, after the rows kernel's X shuffle (2026-12-07, -n 16, two runs each):
//                                    1.24B f16 4.29 / 3.83 vs 4.14 / 4.03, q8_0 3.31 / 3.37 vs 4.50 / 4.51,
//                                    q4_0 4.28 / 3.92 vs 5.12 / 5.09; after its batched weight fetches:
//                                    f16 4.31 / 4.40 vs 4.63 / 4.67, then 4.26 / 4.41 vs 5.89 / 5.50
//                                    (a chunk's fetches batched); AMD not measured since
// Rows win where the weights stay in the last-level cache; where unquantized weights stream from memory
// split K won on AMD (whose VM's cache holds neither model) and rows now win on Intel: `by_residency`
// takes rows on Intel hosts and decides per model elsewhere. Quantized weights take rows everywhere
// (split K decodes them no faster per weight than f16).
Capabilities::CpuMatvec cpu_matvec_from_env() {
  using M = Capabilities::CpuMatvec;
  static const std::pair<const char*, M> choices[] = {{"by_residency", M::by_residency}, {"split_k", M::split_k}, {"rows", M::rows}};
  return env_choice("DLVK_CPU_MATVEC", choices, "a decode matmul choice");
}

Capabilities::GpuMatvec gpu_matvec_from_env() {
  using M = Capabilities::GpuMatvec;
  static const std::pair<const char*, M> choices[] = {{"wide", M::wide}, {"words", M::words}};
  return env_choice("DLVK_GPU_MATVEC", choices, "a decode matmul choice");
}

Capabilities::CoopmatUse coopmat_use_from_env() {
  using U = Capabilities::CoopmatUse;
  static const std::pair<const char*, U> choices[] = {{"0", U::off}, {"1", U::on}, {"emulate", U::emulate}};
  return env_choice("DLVK_COOPMAT", choices, "a cooperative-matrix choice");
}

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strcmp(v, "0") != 0 && std::strcmp(v, "false") != 0 && std::strcmp(v, "off") != 0;
}

// DLVK_VULKAN_LOADER=PATH opens that loader library instead of the system's libvulkan (an app that
// ships its own loader; tests use a path that does not exist to check the "no loader" error).
VkResult open_loader() {
#if defined(__linux__)
  if (const char* path = std::getenv("DLVK_VULKAN_LOADER"); path && *path) {
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    auto gipa = lib ? reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr")) : nullptr;
    if (!gipa) return VK_ERROR_INITIALIZATION_FAILED;
    volkInitializeCustom(gipa);
    return VK_SUCCESS;
  }
#endif
  return volkInitialize();
}

void load_loader() {
  static VkResult result = open_loader();
  if (result != VK_SUCCESS) {
    if (const char* path = std::getenv("DLVK_VULKAN_LOADER"); path && *path)
      fail(Status::no_device, "no Vulkan loader found (DLVK_VULKAN_LOADER={} could not be opened)", path);
    fail(Status::no_device, "no Vulkan loader found (libvulkan.so.1 could not be opened); install a Vulkan driver");
  }
}

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

bool has_instance_extension(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
  for (auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

std::vector<std::string> device_extensions(VkPhysicalDevice pd) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
  std::vector<std::string> names;
  for (auto& e : exts) names.emplace_back(e.extensionName);
  return names;
}

bool contains(const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); }

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

Capabilities query_caps(VkPhysicalDevice pd, const std::vector<std::string>& exts) {
  Capabilities c;
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceMaintenance3Properties maint3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props2.pNext = &subgroup;
  subgroup.pNext = &maint3;
  bool has_driver_props = contains(exts, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
  if (has_driver_props) maint3.pNext = &driver;
  vkGetPhysicalDeviceProperties2(pd, &props2);
  const auto& p = props2.properties;

  c.device_name = p.deviceName;
  c.type = p.deviceType;
  c.vendor_id = p.vendorID;
  c.device_id = p.deviceID;
  c.api_version = p.apiVersion;
  if (has_driver_props) {
    c.driver_name = driver.driverName;
    c.driver_info = driver.driverInfo;
  }
  c.subgroup_size = subgroup.subgroupSize;
  bool compute = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
  c.subgroup_basic = compute && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
  c.subgroup_arithmetic = compute && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  c.subgroup_shuffle = compute && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);

  VkPhysicalDeviceShaderFloat16Int8Features f16i8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceFeatures2 feats2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  feats2.pNext = &s16;
  bool has_f16i8 = c.api_version >= VK_API_VERSION_1_2 || contains(exts, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  if (has_f16i8) s16.pNext = &f16i8;
  // Cooperative matrices: glslang's GL_NV_cooperative_matrix code uses the Vulkan memory model, so the
  // device needs that feature too (core in 1.2, else VK_KHR_vulkan_memory_model).
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  VkPhysicalDeviceVulkanMemoryModelFeatures memory_model{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
  const bool has_coopmat = contains(exts, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME) &&
                           vkGetPhysicalDeviceCooperativeMatrixPropertiesNV != nullptr &&
                           (c.api_version >= VK_API_VERSION_1_2 || contains(exts, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME));
  if (has_coopmat) {
    memory_model.pNext = feats2.pNext;
    coopmat.pNext = &memory_model;
    feats2.pNext = &coopmat;
  }
  vkGetPhysicalDeviceFeatures2(pd, &feats2);
  c.shader_float16 = has_f16i8 && f16i8.shaderFloat16;
  VkPhysicalDeviceCooperativeMatrixPropertiesNV coopmat_props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_NV};
  if (has_coopmat) {
    VkPhysicalDeviceProperties2 cp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    cp.pNext = &coopmat_props;
    vkGetPhysicalDeviceProperties2(pd, &cp);
  }
  if (has_coopmat && coopmat.cooperativeMatrix && memory_model.vulkanMemoryModel && c.shader_float16 &&
      c.subgroup_arithmetic && (coopmat_props.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT)) {
    // f16 A and B, f32 C and D, subgroup scope; the largest N of the shapes with m = k = 16.
    uint32_t n = 0;
    vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &n, nullptr);
    std::vector<VkCooperativeMatrixPropertiesNV> shapes(n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
    vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &n, shapes.data());
    for (const auto& s : shapes)
      if (s.AType == VK_COMPONENT_TYPE_FLOAT16_NV && s.BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
          s.CType == VK_COMPONENT_TYPE_FLOAT32_NV && s.DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
          s.scope == VK_SCOPE_SUBGROUP_NV && s.MSize == 16 && s.KSize == 16 && (s.NSize == 8 || s.NSize == 16) &&
          s.NSize > c.coopmat_n) {
        c.coopmat_m = s.MSize;
        c.coopmat_n = s.NSize;
        c.coopmat_k = s.KSize;
      }
  }
  c.shader_int8 = has_f16i8 && f16i8.shaderInt8;
  c.storage_16bit = s16.storageBuffer16BitAccess;
  c.integer_dot_product = contains(exts, "VK_KHR_shader_integer_dot_product");

  c.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  c.max_storage_buffer_range = p.limits.maxStorageBufferRange;
  c.max_allocation_size = maint3.maxMemoryAllocationSize;
  c.min_storage_buffer_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
  c.max_uniform_buffer_range = p.limits.maxUniformBufferRange;
  c.min_uniform_buffer_offset_alignment = p.limits.minUniformBufferOffsetAlignment;
  c.max_texel_buffer_elements = p.limits.maxTexelBufferElements;
  c.min_texel_buffer_offset_alignment = p.limits.minTexelBufferOffsetAlignment;
  c.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    c.max_workgroup_size[i] = p.limits.maxComputeWorkGroupSize[i];
    c.max_workgroup_count[i] = p.limits.maxComputeWorkGroupCount[i];
  }
  c.max_push_constants_size = p.limits.maxPushConstantsSize;
  c.timestamp_period_ns = p.limits.timestampPeriod;

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
  for (auto& q : qf)
    if ((q.queueFlags & VK_QUEUE_COMPUTE_BIT) && q.timestampValidBits > 0 && p.limits.timestampComputeAndGraphics)
      c.timestamps = true;

  VkPhysicalDeviceMemoryProperties mem{};
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  bool uma = true;
  for (uint32_t h = 0; h < mem.memoryHeapCount; ++h) {
    bool local = mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
    c.heaps.push_back({mem.memoryHeaps[h].size, local});
    if (!local) continue;
    bool host_visible = false;
    for (uint32_t t = 0; t < mem.memoryTypeCount; ++t)
      if (mem.memoryTypes[t].heapIndex == h && (mem.memoryTypes[t].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
          (mem.memoryTypes[t].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
        host_visible = true;
    uma = uma && host_visible;
  }
  c.unified_memory = uma;
  c.cpu_quirks = c.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  if (c.cpu_quirks) {
    const char* lp = std::getenv("LP_NUM_THREADS");
    c.cpu_threads = lp && std::atoi(lp) > 0 ? uint32_t(std::atoi(lp)) : std::max(1u, std::thread::hardware_concurrency());
    c.host_cpu_vendor = host_cpu_vendor();
    c.host_llc_bytes = host_llc_bytes();
  }
  // Read for every device, so a bad $DLVK_CPU_MATVEC (etc.) is an error on any machine.
  c.cpu_matvec = cpu_matvec_from_env();
  c.coopmat_use = coopmat_use_from_env();
  c.gpu_matvec = gpu_matvec_from_env();
  return c;
}

}  // namespace

const char* Capabilities::type_name() const {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

const char* vendor_name(uint32_t vendor_id) {
  switch (vendor_id) {
    case 0x1002: return "AMD";
    case 0x1010: return "Imagination";
    case 0x106B: return "Apple";
    case 0x10DE: return "NVIDIA";
    case 0x13B5: return "ARM";
    case 0x14E4: return "Broadcom";
    case 0x5143: return "Qualcomm";
    case 0x8086: return "Intel";
    case 0x10005: return "Mesa";  // VK_VENDOR_ID_MESA (lavapipe, venus, ...)
    default: return "unknown";
  }
}

std::vector<std::string> profile_names() { return {"native", "minimal", "mobile-like"}; }

void apply_profile(Capabilities& c, std::string_view profile) {
  if (profile.empty() || profile == "native") return;
  if (profile == "minimal") {
    c.max_shared_memory = std::min<uint32_t>(c.max_shared_memory, 16384);
    c.subgroup_basic = c.subgroup_arithmetic = c.subgroup_shuffle = false;
    c.shader_float16 = false;
    c.storage_16bit = false;
    c.integer_dot_product = false;
    c.coopmat_m = c.coopmat_n = c.coopmat_k = 0;
    c.max_uniform_buffer_range = std::min<uint32_t>(c.max_uniform_buffer_range, 16384);  // Vulkan's minimums
    c.max_texel_buffer_elements = std::min<uint32_t>(c.max_texel_buffer_elements, 65536);
    c.max_storage_buffer_range = std::min<uint64_t>(c.max_storage_buffer_range, 64ull << 20);
    c.max_workgroup_invocations = std::min<uint32_t>(c.max_workgroup_invocations, 128);
    c.max_workgroup_size[0] = std::min<uint32_t>(c.max_workgroup_size[0], 128);
    c.cpu_quirks = false;
  } else if (profile == "mobile-like") {
    c.max_shared_memory = std::min<uint32_t>(c.max_shared_memory, 32768);
    c.cpu_quirks = false;
    c.max_storage_buffer_range = std::min<uint64_t>(c.max_storage_buffer_range, 128ull << 20);
    c.max_workgroup_invocations = std::min<uint32_t>(c.max_workgroup_invocations, 256);
    c.max_workgroup_size[0] = std::min<uint32_t>(c.max_workgroup_size[0], 256);
  } else {
    fail(Status::invalid_argument, "unknown capability profile '{}' (known: native, minimal, mobile-like)", profile);
  }
  c.profile = std::string(profile);
}

Instance::Instance(bool validation) : validation_(validation) {
  load_loader();
  uint32_t loader_version = VK_API_VERSION_1_0;
  if (vkEnumerateInstanceVersion) vkEnumerateInstanceVersion(&loader_version);
  if (loader_version < VK_API_VERSION_1_1)
    fail(Status::no_device, "Vulkan loader supports only API {}.{}; dlvk needs Vulkan 1.1",
         VK_API_VERSION_MAJOR(loader_version), VK_API_VERSION_MINOR(loader_version));

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "dlvk";
  app.pEngineName = "dlvk";
  app.apiVersion = std::min<uint32_t>(loader_version, VK_API_VERSION_1_3);

  std::vector<const char*> layers, extensions;
  if (validation_) {
    if (!has_layer("VK_LAYER_KHRONOS_validation"))
      fail(Status::no_device, "validation requested but VK_LAYER_KHRONOS_validation is not installed (package vulkan-validationlayers)");
    layers.push_back("VK_LAYER_KHRONOS_validation");
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  // MoltenVK (Apple) exposes its devices only to instances that opt into portability enumeration.
  if (has_instance_extension("VK_KHR_portability_enumeration")) {
    extensions.push_back("VK_KHR_portability_enumeration");
    ci.flags |= 0x00000001;  // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
  }
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = uint32_t(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = uint32_t(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  VkResult r = vkCreateInstance(&ci, nullptr, &instance_);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER) fail(Status::no_device, "no Vulkan driver installed (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER)");
  check(r, "vkCreateInstance");
  volkLoadInstance(instance_);

  if (validation_) {
    VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = &Instance::on_message;
    mi.pUserData = this;
    check(vkCreateDebugUtilsMessengerEXT(instance_, &mi, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
  }

  uint32_t n = 0;
  check(vkEnumeratePhysicalDevices(instance_, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> pds(n);
  check(vkEnumeratePhysicalDevices(instance_, &n, pds.data()), "vkEnumeratePhysicalDevices");
  for (uint32_t i = 0; i < n; ++i) {
    PhysicalDevice d;
    d.handle = pds[i];
    d.index = i;
    d.caps = query_caps(pds[i], device_extensions(pds[i]));
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pds[i], &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(pds[i], &nq, qf.data());
    // Prefer a compute queue family; any family with compute will do.
    for (uint32_t q = 0; q < nq; ++q)
      if ((qf[q].queueFlags & VK_QUEUE_COMPUTE_BIT) && d.compute_queue_family == UINT32_MAX) d.compute_queue_family = q;
    devices_.push_back(std::move(d));
  }
}

Instance::~Instance() {
  if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

VkBool32 Instance::on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                              const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* self = static_cast<Instance*>(user);
  self->messages_++;
  const char* what = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) ? "error" : "warning";
  std::fprintf(stderr, "dlvk: validation %s: %s\n", what, data->pMessage ? data->pMessage : "");
  std::lock_guard<std::mutex> lock(self->message_mutex_);
  self->last_message_ = data->pMessage ? data->pMessage : "";
  return VK_FALSE;
}

std::string Instance::last_validation_message() const {
  std::lock_guard<std::mutex> lock(message_mutex_);
  return last_message_;
}

uint32_t Instance::best_device_index() const {
  if (devices_.empty()) fail(Status::no_device, "no Vulkan device found (is a driver such as mesa-vulkan-drivers installed?)");
  int best = -1;
  for (size_t i = 0; i < devices_.size(); ++i) {
    const auto& d = devices_[i];
    if (d.caps.api_version < VK_API_VERSION_1_1 || d.compute_queue_family == UINT32_MAX) continue;
    if (best < 0) {
      best = int(i);
      continue;
    }
    const auto& b = devices_[best].caps;
    auto local = [](const Capabilities& c) {
      uint64_t s = 0;
      for (auto& h : c.heaps) if (h.device_local) s += h.size;
      return s;
    };
    int rd = type_rank(d.caps.type), rb = type_rank(b.type);
    if (rd > rb || (rd == rb && local(d.caps) > local(b))) best = int(i);
  }
  if (best < 0) fail(Status::no_device, "no Vulkan 1.1 device with a compute queue found");
  return uint32_t(best);
}

Device::Device(const DeviceOptions& options) {
  bool validation = options.validation < 0 ? env_flag("DLVK_VALIDATION", false) : options.validation == 1;
  instance_ = std::make_unique<Instance>(validation);

  int index = options.device_index;
  if (index < 0)
    if (const char* e = std::getenv("DLVK_DEVICE"); e && *e) index = std::atoi(e);
  const auto& devices = instance_->devices();
  if (devices.empty()) fail(Status::no_device, "no Vulkan device found (is a driver such as mesa-vulkan-drivers installed?)");
  if (index >= 0 && size_t(index) >= devices.size())
    fail(Status::invalid_argument, "device index {} out of range ({} device(s); see `dlvk devices`)", index, devices.size());
  physical_ = devices[index >= 0 ? uint32_t(index) : instance_->best_device_index()];
  if (physical_.caps.api_version < VK_API_VERSION_1_1)
    fail(Status::no_device, "device {} ({}) supports only Vulkan {}.{}; dlvk needs 1.1", physical_.index,
         physical_.caps.device_name, VK_API_VERSION_MAJOR(physical_.caps.api_version),
         VK_API_VERSION_MINOR(physical_.caps.api_version));
  if (physical_.compute_queue_family == UINT32_MAX)
    fail(Status::no_device, "device {} ({}) has no compute queue", physical_.index, physical_.caps.device_name);

  caps_ = physical_.caps;
  std::string profile = options.profile;
  if (profile.empty())
    if (const char* e = std::getenv("DLVK_PROFILE"); e && *e) profile = e;
  apply_profile(caps_, profile);

  auto exts = device_extensions(physical_.handle);
  std::vector<const char*> enable;
  if (contains(exts, "VK_KHR_portability_subset")) enable.push_back("VK_KHR_portability_subset");

  // Enable only what the (unclamped) device has and the profile leaves on.
  VkPhysicalDeviceShaderFloat16Int8Features f16i8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  s16.storageBuffer16BitAccess = caps_.storage_16bit;
  feats.pNext = &s16;
  if (caps_.shader_float16 || caps_.shader_int8) {
    f16i8.shaderFloat16 = caps_.shader_float16;
    f16i8.shaderInt8 = caps_.shader_int8;
    s16.pNext = &f16i8;
    if (caps_.api_version < VK_API_VERSION_1_2) enable.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  }
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  VkPhysicalDeviceVulkanMemoryModelFeatures memory_model{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
  if (caps_.cooperative_matrix()) {  // and the Vulkan memory model its shaders use (query_caps)
    coopmat.cooperativeMatrix = VK_TRUE;
    memory_model.vulkanMemoryModel = VK_TRUE;
    memory_model.pNext = feats.pNext;
    coopmat.pNext = &memory_model;
    feats.pNext = &coopmat;
    enable.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    if (caps_.api_version < VK_API_VERSION_1_2) enable.push_back(VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
  }

  float priority = 1.0f;
  VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qi.queueFamilyIndex = physical_.compute_queue_family;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;
  VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  di.pNext = &feats;
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &qi;
  di.enabledExtensionCount = uint32_t(enable.size());
  di.ppEnabledExtensionNames = enable.data();
  check(vkCreateDevice(physical_.handle, &di, nullptr, &device_), "vkCreateDevice", caps_.device_name);
  vkGetDeviceQueue(device_, physical_.compute_queue_family, 0, &queue_);
  vkGetPhysicalDeviceMemoryProperties(physical_.handle, &memory_props_);

  VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pi.queueFamilyIndex = physical_.compute_queue_family;
  check(vkCreateCommandPool(device_, &pi, nullptr, &command_pool_), "vkCreateCommandPool");
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(device_, &fi, nullptr, &one_off_fence_), "vkCreateFence");

  pipeline_cache_ = std::make_unique<PipelineCache>(*this, options.pipeline_cache_dir);
}

Device::~Device() {
  if (device_) vkDeviceWaitIdle(device_);
  kernels_.clear();
  pipeline_cache_.reset();  // saves the cache file
  if (one_off_fence_) vkDestroyFence(device_, one_off_fence_, nullptr);
  if (command_pool_) vkDestroyCommandPool(device_, command_pool_, nullptr);
  if (device_) vkDestroyDevice(device_, nullptr);
}

uint32_t Device::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const {
  uint32_t fallback = UINT32_MAX;
  for (uint32_t t = 0; t < memory_props_.memoryTypeCount; ++t) {
    if (!(type_bits & (1u << t))) continue;
    VkMemoryPropertyFlags f = memory_props_.memoryTypes[t].propertyFlags;
    if ((f & required) != required) continue;
    if ((f & preferred) == preferred) return t;
    if (fallback == UINT32_MAX) fallback = t;
  }
  return fallback;
}

const Kernel& Device::kernel(const KernelKey& key) {
  std::string id = key.id();
  auto it = kernels_.find(id);
  if (it != kernels_.end()) return *it->second;
  auto k = std::make_unique<Kernel>(*this, key);
  const Kernel& ref = *k;
  kernels_.emplace(std::move(id), std::move(k));
  return ref;
}

VkCommandBuffer Device::begin_one_off() {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = command_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  check(vkAllocateCommandBuffers(device_, &ai, &cb), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vkBeginCommandBuffer(cb, &bi);
  return cb;
}

void Device::end_one_off(VkCommandBuffer cb) {
  check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  VkResult r = vkQueueSubmit(queue_, 1, &si, one_off_fence_);
  if (r == VK_SUCCESS) r = vkWaitForFences(device_, 1, &one_off_fence_, VK_TRUE, UINT64_MAX);
  vkResetFences(device_, 1, &one_off_fence_);
  vkFreeCommandBuffers(device_, command_pool_, 1, &cb);
  check(r, "vkQueueSubmit/vkWaitForFences", "one-off command buffer");
}

}  // namespace dlvk::vk
