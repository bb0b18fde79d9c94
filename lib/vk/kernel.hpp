// Compute kernels: an embedded SPIR-V shader specialised by constants, its pipeline, and the on-disk
// pipeline cache that makes the second start fast.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vk/vk.hpp"

namespace dlvk::vk {

class Device;

// The SPIR-V words of an embedded shader (shaders/<name>.comp); error if absent.
std::vector<uint32_t> embedded_shader(std::string_view name);
std::vector<std::string> embedded_shader_names();

// What identifies a pipeline. Shaders take their workgroup size from constant_id 0 (local_size_x_id)
// and their variant knobs from ids 1.. in order; floats are passed as their bit patterns.
struct KernelKey {
  std::string shader;
  std::vector<uint32_t> constants;  // constant_id 0, 1, 2, ...
  uint32_t bindings = 0;            // buffers at binding 0..bindings-1, set 0
  uint32_t push_constant_bytes = 0;
  // Bindings (bit i = binding i) read as a uniform buffer or as a uniform texel buffer of uvec4
  // (R32G32B32A32_UINT) instead of a storage buffer. CPU implementations read those much faster:
  // lavapipe turns each storage-buffer load into a branchy per-lane loop, but a texel fetch into a
  // vector gather and a uniform-buffer load at a uniform offset into one scalar load.
  uint32_t uniform_mask = 0;
  uint32_t texel_mask = 0;
  VkDescriptorType descriptor_type(uint32_t binding) const;
  std::string id() const;
};

class Kernel {
 public:
  Kernel(Device& device, const KernelKey& key);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const KernelKey& key() const { return key_; }
  VkPipeline pipeline() const { return pipeline_; }
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }
  uint32_t workgroup_size() const { return key_.constants.empty() ? 1 : key_.constants[0]; }

 private:
  Device& device_;
  KernelKey key_;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
};

// VkPipelineCache persisted as <dir>/pipelines-<pipelineCacheUUID>.bin. A missing, stale or unwritable
// file only costs start-up time, never an error.
class PipelineCache {
 public:
  PipelineCache(Device& device, const std::string& dir_option);
  ~PipelineCache();
  VkPipelineCache handle() const { return cache_; }
  const std::filesystem::path& file() const { return file_; }
  bool loaded_from_disk() const { return loaded_; }
  void save();

 private:
  Device& device_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::filesystem::path file_;
  bool loaded_ = false;
};

}  // namespace dlvk::vk
