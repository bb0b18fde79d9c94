// Decoders (ids -> text): ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, BPEDecoder and
// Sequence, as HF's decode_chain; and the streaming detokenizer. Anything else: Status::unsupported.
#include "dlvk/tokenizer.hpp"
#include "text/text_internal.hpp"

namespace dlvk::text {

namespace {

class SequenceDecoder : public Decoder {
 public:
  std::vector<std::unique_ptr<Decoder>> items;
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : items) d->decode_chain(tokens);
  }
};

// Maps the GPT-2 characters back to bytes; a token with any other character stays as it is. The
// bytes of all tokens are joined and read as UTF-8 with U+FFFD for ill-formed parts.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      size_t begin = bytes.size();
      size_t i = 0;
      bool ok = true;
      while (i < t.size()) {
        int b = byte_from_unicode(utf8_next(t, i));
        if (b < 0) {
          ok = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!ok) {
        bytes.resize(begin);
        bytes += t;
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const json& j, const BuildContext& ctx)
      : pattern_(ctx.need(j, "pattern", "Replace decoder"), ctx.origin + ": Replace decoder"),
        content_(ctx.get_string(j, "content", "Replace decoder")) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    auto flush = [&]() {
      if (pending.empty()) return;
      if (utf8_invalid_offset(pending) == std::string::npos) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        auto hex = [](char c) {
          return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        };
        int hi = hex(t[3]), lo = hex(t[4]);
        if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
      }
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Strip: removes up to `start` leading and `stop` trailing copies of one character from every token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::vector<size_t> starts;  // character boundaries
      for (size_t i = 0; i < t.size(); i += utf8_len(static_cast<unsigned char>(t[i]))) starts.push_back(i);
      size_t n = starts.size();
      auto char_at = [&](size_t k) {
        size_t end = k + 1 < n ? starts[k + 1] : t.size();
        return std::string_view(t).substr(starts[k], end - starts[k]);
      };
      size_t first = 0;
      for (size_t k = 0; k < std::min(start_, n); ++k) {
        if (char_at(k) == content_) first = k + 1;
        else break;
      }
      size_t last = n;
      for (size_t k = 0; k < std::min(stop_, n); ++k) {
        size_t idx = n - k - 1;
        if (idx < first) break;
        if (char_at(idx) == content_) last = idx;
        else break;
      }
      size_t b = first < n ? starts[first] : t.size();
      size_t e = last < n ? starts[last] : t.size();
      t = e > b ? t.substr(b, e - b) : std::string();
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool prepend) : replacement_(std::move(replacement)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      std::string& t = tokens[k];
      std::string out;
      out.reserve(t.size());
      size_t i = 0;
      while (i < t.size()) {
        if (t.compare(i, replacement_.size(), replacement_) == 0) {
          if (!(k == 0 && prepend_)) out.push_back(' ');
          i += replacement_.size();
        } else {
          out.push_back(t[i++]);
        }
      }
      t = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool prepend_;
};

// BPEDecoder: the end-of-word suffix becomes a space (none after the last token).
class BpeSuffixDecoder : public Decoder {
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      Pattern p(json{{"String", suffix_}}, "BPEDecoder");
      tokens[k] = p.replace_all(tokens[k], k + 1 == tokens.size() ? "" : " ");
    }
  }

 private:
  std::string suffix_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const BuildContext& ctx) {
  if (j.is_null()) return nullptr;
  std::string type = component_type(j);
  if (type == "Sequence") {
    return make_sequence<SequenceDecoder>(j, "decoders", "Sequence decoder", ctx, make_decoder);
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(j, ctx);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    std::string content = ctx.get_string(j, "content", "Strip decoder");
    size_t i = 0;
    if (content.empty() || (utf8_next(content, i), i != content.size())) ctx.bad("Strip decoder: content must be one character");
    auto count = [&](const char* key) -> size_t {
      const json& v = ctx.need(j, key, "Strip decoder");
      if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
        ctx.bad(fmt::format("Strip decoder: \"{}\" is not a count", key));
      }
      return v.get<size_t>();
    };
    return std::make_unique<StripDecoder>(content, count("start"), count("stop"));
  }
  if (type == "Metaspace") {
    std::string replacement = j.contains("replacement") && j["replacement"].is_string()
                                  ? j["replacement"].get<std::string>()
                                  : std::string("\xE2\x96\x81");
    bool prepend = true;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      prepend = j["prepend_scheme"].get<std::string>() != "never";
    } else {
      prepend = ctx.get_bool(j, "add_prefix_space", true);
    }
    return std::make_unique<MetaspaceDecoder>(replacement, prepend);
  }
  if (type == "BPEDecoder") {
    std::string suffix = j.contains("suffix") && j["suffix"].is_string() ? j["suffix"].get<std::string>() : "</w>";
    if (suffix.empty()) ctx.bad("BPEDecoder: empty suffix");
    return std::make_unique<BpeSuffixDecoder>(suffix);
  }
  ctx.unsupported("decoder", j);
}

}  // namespace dlvk::text

namespace dlvk {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

void StreamDecoder::reset() {
  ids_.clear();
  prefix_index_ = 0;
  prefix_.clear();
}

// As HF's DecodeStream: decode the context ids plus the pending ids; emit what lies past the context's
// text once it does not end in U+FFFD (an incomplete character); the just-emitted ids become the
// context of the next step (so a decoder that depends on neighbours, e.g. a leading-space Strip, sees
// one token of context).
std::string StreamDecoder::push(int32_t id) {
  const auto& known = tokenizer_->impl_->special;  // 0: no token with this id
  if (id < 0 || static_cast<size_t>(id) >= known.size() || known[id] == 0) {
    fail(Status::invalid_argument, "tokenizer: stream decode: unknown token id {} (vocabulary size {})", id,
         tokenizer_->vocab_size());
  }
  ids_.push_back(id);
  std::string text = tokenizer_->decode(ids_, skip_special_);
  if (text.size() <= prefix_.size() || text::ends_with_replacement_char(text)) return {};
  std::string out;
  if (text.compare(0, prefix_.size(), prefix_) == 0) {
    out = text.substr(prefix_.size());
  } else {
    // The context decodes differently now (should not happen with the supported decoders): emit the
    // part after the common prefix, cut at a character boundary.
    size_t common = 0;
    while (common < prefix_.size() && common < text.size() && prefix_[common] == text[common]) ++common;
    while (common > 0 && (static_cast<unsigned char>(text[common]) & 0xC0) == 0x80) --common;
    out = text.substr(common);
  }
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_->decode(ids_, skip_special_);
  prefix_index_ = ids_.size();
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  if (ids_.size() > prefix_index_) {
    std::string text = tokenizer_->decode(ids_, skip_special_);
    if (text.size() > prefix_.size() && text.compare(0, prefix_.size(), prefix_) == 0) out = text.substr(prefix_.size());
  }
  reset();
  return out;
}

}  // namespace dlvk
