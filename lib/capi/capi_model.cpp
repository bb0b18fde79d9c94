// C API: loading models (directory or memory), model info, tokenization and the stream decoder.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "capi/capi_internal.hpp"
#include "dlvk/checkpoint.hpp"
#include "dlvk/model_config.hpp"

using namespace dlvk;
using dlvk::capi::guard;
using dlvk::capi::ModelState;
using dlvk::capi::need;
using dlvk::capi::text_arg;

namespace {

vk::DeviceOptions device_options(const dlvk_model_options& o) {
  vk::DeviceOptions d;
  if (o.device_index < -1) fail(Status::invalid_argument, "device_index {} is invalid (-1 or a device index)", o.device_index);
  if (o.validation < -1 || o.validation > 1)
    fail(Status::invalid_argument, "validation {} is invalid (-1, 0 or 1)", o.validation);
  if (o.profile) {
    vk::Capabilities probe;
    vk::apply_profile(probe, o.profile);  // unknown names fail before a device is opened
    d.profile = o.profile;
  }
  d.device_index = o.device_index;
  d.validation = o.validation;
  if (o.pipeline_cache_dir) d.pipeline_cache_dir = o.pipeline_cache_dir;
  if (o.device_name && *o.device_name) {
    if (o.device_index >= 0)
      fail(Status::invalid_argument, "give device_index or device_name, not both ({} and '{}')", o.device_index,
           o.device_name);
    std::unique_lock<std::mutex> lock(capi::instance_mutex());
    vk::Instance instance(/*validation=*/false);
    lock.unlock();
    std::string names;
    for (const auto& pd : instance.devices()) {
      if (pd.caps.device_name.find(o.device_name) != std::string::npos) {
        d.device_index = int(pd.index);
        return d;
      }
      names += (names.empty() ? "" : ", ") + ("'" + pd.caps.device_name + "'");
    }
    fail(Status::no_device, "no Vulkan device whose name contains '{}' (devices: {})", o.device_name,
         names.empty() ? "none" : names);
  }
  return d;
}

// Opens the device and uploads the weights; config, checkpoint and tokenizer are already validated.
dlvk_model* finish_load(ModelConfig config, const Checkpoint& ckpt, std::optional<Tokenizer> tokenizer,
                        const dlvk_model_options* options) {
  dlvk_model_options o = options ? *options : dlvk_model_options_default();
  vk::DeviceOptions dopt = device_options(o);
  auto state = std::make_shared<ModelState>();
  state->tokenizer = std::move(tokenizer);
  {
    std::lock_guard<std::mutex> lock(capi::instance_mutex());
    state->device = std::make_unique<vk::Device>(dopt);
  }
  LoadProgress progress;
  if (o.progress)
    progress = [&o](uint64_t done, uint64_t total) {
      if (o.progress(done, total, o.progress_user_data))
        fail(Status::cancelled, "model load cancelled by the progress callback ({} of {} bytes uploaded)", done, total);
    };
  state->model = Model::load(*state->device, std::move(config), ckpt, progress);
  state->device_name = state->device->caps().device_name;
  state->profile = state->device->caps().profile;
  auto handle = std::make_unique<dlvk_model>();
  handle->eos = state->model->config().eos_token_ids;
  handle->state = std::move(state);
  return handle.release();
}

const ModelState& state_of(const dlvk_model* model) {
  need(model, "model");
  return *model->state;
}

const Tokenizer& tokenizer_of(const dlvk_model* model) {
  const ModelState& s = state_of(model);
  if (!s.tokenizer)
    fail(Status::invalid_argument, "the model has no tokenizer (no tokenizer.json in its directory or source)");
  return *s.tokenizer;
}

}  // namespace

struct dlvk_stream_decoder {
  dlvk_stream_decoder(std::shared_ptr<ModelState> m, bool skip) : model(std::move(m)), decoder(*model->tokenizer, skip) {}
  std::shared_ptr<ModelState> model;  // keeps the tokenizer alive
  StreamDecoder decoder;
  std::string text;  // the last piece handed out
};

