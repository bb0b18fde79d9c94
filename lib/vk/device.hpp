// Instance, physical-device discovery, the capability struct kernels choose variants from, and the
// logical device (one compute queue).
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vk/vk.hpp"

namespace dlvk::vk {

struct MemoryHeap {
  uint64_t size = 0;
  bool device_local = false;
};

// Everything a kernel variant choice may read. Filled from the driver, then optionally clamped by a
// named profile so tests can force fallbacks on any device.
struct Capabilities {
  std::string device_name;
  std::string driver_name;
  std::string driver_info;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  uint32_t api_version = 0;

  uint32_t subgroup_size = 1;
  bool subgroup_basic = false;       // subgroupBarrier/elect in compute shaders
  bool subgroup_arithmetic = false;  // subgroupAdd/Max in compute shaders
  bool subgroup_shuffle = false;     // subgroupShuffle in compute shaders
  bool shader_float16 = false;       // float16_t arithmetic
  bool shader_int8 = false;
  bool storage_16bit = false;        // 16-bit types in storage buffers
  bool integer_dot_product = false;
  // VK_NV_cooperative_matrix with f16 x f16 -> f32 subgroup matrices (the shape: A m x k, B k x n);
  // 0 when absent.
  uint32_t coopmat_m = 0, coopmat_n = 0, coopmat_k = 0;
  bool cooperative_matrix() const { return coopmat_m != 0; }
  // Whether prefill on GPUs (not CPU devices) runs the coopmat kernel (ops::MatmulVariant::coopmat):
  // on: where the device has cooperative matrices; emulate: everywhere, emulated where it has none (for
  // tests; slow); off: never. $DLVK_COOPMAT=1|emulate|0, default off until the kernel has been measured
  // on such a device (its emulation is tested everywhere).
  enum class CoopmatUse { off, on, emulate };
  CoopmatUse coopmat_use = CoopmatUse::off;

  uint32_t max_shared_memory = 16384;
  uint64_t max_storage_buffer_range = 128ull << 20;
  uint64_t max_allocation_size = 1ull << 30;
  uint64_t min_storage_buffer_offset_alignment = 256;
  uint32_t max_uniform_buffer_range = 16384;
  uint64_t min_uniform_buffer_offset_alignment = 256;
  uint32_t max_texel_buffer_elements = 65536;
  uint64_t min_texel_buffer_offset_alignment = 256;
  uint32_t max_workgroup_invocations = 128;
  uint32_t max_workgroup_size[3] = {128, 1, 1};
  uint32_t max_workgroup_count[3] = {65535, 65535, 65535};
  uint32_t max_push_constants_size = 128;

  bool timestamps = false;
  double timestamp_period_ns = 1.0;

  std::vector<MemoryHeap> heaps;
  bool unified_memory = false;  // every device-local heap is also host-visible (integrated GPU, CPU)

  // Quirk: a CPU implementation (lavapipe, SwiftShader) runs an invocation as a SIMD lane of one
  // thread; kernels then prefer one invocation per output row over cooperative reductions.
  bool cpu_quirks = false;
  // CPU implementations: the threads that run workgroups (this machine's hardware threads, or
  // $LP_NUM_THREADS for lavapipe); kernels keep at least a few workgroups per thread. 0 on GPUs.
  uint32_t cpu_threads = 0;
  // CPU implementations: the host processor's vendor ("Intel", "AMD" from x86 CPUID; "unknown"
  // elsewhere) and its last-level cache (bytes; 0 unknown). Empty / 0 on GPUs.
  std::string host_cpu_vendor;
  uint64_t host_llc_bytes = 0;
  // CPU implementations: how decode matmuls (M < 4) are run. split_k: a subgroup's lanes split K (ops'
  // subgroup_k kernel); rows: each lane streams its own weight rows; by_residency: rows where the
  // weights a decode step streams fit the host's last-level cache or are quantized or the host is
  // Intel, else split K (measurements in device.cpp). $DLVK_CPU_MATVEC=split_k|rows|by_residency;
  // default by_residency.
  enum class CpuMatvec { by_residency, split_k, rows };
  CpuMatvec cpu_matvec = CpuMatvec::by_residency;
  // GPUs (not CPU devices): how the decode kernel (ops' matvec, M <= 2) reads weights and X. wide: 16
  // bytes per invocation and step (matvec_wide, where K and the X rows allow, else words): 4x fewer load
  // instructions per byte, a quantized block's scale read once per load instead of per element; words: 4
  // bytes (matvec). $DLVK_GPU_MATVEC=wide|words, default wide. Neither has been timed on a GPU yet
  // (tools/gpu/check.sh times both); on lavapipe's GPU profile wide is the faster one (README).
  enum class GpuMatvec { wide, words };
  GpuMatvec gpu_matvec = GpuMatvec::wide;

