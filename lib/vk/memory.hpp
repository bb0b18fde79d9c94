// Memory: arenas of few large VkDeviceMemory blocks, each with one VkBuffer, handed out as slices.
// Slices are what kernels bind (offset + range within a block buffer).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vk/vk.hpp"

namespace dlvk::vk {

class Device;

// Bytes every arena buffer has past its usable size (see Arena::new_block).
constexpr VkDeviceSize kTexelViewSlack = 256;

struct BufferSlice {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize size = 0;
  void* host = nullptr;  // mapped address when the memory is host-visible, else nullptr
  VkDeviceSize buffer_size = 0;  // size of the whole VkBuffer (views may reach past the slice, see Recorder)

  bool valid() const { return buffer != VK_NULL_HANDLE; }
  // A sub-range; offset must keep the device's storage-buffer offset alignment if it is bound.
  BufferSlice sub(VkDeviceSize off, VkDeviceSize len) const;
  template <typename T>
  T* as() const { return static_cast<T*>(host); }
};

enum class MemoryKind {
  device,    // device-local; mapped too where the device has unified memory (uploads become memcpy)
  upload,    // host-visible, coherent: staging and small per-token parameters
  readback,  // host-visible, coherent, cached where available: results read by the CPU
};

class Arena {
 public:
  // block_size: the size of each VkDeviceMemory block (clamped to the device's allocation limit).
  Arena(Device& device, MemoryKind kind, VkDeviceSize block_size = 256ull << 20, std::string name = "arena");
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // A slice of `size` bytes aligned for storage-buffer binding. Requests larger than a block get a
  // block of their own; larger than the device's allocation limit is an error naming `what`.
  BufferSlice allocate(VkDeviceSize size, std::string_view what);
  VkDeviceSize bytes_allocated() const { return allocated_; }  // device memory reserved in blocks
  // Size of the blocks allocated from now on (e.g. what the caller is about to allocate in total, so a
  // small model does not reserve a default-sized block).
  void set_block_size(VkDeviceSize size);
  VkDeviceSize bytes_used() const { return used_; }            // handed out in slices
  MemoryKind kind() const { return kind_; }
  bool host_visible() const { return host_visible_; }

 private:
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceSize size = 0, used = 0;  // usable bytes, bytes handed out
    VkDeviceSize buffer_size = 0;     // VkBuffer size: size + slack
    void* mapped = nullptr;
  };
  Block& new_block(VkDeviceSize size, std::string_view what);

  Device& device_;
  MemoryKind kind_;
  VkDeviceSize block_size_;
  std::string name_;
  std::vector<Block> blocks_;
  VkDeviceSize allocated_ = 0, used_ = 0;
  bool host_visible_ = false;
};

// Copies host data into a device slice (memcpy when mapped, else through a staging buffer) and back.
// Not for the per-token path.
void upload(Device& device, const BufferSlice& dst, const void* data, VkDeviceSize size, VkDeviceSize dst_offset = 0);
void download(Device& device, const BufferSlice& src, void* data, VkDeviceSize size, VkDeviceSize src_offset = 0);
// Fills a slice with a repeated 32-bit pattern (e.g. NaN to catch unwritten outputs).
void fill(Device& device, const BufferSlice& dst, uint32_t pattern);

}  // namespace dlvk::vk
