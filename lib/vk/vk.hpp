// Vulkan through volk: the library never links libvulkan; the loader is opened at run time, so an app
// on a machine without Vulkan starts and reports "no Vulkan" cleanly.
#pragma once
#include <volk.h>

#include <string>
#include <string_view>

#include "dlvk/error.hpp"

namespace dlvk::vk {

const char* result_name(VkResult r);

// Turns a failed Vulkan call into a dlvk::Error naming the call and what it was for.
// Out-of-memory results become Status::out_of_device_memory.
void check(VkResult r, std::string_view call, std::string_view context = {});

}  // namespace dlvk::vk