  std::string profile = "native";  // which profile clamped these values

  const char* type_name() const;
  bool is_cpu() const { return type == VK_PHYSICAL_DEVICE_TYPE_CPU; }
};

// A vendor's name from its PCI / Khronos vendor id; "unknown" otherwise.
const char* vendor_name(uint32_t vendor_id);

// Named profiles: "native" (no change), "minimal" (16 KiB shared memory, no subgroup operations, no
// fp16 arithmetic, no 16-bit storage, 64 MiB storage-buffer range), "mobile-like" (32 KiB shared memory,
// 256 invocations, 128 MiB range; subgroup operations kept, and no kernel assumes a subgroup size).
// Both model GPUs, so they also turn the CPU quirks off. Unknown names are an error.
void apply_profile(Capabilities& caps, std::string_view profile);
std::vector<std::string> profile_names();

struct PhysicalDevice {
  VkPhysicalDevice handle = VK_NULL_HANDLE;
  uint32_t index = 0;
  Capabilities caps;  // unclamped
  uint32_t compute_queue_family = UINT32_MAX;
};

// The Vulkan instance (one per process is enough, but several are allowed). With validation requested
// (DeviceOptions::validation or DLVK_VALIDATION=1) it enables VK_LAYER_KHRONOS_validation and counts
// every warning/error message; a missing layer is then an error, never a silent skip.
class Instance {
 public:
  explicit Instance(bool validation);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  const std::vector<PhysicalDevice>& devices() const { return devices_; }
  // Best device: discrete > integrated > virtual > CPU > other, then larger device-local memory.
  uint32_t best_device_index() const;
  bool validation() const { return validation_; }

  // Validation messages (warnings and errors) seen so far by this instance.
  uint64_t validation_messages() const { return messages_.load(); }
  std::string last_validation_message() const;

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                   VkDebugUtilsMessageTypeFlagsEXT type,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data, void* user);
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  bool validation_ = false;
  std::vector<PhysicalDevice> devices_;
  std::atomic<uint64_t> messages_{0};
  mutable std::mutex message_mutex_;
  std::string last_message_;
};

struct DeviceOptions {
  int device_index = -1;         // -1: best (or DLVK_DEVICE)
  std::string profile;           // empty: DLVK_PROFILE or "native"
  int validation = -1;           // -1: DLVK_VALIDATION; 0 off; 1 on
  std::string pipeline_cache_dir;  // empty: $DLVK_CACHE_DIR, else $XDG_CACHE_HOME/dlvk, else ~/.cache/dlvk; "-" disables
};

class PipelineCache;
class Kernel;
struct KernelKey;

// The logical device: one compute queue, a command pool, and the kernels created on it.
class Device {
 public:
  explicit Device(const DeviceOptions& options = {});
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  Instance& instance() { return *instance_; }
  VkDevice handle() const { return device_; }
  VkPhysicalDevice physical() const { return physical_.handle; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return physical_.compute_queue_family; }
  VkCommandPool command_pool() const { return command_pool_; }
  const Capabilities& caps() const { return caps_; }
  // Tests force fallbacks by clamping capabilities after creation (kernels made later see the change).
  Capabilities& caps_for_testing() { return caps_; }
  uint32_t index() const { return physical_.index; }

  // Memory type index for the wanted properties (first that matches all of required, preferring
  // `preferred`); UINT32_MAX when none.
  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const;

  // A kernel (compute pipeline) for an embedded shader and specialization constants; created once and
  // cached for the device's life (and in the on-disk pipeline cache).
  const Kernel& kernel(const KernelKey& key);

  // Runs a one-off command buffer and waits (uploads, fills). Not for the per-token path.
  template <typename F>
  void run_now(F&& record) {
    VkCommandBuffer cb = begin_one_off();
    record(cb);
    end_one_off(cb);
  }

  PipelineCache& pipeline_cache() { return *pipeline_cache_; }

 private:
  VkCommandBuffer begin_one_off();
  void end_one_off(VkCommandBuffer cb);

  std::unique_ptr<Instance> instance_;
  PhysicalDevice physical_;
  Capabilities caps_;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkFence one_off_fence_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_props_{};
  std::unique_ptr<PipelineCache> pipeline_cache_;
  std::map<std::string, std::unique_ptr<Kernel>> kernels_;
};

}  // namespace dlvk::vk
