#include "vk/memory.hpp"

#include <algorithm>
#include <cstring>

#include "vk/device.hpp"

namespace dlvk::vk {

BufferSlice BufferSlice::sub(VkDeviceSize off, VkDeviceSize len) const {
  if (off + len > size) fail(Status::internal, "slice [{}, {}) outside buffer of {} bytes", off, off + len, size);
  BufferSlice s = *this;
  s.offset += off;
  s.size = len;
  s.host = host ? static_cast<char*>(host) + off : nullptr;
  return s;
}

Arena::Arena(Device& device, MemoryKind kind, VkDeviceSize block_size, std::string name)
    : device_(device), kind_(kind), block_size_(std::min<VkDeviceSize>(block_size, device.caps().max_allocation_size)),
      name_(std::move(name)) {}

Arena::~Arena() {
  VkDevice dev = device_.handle();
  for (auto& b : blocks_) {
    if (b.buffer) vkDestroyBuffer(dev, b.buffer, nullptr);
    if (b.memory) vkFreeMemory(dev, b.memory, nullptr);
  }
}

Arena::Block& Arena::new_block(VkDeviceSize size, std::string_view what) {
  const auto& caps = device_.caps();
  if (size > caps.max_allocation_size)
    fail(Status::out_of_device_memory, "{}: {} bytes exceed the device's maximum allocation of {} bytes ({})", what, size,
         caps.max_allocation_size, name_);
  VkDevice dev = device_.handle();
  Block b;
  b.size = size;
  // The VkBuffer gets kTexelViewSlack bytes past the usable size (texel views may be widened into it,
  // see Recorder::dispatch) and is never a power of two: llvmpipe (lavapipe) compiles a shader variant
  // per power-of-two-ness of each texel buffer's VkBuffer, seconds each for the big CPU matmul.
  b.buffer_size = std::min(size + kTexelViewSlack, caps.max_allocation_size);
  if ((b.buffer_size & (b.buffer_size - 1)) == 0 && b.buffer_size + 16 <= caps.max_allocation_size) b.buffer_size += 16;
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = b.buffer_size;
  // Every buffer may be bound as storage, uniform or uniform texel buffer: kernels pick the binding
  // kind that their device reads fastest (see KernelKey).
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
             VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(dev, &bi, nullptr, &b.buffer), "vkCreateBuffer", fmt::format("{}, {} bytes", what, size));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev, b.buffer, &req);

  VkMemoryPropertyFlags required = 0, preferred = 0;
  switch (kind_) {
    case MemoryKind::device:
      required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
      break;
    case MemoryKind::upload:
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      break;
    case MemoryKind::readback:
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      break;
  }
  uint32_t type = device_.find_memory_type(req.memoryTypeBits, required, preferred);
  if (type == UINT32_MAX && kind_ == MemoryKind::device) type = device_.find_memory_type(req.memoryTypeBits, 0, 0);
  if (type == UINT32_MAX) {
    vkDestroyBuffer(dev, b.buffer, nullptr);
    fail(Status::vulkan_error, "{}: no suitable memory type ({})", what, name_);
  }
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = type;
  VkResult r = vkAllocateMemory(dev, &ai, nullptr, &b.memory);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(dev, b.buffer, nullptr);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      fail(Status::out_of_device_memory, "out of device memory allocating {} bytes for {} ({} holds {} bytes already)",
           req.size, what, name_, allocated_);
    check(r, "vkAllocateMemory", what);
  }
  check(vkBindBufferMemory(dev, b.buffer, b.memory, 0), "vkBindBufferMemory", what);
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(device_.physical(), &mp);
  if (mp.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
    check(vkMapMemory(dev, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory", what);
    // Device memory that is mapped but not coherent would need flushes; treat it as unmapped instead.
    if (!(mp.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) {
      vkUnmapMemory(dev, b.memory);
      b.mapped = nullptr;
    }
  }
  host_visible_ = b.mapped != nullptr;
  allocated_ += req.size;
  blocks_.push_back(b);
  return blocks_.back();
}

void Arena::set_block_size(VkDeviceSize size) {
  block_size_ = std::clamp<VkDeviceSize>(size, 1 << 16, device_.caps().max_allocation_size);
}

BufferSlice Arena::allocate(VkDeviceSize size, std::string_view what) {
  if (size == 0) size = 4;
  const auto& caps = device_.caps();
  VkDeviceSize align = std::max<VkDeviceSize>({caps.min_storage_buffer_offset_alignment,
                                               caps.min_uniform_buffer_offset_alignment,
                                               caps.min_texel_buffer_offset_alignment, 16});
  VkDeviceSize padded = (size + 15) & ~VkDeviceSize(15);
  Block* block = nullptr;
  for (auto& b : blocks_) {
    VkDeviceSize start = (b.used + align - 1) / align * align;
    if (start + padded <= b.size) {
      block = &b;
      break;
    }
  }
  if (!block) block = &new_block(std::max(block_size_, padded), what);
  VkDeviceSize start = (block->used + align - 1) / align * align;
  block->used = start + padded;
  used_ += padded;
  BufferSlice s{block->buffer, start, size, block->mapped ? static_cast<char*>(block->mapped) + start : nullptr,
                block->buffer_size};
  return s;
}

namespace {
constexpr VkDeviceSize kStagingBytes = 16ull << 20;
}

void upload(Device& device, const BufferSlice& dst, const void* data, VkDeviceSize size, VkDeviceSize dst_offset) {
  if (dst_offset + size > dst.size) fail(Status::internal, "upload of {} bytes at {} overruns a {}-byte buffer", size, dst_offset, dst.size);
  if (dst.host) {
    std::memcpy(static_cast<char*>(dst.host) + dst_offset, data, size);
    return;
  }
  Arena staging(device, MemoryKind::upload, std::min(kStagingBytes, std::max<VkDeviceSize>(size, 16)), "staging");
  BufferSlice s = staging.allocate(std::min(kStagingBytes, std::max<VkDeviceSize>(size, 4)), "staging");
  for (VkDeviceSize done = 0; done < size;) {
    VkDeviceSize n = std::min(s.size, size - done);
    std::memcpy(s.host, static_cast<const char*>(data) + done, n);
    device.run_now([&](VkCommandBuffer cb) {
      VkBufferCopy c{s.offset, dst.offset + dst_offset + done, n};
      vkCmdCopyBuffer(cb, s.buffer, dst.buffer, 1, &c);
    });
    done += n;
  }
}

void download(Device& device, const BufferSlice& src, void* data, VkDeviceSize size, VkDeviceSize src_offset) {
  if (src_offset + size > src.size) fail(Status::internal, "download of {} bytes at {} overruns a {}-byte buffer", size, src_offset, src.size);
  if (src.host) {
    std::memcpy(data, static_cast<const char*>(src.host) + src_offset, size);
    return;
  }
  Arena staging(device, MemoryKind::readback, std::min(kStagingBytes, std::max<VkDeviceSize>(size, 16)), "readback");
  BufferSlice s = staging.allocate(std::min(kStagingBytes, std::max<VkDeviceSize>(size, 4)), "readback");
  for (VkDeviceSize done = 0; done < size;) {
    VkDeviceSize n = std::min(s.size, size - done);
    device.run_now([&](VkCommandBuffer cb) {
      VkBufferCopy c{src.offset + src_offset + done, s.offset, n};
      vkCmdCopyBuffer(cb, src.buffer, s.buffer, 1, &c);
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    });
    std::memcpy(static_cast<char*>(data) + done, s.host, n);
    done += n;
  }
}

void fill(Device& device, const BufferSlice& dst, uint32_t pattern) {
  if (dst.host && dst.size % 4 == 0) {
    auto* p = static_cast<uint32_t*>(dst.host);
    std::fill(p, p + dst.size / 4, pattern);
    return;
  }
  device.run_now([&](VkCommandBuffer cb) {
    vkCmdFillBuffer(cb, dst.buffer, dst.offset, (dst.size + 3) & ~VkDeviceSize(3), pattern);
  });
}

}  // namespace dlvk::vk
