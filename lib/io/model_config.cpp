#include "dlvk/model_config.hpp"

#include <cmath>
#include <limits>
#include <numbers>

#include "dlvk/error.hpp"
#include "io/json_util.hpp"

namespace dlvk {

namespace fs = std::filesystem;
using json = nlohmann::json;
using io_detail::json_type_name;

const char* name(RopeType t) {
  switch (t) {
    case RopeType::default_: return "default";
    case RopeType::linear: return "linear";
    case RopeType::llama3: return "llama3";
  }
  return "?";
}

const char* name(Activation a) {
  switch (a) {
    case Activation::silu: return "silu";
    case Activation::gelu: return "gelu";
  }
  return "?";
}

std::optional<DType> dtype_from_torch_name(std::string_view s) {
  if (s.starts_with("torch.")) s.remove_prefix(6);
  if (s == "float32" || s == "float" || s == "fp32") return DType::f32;
  if (s == "float16" || s == "half" || s == "fp16") return DType::f16;
  if (s == "bfloat16" || s == "bf16") return DType::bf16;
  return std::nullopt;
}

namespace {

constexpr size_t kMaxConfigBytes = 16u << 20;

// A short rendering of a JSON value for error messages (never a huge dump).
std::string show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 48) s = s.substr(0, 45) + "...";
  return s;
}

// Key lookup within one JSON object; `path` is how the object is named in messages ("" for the top
// level, "rope_parameters." for a nested one).
struct Obj {
  const json& j;
  const std::string& where;
  std::string path;

  // nullptr when the key is absent or null (HF writes explicit nulls for "unset").
  const json* get(std::string_view key) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
  }
  bool has(std::string_view key) const { return get(key) != nullptr; }

  [[noreturn]] void type_error(std::string_view key, const json& v, const char* expected) const {
    fail(Status::bad_model, "{}: {}{} must be {}, got {} {}", where, path, key, expected,
         json_type_name(v), show(v));
  }

  static std::optional<int64_t> as_int(const json& v) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return int64_t(u);
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {  // accept integral floats such as 2048.0
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0)
        return int64_t(d);
    }
    return std::nullopt;
  }

  std::optional<int64_t> opt_int(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    auto r = as_int(*v);
    if (!r && v->is_number_unsigned())
      fail(Status::bad_model, "{}: {}{} = {} is out of range", where, path, key, show(*v));
    if (!r) type_error(key, *v, "an integer");
    return r;
  }
  int64_t req_int(std::string_view key) const {
    auto r = opt_int(key);
    if (!r) fail(Status::bad_model, "{}: required key {}{} is missing", where, path, key);
    return *r;
  }
  std::optional<double> opt_number(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) type_error(key, *v, "a number");
    return v->get<double>();
  }
  std::optional<bool> opt_bool(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) type_error(key, *v, "a boolean");
    return v->get<bool>();
  }
  std::optional<std::string> opt_string(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) type_error(key, *v, "a string");
    return v->get<std::string>();
  }
  const json* opt_object(std::string_view key) const {
    const json* v = get(key);
    if (v && !v->is_object()) type_error(key, *v, "an object");
    return v;
  }

  // A token id: int32 range; negative means "none" (some configs write -1).
  std::optional<int32_t> token_id(std::string_view key, const json& v) const {
    auto r = as_int(v);
    if (!r) type_error(key, v, "an integer token id");
    if (*r > std::numeric_limits<int32_t>::max())
      fail(Status::bad_model, "{}: {}{} = {} exceeds the int32 token id range", where, path, key,
           *r);
    if (*r < 0) return std::nullopt;
    return int32_t(*r);
  }
  std::optional<int32_t> opt_token_id(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    return token_id(key, *v);
  }
  // eos_token_id: an int or a list of ints.
  void append_eos(std::string_view key, std::vector<int32_t>& out) const {
    const json* v = get(key);
    if (!v) return;
    auto add = [&](const json& e) {
      if (auto id = token_id(key, e)) {
        bool dup = false;
        for (int32_t x : out) dup = dup || x == *id;
        if (!dup) out.push_back(*id);
      }
    };
    if (v->is_array()) {
      for (const json& e : *v) add(e);
    } else if (v->is_number()) {
      add(*v);
    } else {
      type_error(key, *v, "an integer or a list of integers");
    }
  }
};

