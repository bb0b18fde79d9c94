// Pre-tokenizers of tokenizer.json. Implemented: Sequence, Split, ByteLevel, Metaspace, Digits,
// Whitespace, WhitespaceSplit, Punctuation, CharDelimiterSplit. Anything else: Status::unsupported.
#include <algorithm>

#include "text/text_internal.hpp"

namespace dlvk::text {

SplitBehavior parse_behavior(const json& j, const BuildContext& ctx) {
  std::string b = j.is_string() ? j.get<std::string>() : std::string();
  if (b == "Removed") return SplitBehavior::removed;
  if (b == "Isolated") return SplitBehavior::isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (b == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (b == "Contiguous") return SplitBehavior::contiguous;
  ctx.bad(fmt::format("unknown split behavior {}", j.dump()));
}

namespace {

// Streams the segments of a split (alternating non-match / match ranges, as HF's find_matches
// produces them, empty matches included) through the behavior's merging rule.
class Splitter {
 public:
  Splitter(std::string_view s, SplitBehavior behavior, bool first, PieceSink sink)
      : s_(s), behavior_(behavior), first_(first), sink_(sink) {}

  void segment(size_t start, size_t end, bool match) {
    switch (behavior_) {
      case SplitBehavior::removed:
        if (!match) emit(start, end);
        break;
      case SplitBehavior::isolated:
        emit(start, end);
        break;
      case SplitBehavior::merged_with_previous:
        if (match && !previous_match_ && has_pending_) {
          pending_end_ = end;
        } else {
          flush();
          hold(start, end);
        }
        break;
      case SplitBehavior::merged_with_next:
        // A match joins the segment after it when that one is not a match.
        if (has_pending_ && pending_match_ && !match) {
          pending_end_ = end;
          pending_match_ = false;
          flush();
        } else {
          flush();
          hold(start, end);
          pending_match_ = match;
        }
        break;
      case SplitBehavior::contiguous:
        if (match == previous_match_ && has_pending_) {
          pending_end_ = end;
        } else {
          flush();
          hold(start, end);
        }
        break;
    }
    previous_match_ = match;
  }
  void finish() { flush(); }

 private:
  void emit(size_t start, size_t end) {
    if (end > start) sink_(s_.substr(start, end - start), first_ && start == 0);
  }
  void hold(size_t start, size_t end) {
    has_pending_ = true;
    pending_start_ = start;
    pending_end_ = end;
  }
  void flush() {
    if (has_pending_) emit(pending_start_, pending_end_);
    has_pending_ = false;
  }
  std::string_view s_;
  SplitBehavior behavior_;
  bool first_;
  PieceSink sink_;
  bool previous_match_ = false, has_pending_ = false, pending_match_ = false;
  size_t pending_start_ = 0, pending_end_ = 0;
};

}  // namespace

void split_by_pattern(std::string_view s, const Pattern& pattern, bool invert, SplitBehavior behavior, bool first,
                      PieceSink sink) {
  if (s.empty()) return;
  Splitter splitter(s, behavior, first, sink);
  size_t prev = 0;
  pattern.find_each(s, [&](size_t start, size_t end) {
    if (prev != start) splitter.segment(prev, start, invert);
    splitter.segment(start, end, !invert);
    prev = end;
  });
  if (prev != s.size()) splitter.segment(prev, s.size(), invert);
  splitter.finish();
}

namespace {

class SequencePreTokenizer : public PreTokenizer {
 public:
  std::vector<std::unique_ptr<PreTokenizer>> items;
  void split(std::string_view piece, bool first, PieceSink sink) const override { run(0, piece, first, sink); }

 private:
  void run(size_t k, std::string_view piece, bool first, PieceSink sink) const {
    if (k == items.size()) {
      sink(piece, first);
      return;
    }
    items[k]->split(piece, first, [&](std::string_view p, bool f) { run(k + 1, p, f, sink); });
  }
};

// Split by a pattern with a behavior (also used for Digits, Whitespace, Punctuation).
class PatternPreTokenizer : public PreTokenizer {
 public:
  PatternPreTokenizer(std::unique_ptr<Pattern> pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void split(std::string_view piece, bool first, PieceSink sink) const override {
    split_by_pattern(piece, *pattern_, invert_, behavior_, first, sink);
  }

 private:
  std::unique_ptr<Pattern> pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

std::unique_ptr<PreTokenizer> regex_pre_tokenizer(const std::string& regex, SplitBehavior behavior, bool invert,
                                                  const BuildContext& ctx, std::string_view what) {
  json pattern = {{"Regex", regex}};
  return std::make_unique<PatternPreTokenizer>(std::make_unique<Pattern>(pattern, ctx.origin + ": " + std::string(what)),
                                               behavior, invert);
}

constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, const BuildContext& ctx)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) {
      pattern_ = std::make_unique<Pattern>(json{{"Regex", kGpt2Regex}}, ctx.origin + ": ByteLevel pre-tokenizer");
    }
  }
  void split(std::string_view piece, bool first, PieceSink sink) const override {
    std::string prefixed;
    if (add_prefix_space_ && piece[0] != ' ') {
      prefixed.reserve(piece.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(piece);
      piece = prefixed;
    }
    std::string mapped;
    auto map_bytes = [&](std::string_view part, bool f) {
      mapped.clear();
      for (unsigned char c : part) mapped += byte_to_unicode(c);
      sink(mapped, f);
    };
    if (pattern_) split_by_pattern(piece, *pattern_, false, SplitBehavior::isolated, first, map_bytes);
    else map_bytes(piece, first);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Pattern> pattern_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Prepend { always, first, never };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {
    pattern_ = std::make_unique<Pattern>(json{{"String", replacement_}}, "Metaspace");
  }
  void split(std::string_view piece, bool first, PieceSink sink) const override {
    std::string s;
    s.reserve(piece.size() + replacement_.size());
    for (char c : piece) {
      if (c == ' ') s += replacement_;
      else s.push_back(c);
    }
    bool starts = s.compare(0, replacement_.size(), replacement_) == 0;
    if (!starts && (prepend_ == Prepend::always || (prepend_ == Prepend::first && first))) s.insert(0, replacement_);
    if (split_) split_by_pattern(s, *pattern_, false, SplitBehavior::merged_with_next, first, sink);
    else sink(s, first);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
  std::unique_ptr<Pattern> pattern_;
};

class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void split(std::string_view s, bool first, PieceSink sink) const override {
    size_t i = 0, word = std::string::npos;
    while (i < s.size()) {
      size_t start = i;
      char32_t c = utf8_next(s, i);
      if (is_whitespace(c)) {
        if (word != std::string::npos) sink(s.substr(word, start - word), first && word == 0);
        word = std::string::npos;
      } else if (word == std::string::npos) {
        word = start;
      }
    }
    if (word != std::string::npos) sink(s.substr(word), first && word == 0);
  }
};

std::string escape_regex_char(const std::string& c) {
  std::string out;
  for (char ch : c) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(ch) != std::string_view::npos) out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const BuildContext& ctx) {
  if (j.is_null()) return nullptr;
  std::string type = component_type(j);
  if (type == "Sequence") {
    return make_sequence<SequencePreTokenizer>(j, "pretokenizers", "Sequence pre-tokenizer", ctx, make_pre_tokenizer);
  }
  if (type == "Split") {
    auto pattern = std::make_unique<Pattern>(ctx.need(j, "pattern", "Split pre-tokenizer"),
                                             ctx.origin + ": Split pre-tokenizer");
    return std::make_unique<PatternPreTokenizer>(std::move(pattern), parse_behavior(ctx.need(j, "behavior", "Split pre-tokenizer"), ctx),
                                                 ctx.get_bool(j, "invert", false));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(ctx.get_bool(j, "add_prefix_space", true),
                                                   ctx.get_bool(j, "use_regex", true), ctx);
  }
  if (type == "Metaspace") {
    std::string replacement = j.contains("replacement") && j["replacement"].is_string()
                                  ? j["replacement"].get<std::string>()
                                  : std::string("\xE2\x96\x81");
    size_t i = 0;
    if (replacement.empty() || (utf8_next(replacement, i), i != replacement.size())) {
      ctx.bad("Metaspace pre-tokenizer: replacement must be one character");
    }
    auto prepend = MetaspacePreTokenizer::Prepend::always;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      std::string s = j["prepend_scheme"].get<std::string>();
      if (s == "always") prepend = MetaspacePreTokenizer::Prepend::always;
      else if (s == "first") prepend = MetaspacePreTokenizer::Prepend::first;
      else if (s == "never") prepend = MetaspacePreTokenizer::Prepend::never;
      else ctx.bad(fmt::format("Metaspace pre-tokenizer: unknown prepend_scheme \"{}\"", s));
    } else if (!ctx.get_bool(j, "add_prefix_space", true)) {
      prepend = MetaspacePreTokenizer::Prepend::never;
    }
    return std::make_unique<MetaspacePreTokenizer>(replacement, prepend, ctx.get_bool(j, "split", true));
  }
  if (type == "Digits") {
    bool individual = ctx.get_bool(j, "individual_digits", false);
    return regex_pre_tokenizer(individual ? R"(\p{N})" : R"(\p{N}+)", SplitBehavior::isolated, false, ctx,
                               "Digits pre-tokenizer");
  }
  if (type == "Whitespace") {
    // HF uses the Rust regex crate here: \w = Alphabetic, M, Nd, Pc, Join_Control; \s = White_Space.
    return regex_pre_tokenizer(
        R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+)",
        SplitBehavior::removed, true, ctx, "Whitespace pre-tokenizer");
  }
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  if (type == "Punctuation") {
    SplitBehavior behavior = j.contains("behavior") ? parse_behavior(j["behavior"], ctx) : SplitBehavior::isolated;
    return regex_pre_tokenizer(R"([\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E])", behavior, false, ctx,
                               "Punctuation pre-tokenizer");
  }
  if (type == "CharDelimiterSplit") {
    std::string d = ctx.get_string(j, "delimiter", "CharDelimiterSplit pre-tokenizer");
    return regex_pre_tokenizer(escape_regex_char(d), SplitBehavior::removed, false, ctx,
                               "CharDelimiterSplit pre-tokenizer");
  }
  ctx.unsupported("pre-tokenizer", j);
}

}  // namespace dlvk::text
