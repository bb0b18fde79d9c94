#include "dlvk/error.hpp"

namespace dlvk {

const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::invalid_argument: return "invalid argument";
    case Status::io_error: return "I/O error";
    case Status::bad_model: return "bad model";
    case Status::unsupported: return "unsupported";
    case Status::no_device: return "no Vulkan device";
    case Status::out_of_device_memory: return "out of device memory";
    case Status::vulkan_error: return "Vulkan error";
    case Status::context_full: return "context full";
    case Status::cancelled: return "cancelled";
    case Status::internal: return "internal error";
  }
  return "unknown";
}

}  // namespace dlvk
