// Internals of the C API (dlvk.h): the handle structs and the exception-to-status guard every entry
// point runs its body in.
#pragma once
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dlvk/dlvk.h"
#include "dlvk/error.hpp"
#include "dlvk/sampler.hpp"
#include "dlvk/tokenizer.hpp"
#include "model/diffllama.hpp"
#include "vk/device.hpp"

namespace dlvk::capi {

// What a dlvk_model handle, its contexts and stream decoders share. Destroyed with the last of them.
struct ModelState {
  std::unique_ptr<vk::Device> device;
  std::unique_ptr<Model> model;
  std::optional<Tokenizer> tokenizer;
  std::recursive_mutex gpu;  // serializes the GPU work of all contexts of this model
  std::string device_name, profile;

  ~ModelState() {
    model.reset();  // weights before the device they live on
    device.reset();
  }
};

SamplingParams sampling_from_c(const dlvk_sampling_params& p);

// Held while a Vulkan instance is created (device list, model load): volk keeps the loaded entry
// points in globals that instance creation rewrites.
std::mutex& instance_mutex();

// Records a failure for dlvk_last_error() and returns its status. Never throws.
dlvk_status set_error(const char* function, dlvk_status status, const char* message) noexcept;
void clear_error() noexcept;

// Runs `body`; maps every exception to a status (dlvk::Error: its status; std::bad_alloc: out of memory;
// anything else: internal) with a one-line message prefixed by the function name.
template <typename F>
dlvk_status guard(const char* function, F&& body) noexcept {
  try {
    body();
    clear_error();
    return DLVK_OK;
  } catch (const Error& e) {
    dlvk_status s = e.status() == Status::ok ? DLVK_INTERNAL : static_cast<dlvk_status>(e.status());
    return set_error(function, s, e.what());
  } catch (const std::bad_alloc&) {
    return set_error(function, DLVK_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return set_error(function, DLVK_INTERNAL, e.what());
  } catch (...) {
    return set_error(function, DLVK_INTERNAL, "unknown exception");
  }
}

// Argument checks: Status::invalid_argument naming the argument.
template <typename T>
void need(const T* p, const char* name) {
  if (!p) fail(Status::invalid_argument, "argument '{}' is NULL", name);
}

// A text argument: (NULL, 0) is empty; DLVK_NUL_TERMINATED takes strlen.
inline std::string_view text_arg(const char* p, size_t size, const char* name) {
  if (!p) {
    if (size != 0 && size != DLVK_NUL_TERMINATED)
      fail(Status::invalid_argument, "argument '{}' is NULL with size {}", name, size);
    return {};
  }
  return size == DLVK_NUL_TERMINATED ? std::string_view(p) : std::string_view(p, size);
}

}  // namespace dlvk::capi

struct dlvk_model {
  std::shared_ptr<dlvk::capi::ModelState> state;
  std::vector<int32_t> eos;  // for dlvk_model_info.eos_token_ids
};

struct dlvk_context {
  std::shared_ptr<dlvk::capi::ModelState> model;
  std::unique_ptr<dlvk::Session> session;  // declared after `model`: destroyed first
  std::span<const float> logits;           // of the last eval; empty when there are none
  bool busy = false;                       // inside dlvk_generate (its callback must not re-enter)
};

namespace dlvk::capi {

// A context argument: not NULL (named `name`) and not inside its own generate callback.
inline void check_context(const dlvk_context* c, const char* name = "context") {
  need(c, name);
  if (c->busy) fail(Status::invalid_argument, "{} is busy (called from its own generate callback)", name);
}

}  // namespace dlvk::capi
