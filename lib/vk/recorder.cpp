#include "vk/recorder.hpp"

#include "vk/device.hpp"

namespace dlvk::vk {

namespace {
constexpr uint32_t kSetsPerPool = 256;

bool overlaps(VkBuffer b, VkDeviceSize begin, VkDeviceSize end, const std::vector<auto>& ranges) {
  for (const auto& r : ranges)
    if (r.buffer == b && begin < r.end && r.begin < end) return true;
  return false;
}
}  // namespace

Recorder::Recorder(Device& device, bool profile, uint32_t max_dispatches) : device_(device) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = device.command_pool();
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(device.handle(), &ai, &cb_), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  check(vkBeginCommandBuffer(cb_, &bi), "vkBeginCommandBuffer");
  if (profile && device.caps().timestamps) {
    max_queries_ = max_dispatches + 1;
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = max_queries_;
    check(vkCreateQueryPool(device.handle(), &qi, nullptr, &queries_), "vkCreateQueryPool");
    vkCmdResetQueryPool(cb_, queries_, 0, max_queries_);
    vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  }
}

Recorder::~Recorder() {
  if (finished_) return;
  VkDevice dev = device_.handle();
  vkEndCommandBuffer(cb_);
  vkFreeCommandBuffers(dev, device_.command_pool(), 1, &cb_);
  for (auto p : pools_) vkDestroyDescriptorPool(dev, p, nullptr);
  for (auto v : views_) vkDestroyBufferView(dev, v, nullptr);
  if (queries_) vkDestroyQueryPool(dev, queries_, nullptr);
}

VkDescriptorSet Recorder::allocate_set(VkDescriptorSetLayout layout, uint32_t bindings) {
  // Pools hold kSetsPerPool sets of up to 16 buffers each; a new pool when one runs out.
  if (pool_sets_left_ == 0 || bindings > 16) {
    uint32_t n = kSetsPerPool * std::max<uint32_t>(16, bindings);
    VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n},
                                    {VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, n},
                                    {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, n}};
    VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pi.maxSets = kSetsPerPool;
    pi.poolSizeCount = 3;
    pi.pPoolSizes = sizes;
    VkDescriptorPool pool;
    check(vkCreateDescriptorPool(device_.handle(), &pi, nullptr, &pool), "vkCreateDescriptorPool");
    pools_.push_back(pool);
    pool_sets_left_ = kSetsPerPool;
  }
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = pools_.back();
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &layout;
  VkDescriptorSet set;
  check(vkAllocateDescriptorSets(device_.handle(), &ai, &set), "vkAllocateDescriptorSets");
  --pool_sets_left_;
  return set;
}

void Recorder::barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vkCmdPipelineBarrier(cb_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
  written_.clear();
  read_.clear();
  ++barriers_;
}

// A barrier only where this command touches memory that an earlier command since the last barrier
// wrote (read-after-write, write-after-write) or read (write-after-read); independent dispatches run
// without one between them.
void Recorder::before_access(const std::vector<Binding>& bindings) {
  bool hazard = false;
  for (const auto& b : bindings) {
    VkDeviceSize begin = b.slice.offset, end = b.slice.offset + b.slice.size;
    if (overlaps(b.slice.buffer, begin, end, written_)) hazard = true;
    if (b.access != Access::read && overlaps(b.slice.buffer, begin, end, read_)) hazard = true;
  }
  if (hazard) barrier();
  for (const auto& b : bindings) {
    Range r{b.slice.buffer, b.slice.offset, b.slice.offset + b.slice.size};
    if (b.access != Access::write) read_.push_back(r);
    if (b.access != Access::read) written_.push_back(r);
  }
}

bool texel_bindable(const Capabilities& caps, const BufferSlice& s) {
  return s.size % 16 == 0 && s.size / 16 <= caps.max_texel_buffer_elements &&
         s.offset % std::max<uint64_t>(1, caps.min_texel_buffer_offset_alignment) == 0;
}

