// tokenizer.json parsing: one SAX pass with nlohmann-json. model.vocab and model.merges (most of the
// file: 128k tokens and 280k merges for Llama-3) go straight into compact arrays; the rest becomes a
// small DOM that the component factories read.
#include "text/text_internal.hpp"

namespace dlvk::text {

namespace {

class Sax : public nlohmann::json_sax<json> {
 public:
  explicit Sax(RawTokenizerJson& raw) : raw_(raw) {}
  std::string error;

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::vocab) return vocab_entry(v);
    return value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::vocab) {
      if (v > static_cast<number_unsigned_t>(INT32_MAX)) return fail_with("vocab id out of range");
      return vocab_entry(static_cast<int64_t>(v));
    }
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override {
    if (mode_ == Mode::vocab) return fail_with("vocab ids must be integers");
    return value(json(v));
  }
  bool string(string_t& s) override {
    if (mode_ == Mode::merges) {
      size_t sp = s.find(' ');
      if (sp == std::string::npos) {
        return fail_with(fmt::format("merge #{} \"{}\" has no space", raw_.merges.size(), s));
      }
      add_merge(std::string_view(s).substr(0, sp), std::string_view(s).substr(sp + 1));
      return true;
    }
    if (mode_ == Mode::merge_pair) {
      if (pair_count_ >= 2) return fail_with(fmt::format("merge #{} has more than 2 parts", raw_.merges.size()));
      pair_[pair_count_++] = std::move(s);
      return true;
    }
    if (mode_ == Mode::vocab) return fail_with("vocab ids must be integers");
    return value(json(std::move(s)));
  }
  bool binary(binary_t&) override { return fail_with("binary values are not JSON"); }

  bool start_object(std::size_t) override {
    if (mode_ == Mode::dom && at_model_key("vocab")) {
      mode_ = Mode::vocab;
      raw_.has_vocab = true;
      return true;
    }
    if (mode_ != Mode::dom) return fail_with("unexpected object in model.vocab/model.merges");
    return open(json::object());
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::vocab) {
      pending_key_ = std::move(k);
      return true;
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::vocab) {
      mode_ = Mode::dom;
      return true;
    }
    return close();
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::dom && at_model_key("merges")) {
      mode_ = Mode::merges;
      raw_.has_merges = true;
      return true;
    }
    if (mode_ == Mode::merges) {
      mode_ = Mode::merge_pair;
      pair_count_ = 0;
      return true;
    }
    if (mode_ != Mode::dom) return fail_with("unexpected array in model.vocab/model.merges");
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::merge_pair) {
      if (pair_count_ != 2) return fail_with(fmt::format("merge #{} does not have 2 parts", raw_.merges.size()));
      add_merge(pair_[0], pair_[1]);
      mode_ = Mode::merges;
      return true;
    }
    if (mode_ == Mode::merges) {
      mode_ = Mode::dom;
      return true;
    }
    return close();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    if (error.empty()) error = ex.what();
    return false;
  }

 private:
  enum class Mode { dom, vocab, merges, merge_pair };

  bool fail_with(std::string message) {
    error = std::move(message);
    return false;
  }
  // True when the value about to start is root["model"][name].
  bool at_model_key(std::string_view name) const {
    return stack_.size() == 2 && stack_keys_[1] == "model" && stack_[1]->is_object() && key_ == name;
  }
  json* place(json&& v) {
    if (stack_.empty()) {
      raw_.doc = std::move(v);
      return &raw_.doc;
    }
    json* top = stack_.back();
    if (top->is_array()) {
      top->push_back(std::move(v));
      return &top->back();
    }
    json& slot = (*top)[key_];
    slot = std::move(v);
    return &slot;
  }
  bool value(json&& v) {
    if (mode_ != Mode::dom) return fail_with("unexpected value in model.vocab/model.merges");
    place(std::move(v));
    return true;
  }
  bool open(json&& v) {
    std::string k = !stack_.empty() && stack_.back()->is_object() ? key_ : std::string();
    stack_.push_back(place(std::move(v)));
    stack_keys_.push_back(std::move(k));
    return true;
  }
  bool close() {
    stack_.pop_back();
    stack_keys_.pop_back();
    return true;
  }
  bool vocab_entry(int64_t id) {
    if (id < 0 || id > INT32_MAX) return fail_with(fmt::format("vocab id {} of \"{}\" out of range", id, pending_key_));
    raw_.vocab.push_back({static_cast<uint32_t>(raw_.vocab_arena.size()), static_cast<uint32_t>(pending_key_.size()),
                          static_cast<int32_t>(id)});
    raw_.vocab_arena.append(pending_key_);
    raw_.max_id = std::max(raw_.max_id, id);
    return true;
  }
  void add_merge(std::string_view a, std::string_view b) {
    auto& arena = raw_.merge_arena;
    RawTokenizerJson::Merge m{static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(a.size()), 0,
                              static_cast<uint32_t>(b.size())};
    arena.append(a);
    m.b_off = static_cast<uint32_t>(arena.size());
    arena.append(b);
    raw_.merges.push_back(m);
  }

  RawTokenizerJson& raw_;
  Mode mode_ = Mode::dom;
  std::vector<json*> stack_;
  std::vector<std::string> stack_keys_;
  std::string key_, pending_key_;
  std::string pair_[2];
  int pair_count_ = 0;
};

}  // namespace

RawTokenizerJson parse_tokenizer_json(std::string_view text, const std::string& origin) {
  RawTokenizerJson raw;
  // Generous reservations: pages that are never written cost nothing, regrowth copies would.
  reserve_huge(raw.vocab_arena, text.size() / 4);
  reserve_huge(raw.vocab, text.size() / 32);
  reserve_huge(raw.merge_arena, text.size() / 2);
  reserve_huge(raw.merges, text.size() / 16);
  Sax sax(raw);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const nlohmann::json::exception& e) {
    if (sax.error.empty()) sax.error = e.what();
  }
  if (!ok) {
    fail(Status::bad_model, "{}: invalid tokenizer JSON: {}", origin, sax.error.empty() ? "parse failed" : sax.error);
  }
  if (!raw.doc.is_object()) fail(Status::bad_model, "{}: invalid tokenizer JSON: top level is not an object", origin);
  return raw;
}

std::string component_type(const json& j) {
  if (j.is_object()) {
    auto it = j.find("type");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

void BuildContext::unsupported(std::string_view kind, const json& j) const {
  std::string type = component_type(j);
  if (type.empty()) fail(Status::bad_model, "{}: {} has no \"type\": {}", origin, kind, j.dump().substr(0, 200));
  fail(Status::unsupported, "{}: {} type \"{}\" is not supported by dlvk's tokenizer", origin, kind, type);
}

void BuildContext::bad(std::string_view what) const { fail(Status::bad_model, "{}: {}", origin, what); }

const json& BuildContext::need(const json& j, const char* key, std::string_view where) const {
  if (!j.is_object()) bad(fmt::format("{} is not an object", where));
  auto it = j.find(key);
  if (it == j.end()) bad(fmt::format("{} has no \"{}\"", where, key));
  return *it;
}

std::string BuildContext::get_string(const json& j, const char* key, std::string_view where) const {
  const json& v = need(j, key, where);
  if (!v.is_string()) bad(fmt::format("{}.{} is not a string", where, key));
  return v.get<std::string>();
}

bool BuildContext::get_bool(const json& j, const char* key, bool fallback) const {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) bad(fmt::format("\"{}\" is not a boolean", key));
  return it->get<bool>();
}

}  // namespace dlvk::text
