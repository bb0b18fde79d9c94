// dlvk::Tokenizer: builds the pipeline from tokenizer.json and runs it like HF's TokenizerImpl:
//   added tokens (raw) -> normalizer -> added tokens (normalized) -> pre-tokenizer -> BPE model
//   -> truncation -> post-processor -> padding
// and decode: ids -> token strings (added tokens first) -> decoder chain -> concatenation.
#include <fstream>
#include <sstream>

#include "dlvk/tokenizer.hpp"
#include "text/text_internal.hpp"

namespace dlvk {

namespace text {

namespace {

std::optional<std::string> config_token(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return std::nullopt;
}

std::unique_ptr<TokenizerImpl> build(std::string_view text, const std::string& origin) {
  auto impl = std::make_unique<TokenizerImpl>();
  impl->origin = origin;
  RawTokenizerJson raw = parse_tokenizer_json(text, origin);
  BuildContext ctx{origin};
  const json& doc = raw.doc;
  try {
    const json& model = ctx.need(doc, "model", "tokenizer.json");
    std::string model_type = component_type(model);
    if (model_type.empty() && model.is_object() && raw.has_merges) model_type = "BPE";
    if (model_type != "BPE") {
      if (model_type.empty()) ctx.bad("model has no \"type\"");
      fail(Status::unsupported, "{}: model type \"{}\" is not supported by dlvk's tokenizer (only BPE)", origin,
           model_type);
    }
    if (!raw.has_merges) ctx.bad("BPE model has no \"merges\" list");

    auto get = [&](const char* key) -> const json& {
      static const json null_value;
      auto it = doc.find(key);
      return it == doc.end() ? null_value : *it;
    };
    impl->normalizer = make_normalizer(get("normalizer"), ctx);
    impl->pre_tokenizer = make_pre_tokenizer(get("pre_tokenizer"), ctx);
    impl->model = std::make_unique<BpeModel>(raw, model, ctx);
    impl->post_processor = make_post_processor(get("post_processor"), ctx);
    impl->decoder = make_decoder(get("decoder"), ctx);
    impl->added.build(get("added_tokens"), impl->normalizer.get(), *impl->model, ctx);

    // Id -> token table: the model's tokens, overridden by added tokens (as HF's decode looks them up).
    const auto& model_tokens = impl->model->id_to_token();
    size_t n = model_tokens.size();
    for (const auto& t : impl->added.tokens()) n = std::max(n, static_cast<size_t>(t.id) + 1);
    reserve_huge(impl->id_to_token, n);
    impl->id_to_token.assign(n, std::string_view());
    impl->special.assign(n, 0);
    for (size_t id = 0; id < model_tokens.size(); ++id) {
      if (model_tokens[id].data() != nullptr) {
        impl->id_to_token[id] = model_tokens[id];
        impl->special[id] = 1;
      }
    }
    for (const auto& t : impl->added.tokens()) {
      impl->id_to_token[t.id] = t.content;
      impl->special[t.id] = t.special ? 2 : 1;
    }

    const json& trunc = get("truncation");
    if (!trunc.is_null()) {
      const json& max_len = ctx.need(trunc, "max_length", "truncation");
      if (!max_len.is_number_unsigned()) ctx.bad("truncation.max_length is not a count");
      impl->trunc_max = max_len.get<size_t>();
      impl->trunc_left = trunc.value("direction", std::string("Right")) == "Left";
    }
    const json& pad = get("padding");
    if (!pad.is_null()) {
      const json& strategy = ctx.need(pad, "strategy", "padding");
      if (strategy.is_object() && strategy.contains("Fixed")) impl->pad_fixed = strategy["Fixed"].get<size_t>();
      else if (strategy == "BatchLongest") impl->pad_batch_longest = true;
      else ctx.bad(fmt::format("padding: unknown strategy {}", strategy.dump()));
      impl->pad_left = pad.value("direction", std::string("Right")) == "Left";
      if (pad.contains("pad_to_multiple_of") && pad["pad_to_multiple_of"].is_number_unsigned()) {
        impl->pad_multiple = pad["pad_to_multiple_of"].get<size_t>();
      }
      impl->pad_id = pad.value("pad_id", 0);
    }
  } catch (const nlohmann::json::exception& e) {
    fail(Status::bad_model, "{}: unexpected tokenizer.json content: {}", origin, e.what());
  }

  // Best-effort BOS/EOS from the template, then well-known names.
  auto named = [&](std::initializer_list<const char*> names) -> std::optional<int32_t> {
    for (const char* name : names) {
      for (const auto& t : impl->added.tokens())
        if (t.content == name) return t.id;
      if (auto id = impl->model->token_to_id(name)) return id;
    }
    return std::nullopt;
  };
  if (impl->post_processor) {
    impl->bos = impl->post_processor->leading_special();
    impl->eos = impl->post_processor->trailing_special();
  }
  if (!impl->bos) impl->bos = named({"<|begin_of_text|>", "<bos>", "<s>", "<|startoftext|>"});
  if (!impl->eos) impl->eos = named({"<|end_of_text|>", "<eos>", "</s>", "<|endoftext|>"});
  return impl;
}

}  // namespace

void TokenizerImpl::encode_into(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<AddedVocabulary::Split> raw_splits, norm_splits;
  auto to_model = [&](std::string_view piece, bool) { model->tokenize(piece, out); };
  if (added.has(false)) added.split(text, false, raw_splits);
  else if (!text.empty()) raw_splits.push_back({0, text.size(), -1});
  for (const auto& rs : raw_splits) {
    if (rs.token >= 0) {
      out.push_back(added.tokens()[rs.token].id);
      continue;
    }
    std::string norm(text.substr(rs.start, rs.end - rs.start));
    if (normalizer) normalizer->normalize(norm);
    norm_splits.clear();
    if (added.has(true)) added.split(norm, true, norm_splits);
    else if (!norm.empty()) norm_splits.push_back({0, norm.size(), -1});
    for (const auto& ns : norm_splits) {
      if (ns.token >= 0) {
        out.push_back(added.tokens()[ns.token].id);
        continue;
      }
      std::string_view piece = std::string_view(norm).substr(ns.start, ns.end - ns.start);
      if (pre_tokenizer) pre_tokenizer->split(piece, rs.start == 0 && ns.start == 0, to_model);
      else model->tokenize(piece, out);
    }
  }
}

}  // namespace text

Tokenizer::Tokenizer(std::unique_ptr<text::TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json(std::string_view json_text, std::string_view origin) {
  return Tokenizer(text::build(json_text, std::string(origin)));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& path_in) {
  namespace fs = std::filesystem;
  using text::reserve_huge;
  std::error_code ec;
  fs::path path = path_in;
  if (fs::is_directory(path, ec)) path /= "tokenizer.json";
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(Status::io_error, "{}: cannot open tokenizer file", path.string());
  std::string data;
  f.seekg(0, std::ios::end);
  auto size = f.tellg();
  if (size < 0) fail(Status::io_error, "{}: cannot read tokenizer file", path.string());
  reserve_huge(data, static_cast<size_t>(size));
  data.resize(static_cast<size_t>(size));
  f.seekg(0);
  if (!f.read(data.data(), size)) fail(Status::io_error, "{}: cannot read tokenizer file", path.string());
  Tokenizer tok = from_json(data, path.string());

  // tokenizer_config.json beside it names the BOS/EOS tokens of the model (best effort).
  fs::path config_path = path.parent_path() / "tokenizer_config.json";
  std::ifstream cf(config_path, std::ios::binary);
  if (cf) {
    std::stringstream ss;
    ss << cf.rdbuf();
    text::json config = text::json::parse(ss.str(), nullptr, false);
    if (config.is_object()) {
      if (auto name = text::config_token(config, "bos_token")) {
        if (auto id = tok.token_id(*name)) tok.impl_->bos = id;
      }
      if (auto name = text::config_token(config, "eos_token")) {
        if (auto id = tok.token_id(*name)) tok.impl_->eos = id;
      }
    }
  }
  return tok;
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool add_special) const {
  size_t bad = text::utf8_invalid_offset(input);
  if (bad != std::string_view::npos) {
    fail(Status::invalid_argument, "tokenizer ({}): input text is not valid UTF-8 (byte offset {})", impl_->origin, bad);
  }
  std::vector<int32_t> ids;
  ids.reserve(input.size() / 3 + 4);
  impl_->encode_into(input, ids);
  const auto& impl = *impl_;
  if (impl.trunc_max) {
    size_t added = impl.post_processor ? impl.post_processor->added_count(add_special) : 0;
    size_t keep = *impl.trunc_max > added ? *impl.trunc_max - added : 0;
    if (ids.size() > keep) {
      if (impl.trunc_left) ids.erase(ids.begin(), ids.end() - static_cast<ptrdiff_t>(keep));
      else ids.resize(keep);
    }
  }
  if (impl.post_processor) impl.post_processor->process(ids, add_special);
  if (impl.pad_fixed || impl.pad_batch_longest) {
    size_t target = impl.pad_fixed ? std::max(*impl.pad_fixed, ids.size()) : ids.size();
    if (impl.pad_multiple > 0 && target % impl.pad_multiple != 0) target += impl.pad_multiple - target % impl.pad_multiple;
    if (target > ids.size()) {
      if (impl.pad_left) ids.insert(ids.begin(), target - ids.size(), impl.pad_id);
      else ids.resize(target, impl.pad_id);
    }
  }
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const auto& impl = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= impl.special.size() || impl.special[id] == 0) {
      fail(Status::invalid_argument, "tokenizer ({}): cannot decode unknown token id {} (vocabulary size {})",
           impl.origin, id, impl.special.size());
    }
    if (skip_special && impl.special[id] == 2) continue;
    tokens.emplace_back(impl.id_to_token[id]);
  }
  std::string out;
  if (impl.decoder) {
    impl.decoder->decode_chain(tokens);
    for (const auto& t : tokens) out += t;
  } else {
    for (size_t k = 0; k < tokens.size(); ++k) {
      if (k) out.push_back(' ');
      out += tokens[k];
    }
  }
  return out;
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->special.size()); }

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  for (const auto& t : impl_->added.tokens())
    if (t.content == token) return t.id;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->special.size() || impl_->special[id] == 0) return std::nullopt;
  return std::string(impl_->id_to_token[id]);
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[id] == 2;
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }

}  // namespace dlvk