void check_range(const std::string& where, std::string_view key, int64_t v, int64_t lo,
                 int64_t hi) {
  if (v < lo || v > hi)
    fail(Status::bad_model, "{}: {} = {} is out of range [{}, {}]", where, key, v, lo, hi);
}

void check_matrix(const std::string& where, std::string_view what, int64_t rows, int64_t cols) {
  // rows, cols < 2^31 each, so the product cannot overflow int64.
  if (rows * cols > kMaxMatrixElements)
    fail(Status::bad_model, "{}: {} would have {} x {} elements, above the limit of {}", where, what,
         rows, cols, kMaxMatrixElements);
}

double finite_positive(const std::string& where, std::string_view key, double v) {
  if (!std::isfinite(v) || v <= 0)
    fail(Status::bad_model, "{}: {} = {} must be a finite positive number", where, key, v);
  return v;
}

}  // namespace

ModelConfig ModelConfig::parse(std::string_view json_text, const std::string& where) {
  const json j = io_detail::parse_json_object(json_text, where);
  const Obj top{j, where, ""};
  ModelConfig c;

  if (auto mt = top.opt_string("model_type"); mt && *mt != "diffllama")
    fail(Status::unsupported, "{}: model_type '{}' is not supported (dlvk runs 'diffllama')", where,
         *mt);

  c.vocab_size = top.req_int("vocab_size");
  c.hidden_size = top.req_int("hidden_size");
  c.intermediate_size = top.req_int("intermediate_size");
  c.num_layers = top.req_int("num_hidden_layers");
  c.num_heads = top.req_int("num_attention_heads");
  check_range(where, "vocab_size", c.vocab_size, 1, kMaxDim);
  check_range(where, "hidden_size", c.hidden_size, 1, kMaxDim);
  check_range(where, "intermediate_size", c.intermediate_size, 1, kMaxDim);
  check_range(where, "num_hidden_layers", c.num_layers, 1, kMaxLayers);
  check_range(where, "num_attention_heads", c.num_heads, 1, kMaxHeads);
  if (c.num_heads % 2 != 0)
    fail(Status::bad_model,
         "{}: num_attention_heads = {} must be even (differential attention pairs heads)", where,
         c.num_heads);

  c.num_kv_heads = top.opt_int("num_key_value_heads").value_or(c.num_heads);
  check_range(where, "num_key_value_heads", c.num_kv_heads, 1, c.num_heads);
  if (c.num_heads % c.num_kv_heads != 0)
    fail(Status::bad_model, "{}: num_key_value_heads = {} does not divide num_attention_heads = {}",
         where, c.num_kv_heads, c.num_heads);

  if (auto hd = top.opt_int("head_dim")) {
    c.head_dim = *hd;
    check_range(where, "head_dim", c.head_dim, 2, kMaxHeadDim);
  } else {
    c.head_dim = c.hidden_size / c.num_heads;  // floor, like transformers
    if (c.head_dim < 2 || c.head_dim > kMaxHeadDim)
      fail(Status::bad_model,
           "{}: head_dim = hidden_size / num_attention_heads = {} / {} = {} is out of range [2, {}]",
           where, c.hidden_size, c.num_heads, c.head_dim, kMaxHeadDim);
  }
  if (c.head_dim % 2 != 0)
    fail(Status::bad_model, "{}: head_dim = {} must be even (RoPE rotates halves)", where,
         c.head_dim);
  if (c.num_heads * c.head_dim > kMaxDim)
    fail(Status::bad_model, "{}: num_attention_heads * head_dim = {} exceeds {}", where,
         c.num_heads * c.head_dim, kMaxDim);
  check_matrix(where, "embed_tokens / lm_head", c.vocab_size, c.hidden_size);
  check_matrix(where, "gate_proj / up_proj / down_proj", c.intermediate_size, c.hidden_size);
  check_matrix(where, "q_proj / o_proj", c.num_heads * c.head_dim, c.hidden_size);

  if (auto act = top.opt_string("hidden_act")) {
    if (*act == "silu" || *act == "swish") c.activation = Activation::silu;
    else if (*act == "gelu") c.activation = Activation::gelu;
    else
      fail(Status::unsupported,
           "{}: hidden_act '{}' is not supported (supported: silu, gelu = exact erf GELU)", where,
           *act);
  }

  c.max_position_embeddings = top.opt_int("max_position_embeddings").value_or(2048);
  check_range(where, "max_position_embeddings", c.max_position_embeddings, 1, kMaxDim);

  if (auto eps = top.opt_number("rms_norm_eps")) {
    if (!std::isfinite(*eps) || *eps < 0 || *eps > 1)
      fail(Status::bad_model, "{}: rms_norm_eps = {} must be in [0, 1]", where, *eps);
    c.rms_norm_eps = float(*eps);
  }

  // RoPE: v5 rope_parameters (theta inside) or v4 rope_theta + rope_scaling.
  const json* rope_params = top.opt_object("rope_parameters");
  const json* rope_scaling = top.opt_object("rope_scaling");
  const json* rp = rope_params ? rope_params : rope_scaling;
  const std::string rp_path = rope_params ? "rope_parameters." : "rope_scaling.";
  std::optional<double> theta = top.opt_number("rope_theta");
  std::string rope_type = "default";
  if (rp) {
    const Obj r{*rp, where, rp_path};
    for (auto it = rp->begin(); it != rp->end(); ++it)
      if (it->is_object())
        fail(Status::unsupported,
             "{}: {}{} is a nested object (per-layer-type RoPE parameters are not supported)", where,
             rp_path, it.key());
    if (auto t = r.opt_number("rope_theta")) theta = t;
    if (auto t = r.opt_string("rope_type")) rope_type = *t;
    else if (auto t2 = r.opt_string("type")) rope_type = *t2;

    if (rope_type == "linear" || rope_type == "llama3") {
      auto f = r.opt_number("factor");
      if (!f) fail(Status::bad_model, "{}: {}factor is required for rope_type '{}'", where, rp_path,
                   rope_type);
      c.rope_factor = finite_positive(where, rp_path + "factor", *f);
    }
    if (rope_type == "llama3") {
      auto lo = r.opt_number("low_freq_factor");
      auto hi = r.opt_number("high_freq_factor");
      if (!lo) fail(Status::bad_model, "{}: {}low_freq_factor is required for rope_type 'llama3'",
                    where, rp_path);
      if (!hi) fail(Status::bad_model, "{}: {}high_freq_factor is required for rope_type 'llama3'",
                    where, rp_path);
      c.low_freq_factor = finite_positive(where, rp_path + "low_freq_factor", *lo);
      c.high_freq_factor = finite_positive(where, rp_path + "high_freq_factor", *hi);
      if (!(c.high_freq_factor > c.low_freq_factor))
        fail(Status::bad_model,
             "{}: {}high_freq_factor = {} must be greater than low_freq_factor = {}", where, rp_path,
             c.high_freq_factor, c.low_freq_factor);
      auto orig = r.opt_int("original_max_position_embeddings");
      if (!orig) orig = top.opt_int("original_max_position_embeddings");
      c.original_max_position_embeddings = orig.value_or(c.max_position_embeddings);
      check_range(where, rp_path + "original_max_position_embeddings",
                  c.original_max_position_embeddings, 1, kMaxDim);
    }
  }
  if (!theta) theta = 10000.0;
  c.rope_theta = finite_positive(where, rope_params ? "rope_parameters.rope_theta" : "rope_theta",
                                 *theta);
  if (rope_type == "default") c.rope_type = RopeType::default_;
  else if (rope_type == "linear") c.rope_type = RopeType::linear;
  else if (rope_type == "llama3") c.rope_type = RopeType::llama3;
  else if (rope_type == "dynamic" || rope_type == "yarn" || rope_type == "longrope" ||
           rope_type == "su" || rope_type == "ntk")
    fail(Status::unsupported, "{}: {}rope_type '{}' is not supported yet", where, rp_path,
         rope_type);
  else
    fail(Status::bad_model, "{}: {}rope_type '{}' is unknown (expected default, linear or llama3)",
         where, rp_path, rope_type);
  if (c.rope_type != RopeType::llama3)
    c.original_max_position_embeddings = c.max_position_embeddings;

  c.attention_bias = top.opt_bool("attention_bias").value_or(false);
  c.tie_word_embeddings = top.opt_bool("tie_word_embeddings").value_or(false);

  c.bos_token_id = top.opt_token_id("bos_token_id");
  c.pad_token_id = top.opt_token_id("pad_token_id");
  top.append_eos("eos_token_id", c.eos_token_ids);

  std::optional<std::string> dt = top.opt_string("dtype");
  if (!dt) dt = top.opt_string("torch_dtype");
  if (dt) c.dtype = dtype_from_torch_name(*dt);  // unknown names ("auto", ...) are informational
  return c;
}

