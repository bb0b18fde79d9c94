// Records a sequence of dispatches into one command buffer with the barriers their buffer accesses
// need, once; the result (a Sequence) is replayed with one queue submission each time. Values that
// change per replay (positions, lengths) live in buffers the host writes before submitting.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vk/device.hpp"
#include "vk/kernel.hpp"
#include "vk/memory.hpp"

namespace dlvk::vk {

enum class Access { read, write, read_write };

struct Binding {
  BufferSlice slice;
  Access access;
};
inline Binding in(const BufferSlice& s) { return {s, Access::read}; }
inline Binding out(const BufferSlice& s) { return {s, Access::write}; }
inline Binding inout(const BufferSlice& s) { return {s, Access::read_write}; }

// Whether a slice can be bound as a uniform texel buffer of uvec4 (KernelKey::texel_mask): whole texels,
// within the device's element limit, at an aligned offset (Recorder::dispatch enforces the same).
bool texel_bindable(const Capabilities& caps, const BufferSlice& s);

struct DispatchTiming {
  std::string label;
  double ms = 0;
};

class Sequence {
 public:
  Sequence(Device& device, VkCommandBuffer cb, std::vector<VkDescriptorPool> pools, std::vector<VkBufferView> views,
           VkQueryPool queries, std::vector<std::string> labels, uint32_t dispatches, uint32_t barriers);
  ~Sequence();
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  void submit();  // one vkQueueSubmit; call wait() before reading results or submitting again
  void wait();
  void run() {
    submit();
    wait();
  }

  uint32_t dispatch_count() const { return dispatches_; }
  uint32_t barrier_count() const { return barriers_; }
  bool profiled() const { return queries_ != VK_NULL_HANDLE; }
  // GPU time per dispatch of the last run (timestamp queries), when recorded with profiling.
  std::vector<DispatchTiming> timings() const;

 private:
  Device& device_;
  VkCommandBuffer cb_;
  std::vector<VkDescriptorPool> pools_;
  std::vector<VkBufferView> views_;
  VkQueryPool queries_;
  std::vector<std::string> labels_;
  VkFence fence_ = VK_NULL_HANDLE;
  bool pending_ = false;
  uint32_t dispatches_, barriers_;
};

class Recorder {
 public:
  explicit Recorder(Device& device, bool profile = false, uint32_t max_dispatches = 4096);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  Device& device() { return device_; }

  // Records one dispatch. `label` names the op for profiles and error messages. Bindings are bound to
  // binding 0.. in order; each must fit the device's storage-buffer range.
  void dispatch(const Kernel& kernel, const std::vector<Binding>& bindings, const void* push, uint32_t push_bytes,
                uint32_t groups_x, uint32_t groups_y = 1, uint32_t groups_z = 1, std::string_view label = {});
  template <typename P>
  void dispatch(const Kernel& kernel, const std::vector<Binding>& bindings, const P& push, uint32_t gx, uint32_t gy = 1,
                uint32_t gz = 1, std::string_view label = {}) {
    dispatch(kernel, bindings, &push, sizeof(P), gx, gy, gz, label);
  }
  void copy(const BufferSlice& src, const BufferSlice& dst);

  std::unique_ptr<Sequence> finish();

 private:
  struct Range {
    VkBuffer buffer;
    VkDeviceSize begin, end;
  };
  void before_access(const std::vector<Binding>& bindings);
  void barrier();
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout, uint32_t bindings);

  Device& device_;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> pools_;
  std::vector<VkBufferView> views_;  // texel-buffer views of bound slices, owned by the Sequence
  uint32_t pool_sets_left_ = 0;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t max_queries_ = 0;
  std::vector<std::string> labels_;
  std::vector<Range> written_, read_;  // since the last barrier
  uint32_t dispatches_ = 0, barriers_ = 0;
  bool finished_ = false;
};

}  // namespace dlvk::vk
