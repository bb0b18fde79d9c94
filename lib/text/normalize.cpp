// Normalizers of tokenizer.json. Implemented: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Replace,
// Prepend, Strip, StripAccents, ByteLevel. Anything else fails with Status::unsupported.
#include "text/text_internal.hpp"

namespace dlvk::text {

namespace {

class SequenceNormalizer : public Normalizer {
 public:
  std::vector<std::unique_ptr<Normalizer>> items;
  void normalize(std::string& s) const override {
    for (const auto& n : items) n->normalize(s);
  }
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormForm form) : form_(form) {}
  void normalize(std::string& s) const override { s = unicode_normalize(s, form_); }

 private:
  NormForm form_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(std::string& s) const override { s = unicode_lowercase(s); }
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& j, const BuildContext& ctx)
      : pattern_(ctx.need(j, "pattern", "Replace normalizer"), ctx.origin + ": Replace normalizer"),
        content_(ctx.get_string(j, "content", "Replace normalizer")) {}
  void normalize(std::string& s) const override { s = pattern_.replace_all(s, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  void normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& s) const override {
    size_t begin = 0, end = s.size();
    if (left_) {
      size_t i = 0;
      while (i < end) {
        size_t j = i;
        if (!is_whitespace(utf8_next(s, j))) break;
        i = j;
      }
      begin = i;
    }
    if (right_) {
      while (end > begin) {
        size_t k = end - 1;
        while (k > begin && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t j = k;
        if (!is_whitespace(utf8_next(s, j))) break;
        end = k;
      }
    }
    s = s.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
      size_t start = i;
      char32_t c = utf8_next(s, i);
      if (c < 0x80 || !is_combining_mark(c)) out.append(s, start, i - start);
    }
    s = std::move(out);
  }
};

class ByteLevelNormalizer : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char c : s) out += byte_to_unicode(c);
    s = std::move(out);
  }
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const BuildContext& ctx) {
  if (j.is_null()) return nullptr;
  std::string type = component_type(j);
  if (type == "Sequence") {
    return make_sequence<SequenceNormalizer>(j, "normalizers", "Sequence normalizer", ctx, make_normalizer);
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormForm::nfc);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormForm::nfd);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormForm::nfkc);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormForm::nfkd);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(j, ctx);
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(ctx.get_string(j, "prepend", "Prepend normalizer"));
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(ctx.get_bool(j, "strip_left", true), ctx.get_bool(j, "strip_right", true));
  }
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  ctx.unsupported("normalizer", j);
}

}  // namespace dlvk::text