void Recorder::dispatch(const Kernel& kernel, const std::vector<Binding>& bindings, const void* push, uint32_t push_bytes,
                        uint32_t gx, uint32_t gy, uint32_t gz, std::string_view label) {
  const auto& caps = device_.caps();
  const auto& key = kernel.key();
  if (bindings.size() != key.bindings)
    fail(Status::internal, "{} ({}): {} buffers bound, kernel has {}", label, key.shader, bindings.size(), key.bindings);
  if (push_bytes != key.push_constant_bytes)
    fail(Status::internal, "{} ({}): {} push-constant bytes, kernel has {}", label, key.shader, push_bytes, key.push_constant_bytes);
  if (gx == 0 || gy == 0 || gz == 0) return;  // nothing to do (e.g. an empty row range)
  if (gx > caps.max_workgroup_count[0] || gy > caps.max_workgroup_count[1] || gz > caps.max_workgroup_count[2])
    fail(Status::internal, "{} ({}): {}x{}x{} workgroups exceed the device limit {}x{}x{}", label, key.shader, gx, gy, gz,
         caps.max_workgroup_count[0], caps.max_workgroup_count[1], caps.max_workgroup_count[2]);
  std::vector<VkDescriptorBufferInfo> infos(bindings.size());
  std::vector<VkBufferView> views(bindings.size());
  std::vector<VkWriteDescriptorSet> writes(bindings.size());
  VkDescriptorSet set = allocate_set(kernel.set_layout(), key.bindings);
  for (size_t i = 0; i < bindings.size(); ++i) {
    const auto& s = bindings[i].slice;
    const VkDescriptorType type = key.descriptor_type(uint32_t(i));
    if (!s.valid()) fail(Status::internal, "{} ({}): binding {} is empty", label, key.shader, i);
    auto limit = [&](uint64_t range, uint64_t alignment, const char* what) {
      if (s.size > range)
        fail(Status::internal, "{} ({}): binding {} spans {} bytes, over the device's {} range {}", label, key.shader, i,
             s.size, what, range);
      if (s.offset % alignment)
        fail(Status::internal, "{} ({}): binding {} offset {} not aligned to {} ({})", label, key.shader, i, s.offset,
             alignment, what);
    };
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = uint32_t(i);
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = type;
    infos[i] = {s.buffer, s.offset, s.size};
    if (type == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER) {
      limit(uint64_t(caps.max_texel_buffer_elements) * 16, caps.min_texel_buffer_offset_alignment, "texel buffer");
      if (s.size % 16) fail(Status::internal, "{} ({}): texel binding {} of {} bytes is not whole uvec4s", label, key.shader, i, s.size);
      VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
      vi.buffer = s.buffer;
      vi.format = VK_FORMAT_R32G32B32A32_UINT;
      vi.offset = s.offset;
      vi.range = s.size;
      // llvmpipe reads a buffer view's byte size through a union as if it were a texture's mip range and
      // compiles a separate shader variant when bits 8..15 of the size are zero; widening such views by
      // 256 bytes (arena buffers have that slack; the kernels never read past their slice) keeps one
      // variant per pipeline.
      if (((s.size >> 8) & 0xff) == 0 && s.offset + s.size + 256 <= s.buffer_size &&
          (s.size + 256) / 16 <= caps.max_texel_buffer_elements)
        vi.range = s.size + 256;
      check(vkCreateBufferView(device_.handle(), &vi, nullptr, &views[i]), "vkCreateBufferView", label);
      views_.push_back(views[i]);
      writes[i].pTexelBufferView = &views[i];
    } else if (type == VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER) {
      limit(caps.max_uniform_buffer_range, caps.min_uniform_buffer_offset_alignment, "uniform buffer");
      writes[i].pBufferInfo = &infos[i];
    } else {
      limit(caps.max_storage_buffer_range, caps.min_storage_buffer_offset_alignment, "storage buffer");
      writes[i].pBufferInfo = &infos[i];
    }
  }
  vkUpdateDescriptorSets(device_.handle(), uint32_t(writes.size()), writes.data(), 0, nullptr);

  before_access(bindings);
  vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline());
  vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.layout(), 0, 1, &set, 0, nullptr);
  if (push_bytes) vkCmdPushConstants(cb_, kernel.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  vkCmdDispatch(cb_, gx, gy, gz);
  ++dispatches_;
  if (queries_) {
    if (labels_.size() + 1 >= max_queries_) fail(Status::internal, "profiled recording exceeds {} dispatches", max_queries_ - 1);
    labels_.emplace_back(label.empty() ? key.shader : std::string(label));
    vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries_, uint32_t(labels_.size()));
  }
}

