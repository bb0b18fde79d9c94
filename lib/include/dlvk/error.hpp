// dlvk errors: every failure is a dlvk::Error carrying a status code (mirrored by the C API) and a
// one-line message with context (file, tensor, call, limit).
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace dlvk {

enum class Status : int {
  ok = 0,
  invalid_argument = 1,      // bad option, bad token id, empty input
  io_error = 2,              // missing/unreadable file or directory
  bad_model = 3,             // config.json / safetensors / tokenizer.json content is wrong
  unsupported = 4,           // valid but not implemented (rope type, dtype, tokenizer component)
  no_device = 5,             // no Vulkan loader or no usable device
  out_of_device_memory = 6,  // allocation failed or would not fit
  vulkan_error = 7,          // any other Vulkan failure
  context_full = 8,          // prompt/generation longer than the KV cache
  cancelled = 9,             // a callback asked to stop
  internal = 10,
};

const char* status_name(Status s);

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

template <typename... Args>
[[noreturn]] void fail(Status status, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(status, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace dlvk
