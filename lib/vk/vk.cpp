#include "vk/vk.hpp"

namespace dlvk::vk {

const char* result_name(VkResult r) {
  switch (r) {
#define DLVK_CASE(x) case x: return #x;
    DLVK_CASE(VK_SUCCESS)
    DLVK_CASE(VK_NOT_READY)
    DLVK_CASE(VK_TIMEOUT)
    DLVK_CASE(VK_INCOMPLETE)
    DLVK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    DLVK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    DLVK_CASE(VK_ERROR_INITIALIZATION_FAILED)
    DLVK_CASE(VK_ERROR_DEVICE_LOST)
    DLVK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    DLVK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    DLVK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    DLVK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    DLVK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    DLVK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    DLVK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    DLVK_CASE(VK_ERROR_FRAGMENTED_POOL)
    DLVK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    DLVK_CASE(VK_ERROR_INVALID_SHADER_NV)
#undef DLVK_CASE
    default: return "VK_ERROR_UNKNOWN";
  }
}

void check(VkResult r, std::string_view call, std::string_view context) {
  if (r == VK_SUCCESS) return;
  Status status = Status::vulkan_error;
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) status = Status::out_of_device_memory;
  if (context.empty()) fail(status, "{} failed: {}", call, result_name(r));
  fail(status, "{} failed ({}): {}", call, context, result_name(r));
}

}  // namespace dlvk::vk