extern "C" {

dlvk_model_options dlvk_model_options_default(void) {
  dlvk_model_options o;
  o.device_index = -1;
  o.device_name = nullptr;
  o.profile = nullptr;
  o.validation = -1;
  o.pipeline_cache_dir = nullptr;
  o.progress = nullptr;
  o.progress_user_data = nullptr;
  return o;
}

dlvk_status dlvk_model_load(const char* dir, const dlvk_model_options* options, dlvk_model** out_model) {
  return guard(__func__, [&] {
    need(dir, "dir");
    need(out_model, "out_model");
    std::filesystem::path path(dir);
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec))
      fail(Status::io_error, "model directory '{}' does not exist or is not a directory", dir);
    ModelConfig config = ModelConfig::load(path);
    Checkpoint ckpt = Checkpoint::open(path);
    std::optional<Tokenizer> tok;
    if (std::filesystem::exists(path / "tokenizer.json", ec)) tok = Tokenizer::from_file(path / "tokenizer.json");
    *out_model = finish_load(std::move(config), ckpt, std::move(tok), options);
  });
}

dlvk_status dlvk_model_load_from_memory(const dlvk_model_source* source, const dlvk_model_options* options,
                                        dlvk_model** out_model) {
  return guard(__func__, [&] {
    need(source, "source");
    need(out_model, "out_model");
    need(source->config_json, "source->config_json");
    ModelConfig config =
        ModelConfig::parse(text_arg(source->config_json, source->config_json_size, "source->config_json"),
                           "memory:config.json");
    if (source->generation_config_json)
      config.merge_generation_config(text_arg(source->generation_config_json, source->generation_config_json_size,
                                              "source->generation_config_json"),
                                     "memory:generation_config.json");
    if (source->safetensors_count == 0) fail(Status::invalid_argument, "source->safetensors_count is 0 (no weights)");
    need(source->safetensors, "source->safetensors");
    std::vector<SafetensorsFile> files;
    for (size_t i = 0; i < source->safetensors_count; ++i) {
      const dlvk_buffer& b = source->safetensors[i];
      std::string label = "memory:safetensors[" + std::to_string(i) + "]";
      if (!b.data && b.size) fail(Status::invalid_argument, "{}: data is NULL with size {}", label, b.size);
      static const uint8_t empty = 0;
      // Borrowed, not copied: the weights are uploaded before this call returns.
      files.push_back(SafetensorsFile::from_memory(b.data ? b.data : &empty, b.size, /*copy=*/false, label));
    }
    Checkpoint ckpt = Checkpoint::from_files(std::move(files));
    std::optional<Tokenizer> tok;
    if (source->tokenizer_json)
      tok = Tokenizer::from_json(text_arg(source->tokenizer_json, source->tokenizer_json_size, "source->tokenizer_json"),
                                 "memory:tokenizer.json");
    *out_model = finish_load(std::move(config), ckpt, std::move(tok), options);
  });
}

void dlvk_model_free(dlvk_model* model) { delete model; }

dlvk_status dlvk_model_get_info(const dlvk_model* model, dlvk_model_info* out_info) {
  return guard(__func__, [&] {
    const ModelState& s = state_of(model);
    need(out_info, "out_info");
    const ModelConfig& c = s.model->config();
    dlvk_model_info i{};
    i.vocab_size = c.vocab_size;
    i.hidden_size = c.hidden_size;
    i.intermediate_size = c.intermediate_size;
    i.num_layers = c.num_layers;
    i.num_heads = c.num_heads;
    i.num_kv_heads = c.num_kv_heads;
    i.head_dim = c.head_dim;
    i.max_position_embeddings = c.max_position_embeddings;
    i.bos_token_id = c.bos_token_id ? *c.bos_token_id : -1;
    i.eos_token_ids = model->eos.data();
    i.eos_token_count = model->eos.size();
    i.has_tokenizer = s.tokenizer.has_value();
    i.tokenizer_vocab_size = s.tokenizer ? s.tokenizer->vocab_size() : 0;
    i.weights_bytes = s.model->weight_bytes();
    i.device_index = s.device->index();
    i.device_name = s.device_name.c_str();
    i.profile = s.profile.c_str();
    i.validation = s.device->instance().validation();
    *out_info = i;
  });
}