void Recorder::copy(const BufferSlice& src, const BufferSlice& dst) {
  if (src.size > dst.size) fail(Status::internal, "copy of {} bytes into a {}-byte buffer", src.size, dst.size);
  before_access({in(src), out(dst)});
  VkBufferCopy c{src.offset, dst.offset, src.size};
  vkCmdCopyBuffer(cb_, src.buffer, dst.buffer, 1, &c);
}

std::unique_ptr<Sequence> Recorder::finish() {
  // Make every result visible to the host once the fence signals.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  check(vkEndCommandBuffer(cb_), "vkEndCommandBuffer");
  finished_ = true;
  return std::make_unique<Sequence>(device_, cb_, std::move(pools_), std::move(views_), queries_, std::move(labels_),
                                    dispatches_, barriers_);
}

Sequence::Sequence(Device& device, VkCommandBuffer cb, std::vector<VkDescriptorPool> pools, std::vector<VkBufferView> views,
                   VkQueryPool queries, std::vector<std::string> labels, uint32_t dispatches, uint32_t barriers)
    : device_(device), cb_(cb), pools_(std::move(pools)), views_(std::move(views)), queries_(queries), labels_(std::move(labels)),
      dispatches_(dispatches), barriers_(barriers) {
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(device.handle(), &fi, nullptr, &fence_), "vkCreateFence");
}

Sequence::~Sequence() {
  VkDevice dev = device_.handle();
  if (pending_) vkWaitForFences(dev, 1, &fence_, VK_TRUE, UINT64_MAX);
  vkDestroyFence(dev, fence_, nullptr);
  vkFreeCommandBuffers(dev, device_.command_pool(), 1, &cb_);
  for (auto p : pools_) vkDestroyDescriptorPool(dev, p, nullptr);
  for (auto v : views_) vkDestroyBufferView(dev, v, nullptr);
  if (queries_) vkDestroyQueryPool(dev, queries_, nullptr);
}

void Sequence::submit() {
  if (pending_) wait();
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb_;
  check(vkQueueSubmit(device_.queue(), 1, &si, fence_), "vkQueueSubmit", "recorded sequence");
  pending_ = true;
}

void Sequence::wait() {
  if (!pending_) return;
  VkResult r = vkWaitForFences(device_.handle(), 1, &fence_, VK_TRUE, UINT64_MAX);
  pending_ = false;
  vkResetFences(device_.handle(), 1, &fence_);
  check(r, "vkWaitForFences", "recorded sequence");
}

std::vector<DispatchTiming> Sequence::timings() const {
  std::vector<DispatchTiming> out;
  if (!queries_ || labels_.empty()) return out;
  std::vector<uint64_t> ts(labels_.size() + 1);
  check(vkGetQueryPoolResults(device_.handle(), queries_, 0, uint32_t(ts.size()), ts.size() * 8, ts.data(), 8,
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "vkGetQueryPoolResults");
  double period = device_.caps().timestamp_period_ns;
  for (size_t i = 0; i < labels_.size(); ++i)
    out.push_back({labels_[i], double(ts[i + 1] - ts[i]) * period * 1e-6});
  return out;
}

}  // namespace dlvk::vk
