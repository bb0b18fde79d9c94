#include "vk/kernel.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "vk/device.hpp"

namespace dlvk::shaders {
struct EmbeddedShader {
  std::string_view name;
  const uint32_t* words;
  size_t count;
};
extern const EmbeddedShader kEmbedded[];
extern const size_t kEmbeddedCount;
}  // namespace dlvk::shaders

namespace dlvk::vk {

std::vector<uint32_t> embedded_shader(std::string_view name) {
  for (size_t i = 0; i < shaders::kEmbeddedCount; ++i)
    if (shaders::kEmbedded[i].name == name)
      return {shaders::kEmbedded[i].words, shaders::kEmbedded[i].words + shaders::kEmbedded[i].count};
  fail(Status::internal, "shader '{}' is not embedded in this build", name);
}

std::vector<std::string> embedded_shader_names() {
  std::vector<std::string> names;
  for (size_t i = 0; i < shaders::kEmbeddedCount; ++i) names.emplace_back(shaders::kEmbedded[i].name);
  return names;
}

std::string KernelKey::id() const {
  std::string s = shader;
  for (uint32_t c : constants) s += fmt::format(":{}", c);
  s += fmt::format("/b{}p{}", bindings, push_constant_bytes);
  if (uniform_mask || texel_mask) s += fmt::format("u{:x}t{:x}", uniform_mask, texel_mask);
  return s;
}

VkDescriptorType KernelKey::descriptor_type(uint32_t binding) const {
  if (texel_mask >> binding & 1) return VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
  if (uniform_mask >> binding & 1) return VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
  return VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
}

Kernel::Kernel(Device& device, const KernelKey& key) : device_(device), key_(key) {
  const auto& caps = device.caps();
  if (!key.constants.empty() && key.constants[0] > caps.max_workgroup_invocations)
    fail(Status::internal, "kernel {}: workgroup size {} exceeds device limit {}", key.id(), key.constants[0],
         caps.max_workgroup_invocations);
  VkDevice dev = device.handle();
  std::vector<VkDescriptorSetLayoutBinding> bindings(key.bindings);
  for (uint32_t i = 0; i < key.bindings; ++i) {
    bindings[i].binding = i;
    bindings[i].descriptorType = key.descriptor_type(i);
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dl.bindingCount = key.bindings;
  dl.pBindings = bindings.data();
  check(vkCreateDescriptorSetLayout(dev, &dl, nullptr, &set_layout_), "vkCreateDescriptorSetLayout", key.shader);

  VkPushConstantRange pc{VK_SHADER_STAGE_COMPUTE_BIT, 0, key.push_constant_bytes};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &set_layout_;
  pl.pushConstantRangeCount = key.push_constant_bytes ? 1 : 0;
  pl.pPushConstantRanges = &pc;
  check(vkCreatePipelineLayout(dev, &pl, nullptr, &layout_), "vkCreatePipelineLayout", key.shader);

  std::vector<uint32_t> words = embedded_shader(key.shader);
  VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  mi.codeSize = words.size() * 4;
  mi.pCode = words.data();
  VkShaderModule module;
  check(vkCreateShaderModule(dev, &mi, nullptr, &module), "vkCreateShaderModule", key.shader);

  std::vector<VkSpecializationMapEntry> entries(key.constants.size());
  for (uint32_t i = 0; i < entries.size(); ++i) entries[i] = {i, i * 4, 4};
  VkSpecializationInfo spec{uint32_t(entries.size()), entries.data(), key.constants.size() * 4, key.constants.data()};

  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = entries.empty() ? nullptr : &spec;
  ci.layout = layout_;
  VkResult r = vkCreateComputePipelines(dev, device.pipeline_cache().handle(), 1, &ci, nullptr, &pipeline_);
  vkDestroyShaderModule(dev, module, nullptr);
  check(r, "vkCreateComputePipelines", key.id());
}

Kernel::~Kernel() {
  VkDevice dev = device_.handle();
  if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
  if (layout_) vkDestroyPipelineLayout(dev, layout_, nullptr);
  if (set_layout_) vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
}

namespace {
std::filesystem::path cache_dir(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* e = std::getenv("DLVK_CACHE_DIR"); e && *e) return e;
  if (const char* e = std::getenv("XDG_CACHE_HOME"); e && *e) return std::filesystem::path(e) / "dlvk";
  if (const char* e = std::getenv("HOME"); e && *e) return std::filesystem::path(e) / ".cache" / "dlvk";
  return {};
}
}  // namespace

PipelineCache::PipelineCache(Device& device, const std::string& dir_option) : device_(device) {
  std::vector<char> data;
  std::filesystem::path dir = dir_option == "-" ? std::filesystem::path() : cache_dir(dir_option);
  if (!dir.empty()) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(device.physical(), &p);
    std::string uuid;
    for (uint8_t b : p.pipelineCacheUUID) uuid += fmt::format("{:02x}", b);
    file_ = dir / fmt::format("pipelines-{:04x}-{:04x}-{}.bin", p.vendorID, p.deviceID, uuid);
    std::ifstream in(file_, std::ios::binary);
    if (in) data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  // A corrupt file is the driver's to reject; fall back to an empty cache rather than failing.
  if (vkCreatePipelineCache(device.handle(), &ci, nullptr, &cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    check(vkCreatePipelineCache(device.handle(), &ci, nullptr, &cache_), "vkCreatePipelineCache");
  } else {
    loaded_ = !data.empty();
  }
}

void PipelineCache::save() {
  if (file_.empty() || !cache_) return;
  size_t size = 0;
  if (vkGetPipelineCacheData(device_.handle(), cache_, &size, nullptr) != VK_SUCCESS || size == 0) return;
  std::vector<char> data(size);
  if (vkGetPipelineCacheData(device_.handle(), cache_, &size, data.data()) != VK_SUCCESS) return;
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  auto tmp = file_;
  tmp += fmt::format(".tmp{}", reinterpret_cast<uintptr_t>(this));
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return;
    out.write(data.data(), std::streamsize(size));
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, file_, ec);  // atomic replace; failure is not fatal
  if (ec) std::filesystem::remove(tmp, ec);
}

PipelineCache::~PipelineCache() {
  save();
  if (cache_) vkDestroyPipelineCache(device_.handle(), cache_, nullptr);
}

}  // namespace dlvk::vk