dlvk_status dlvk_model_validation_messages(const dlvk_model* model, uint64_t* out_count) {
  return guard(__func__, [&] {
    const ModelState& s = state_of(model);
    need(out_count, "out_count");
    *out_count = s.device->instance().validation_messages();
  });
}

dlvk_status dlvk_tokenize(const dlvk_model* model, const char* text, size_t text_size, int add_special, int32_t* ids,
                          size_t capacity, size_t* out_count) {
  return guard(__func__, [&] {
    const Tokenizer& tok = tokenizer_of(model);
    need(out_count, "out_count");
    if (capacity) need(ids, "ids");
    std::vector<int32_t> v = tok.encode(text_arg(text, text_size, "text"), add_special != 0);
    *out_count = v.size();
    if (capacity == 0 && !ids) return;  // size query
    if (v.size() > capacity)
      fail(Status::invalid_argument, "the text has {} tokens; the buffer holds {}", v.size(), capacity);
    std::copy(v.begin(), v.end(), ids);
  });
}

dlvk_status dlvk_detokenize(const dlvk_model* model, const int32_t* ids, size_t count, int skip_special, char* text,
                            size_t capacity, size_t* out_size) {
  return guard(__func__, [&] {
    const Tokenizer& tok = tokenizer_of(model);
    need(out_size, "out_size");
    if (count) need(ids, "ids");
    if (capacity) need(text, "text");
    std::string s = tok.decode({ids, count}, skip_special != 0);
    *out_size = s.size();
    if (capacity == 0 && !text) return;  // size query
    if (s.size() + 1 > capacity)
      fail(Status::invalid_argument, "the text has {} bytes (+1 for the NUL); the buffer holds {}", s.size(), capacity);
    std::memcpy(text, s.c_str(), s.size() + 1);
  });
}

dlvk_status dlvk_stream_decoder_create(const dlvk_model* model, int skip_special, dlvk_stream_decoder** out_decoder) {
  return guard(__func__, [&] {
    tokenizer_of(model);
    need(out_decoder, "out_decoder");
    *out_decoder = new dlvk_stream_decoder(model->state, skip_special != 0);
  });
}

dlvk_status dlvk_stream_decoder_push(dlvk_stream_decoder* decoder, int32_t id, const char** out_text,
                                     size_t* out_size) {
  return guard(__func__, [&] {
    need(decoder, "decoder");
    need(out_text, "out_text");
    need(out_size, "out_size");
    std::string piece = decoder->decoder.push(id);
    decoder->text = std::move(piece);
    *out_text = decoder->text.c_str();
    *out_size = decoder->text.size();
  });
}

dlvk_status dlvk_stream_decoder_flush(dlvk_stream_decoder* decoder, const char** out_text, size_t* out_size) {
  return guard(__func__, [&] {
    need(decoder, "decoder");
    need(out_text, "out_text");
    need(out_size, "out_size");
    decoder->text = decoder->decoder.flush();
    *out_text = decoder->text.c_str();
    *out_size = decoder->text.size();
  });
}

dlvk_status dlvk_stream_decoder_reset(dlvk_stream_decoder* decoder) {
  return guard(__func__, [&] {
    need(decoder, "decoder");
    decoder->decoder.reset();
    decoder->text.clear();
  });
}

void dlvk_stream_decoder_free(dlvk_stream_decoder* decoder) { delete decoder; }

}  // extern "C"