ModelConfig ModelConfig::load(const fs::path& model_dir) {
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec))
    fail(Status::io_error, "{}: model directory not found", model_dir.string());
  const fs::path cfg_path = model_dir / "config.json";
  ModelConfig c = parse(io_detail::read_file_limited(cfg_path, kMaxConfigBytes), cfg_path.string());

  const fs::path gen_path = model_dir / "generation_config.json";
  if (fs::exists(gen_path, ec))
    c.merge_generation_config(io_detail::read_file_limited(gen_path, kMaxConfigBytes), gen_path.string());
  return c;
}

void ModelConfig::merge_generation_config(std::string_view json_text, const std::string& where) {
  if (json_text.size() > kMaxConfigBytes)
    fail(Status::bad_model, "{}: {} bytes is over the limit of {} bytes", where, json_text.size(), kMaxConfigBytes);
  const json g = io_detail::parse_json_object(json_text, where);
  const Obj gen{g, where, ""};
  gen.append_eos("eos_token_id", eos_token_ids);
  if (!bos_token_id) bos_token_id = gen.opt_token_id("bos_token_id");
  if (!pad_token_id) pad_token_id = gen.opt_token_id("pad_token_id");
}

std::vector<float> ModelConfig::rope_inv_freq() const {
  const int64_t half = head_dim / 2;
  std::vector<float> inv(size_t(std::max<int64_t>(half, 0)));
  const float base = float(rope_theta);
  const float dim = float(head_dim);
  for (int64_t i = 0; i < half; ++i) {
    const float expo = float(2 * i) / dim;
    inv[size_t(i)] = 1.0f / std::pow(base, expo);
  }
  if (rope_type == RopeType::linear) {
    const float f = float(rope_factor);
    for (float& x : inv) x = x / f;
  } else if (rope_type == RopeType::llama3) {
    // transformers _compute_llama3_parameters, with its f32 tensor arithmetic (Python scalars are
    // rounded to f32 when they meet an f32 tensor).
    const float f = float(rope_factor);
    const float lo = float(low_freq_factor);
    const float hi_minus_lo = float(high_freq_factor - low_freq_factor);
    const float L = float(original_max_position_embeddings);
    const float low_freq_wavelen = float(double(original_max_position_embeddings) / low_freq_factor);
    const float high_freq_wavelen =
        float(double(original_max_position_embeddings) / high_freq_factor);
    const float two_pi = float(2.0 * std::numbers::pi);
    for (float& x : inv) {
      const float wavelen = two_pi / x;
      const float scaled = wavelen > low_freq_wavelen ? x / f : x;
      if (wavelen < high_freq_wavelen || wavelen > low_freq_wavelen) {
        x = scaled;
      } else {
        const float s = (L / wavelen - lo) / hi_minus_lo;
        x = (1.0f - s) * scaled / f + s * scaled;
      }
    }
  }
  return inv;
}

float ModelConfig::lambda_init(int64_t layer) const {
  return float(0.8 - 0.6 * std::exp(-0.3 * double(layer)));
}

}  // namespace dlvk
