// Internal pieces of the tokenizer (lib/text): UTF-8 helpers, the PCRE2 wrapper, hash tables, and the
// component interfaces (normalizer, pre-tokenizer, BPE model, post-processor, decoder) built from
// tokenizer.json. Not a public header.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "dlvk/error.hpp"

namespace dlvk::text {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------------
// UTF-8 and Unicode (unicode.cpp). Unicode properties come from utf8proc, never from own tables.

// Returns the byte offset of the first invalid UTF-8 sequence, or npos when `s` is valid.
size_t utf8_invalid_offset(std::string_view s);
// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
char32_t utf8_next(std::string_view s, size_t& i);
inline size_t utf8_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
void utf8_append(std::string& out, char32_t c);
// Rust's String::from_utf8_lossy: each maximal ill-formed subpart becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);
bool ends_with_replacement_char(std::string_view s);

enum class NormForm { nfc, nfd, nfkc, nfkd };
std::string unicode_normalize(std::string_view s, NormForm form);
std::string unicode_lowercase(std::string_view s);
bool is_whitespace(char32_t c);      // Rust char::is_whitespace (White_Space)
bool is_alphanumeric(char32_t c);    // letters and numbers (general categories L*, N*)
bool is_combining_mark(char32_t c);  // Mn, Mc, Me

// GPT-2 byte <-> printable character mapping used by the ByteLevel components.
const std::string& byte_to_unicode(uint8_t b);  // UTF-8 of the mapped character
int byte_from_unicode(char32_t c);               // -1 when c is not a mapped character

// A non-owning reference to a callable (cheaper than std::function on hot paths).
template <typename Sig>
class FunctionRef;
template <typename R, typename... A>
class FunctionRef<R(A...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit on purpose
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, A... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...); }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

// ---------------------------------------------------------------------------------------------------
// PCRE2 (regex.cpp): UTF + UCP, JIT when available.
class Regex {
 public:
  // onig: the pattern is written for Oniguruma (tokenizer.json): \w \W \s \S get Oniguruma's
  // Unicode meaning. Otherwise PCRE2 syntax and semantics as is.
  Regex(std::string_view pattern, std::string_view context, bool onig = false);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  struct Match {
    size_t start, end;
  };
  // All non-overlapping matches, left to right (an empty match advances by one character).
  // `s` must be valid UTF-8 (it is not checked again).
  void find_each(std::string_view s, FunctionRef<void(size_t, size_t)> match) const;
  void find_all(std::string_view s, std::vector<Match>& out) const {
    find_each(s, [&](size_t b, size_t e) { out.push_back({b, e}); });
  }
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

std::string onig_to_pcre2(std::string_view pattern);

// The "pattern" object of Split / Replace: {"String": "..."} (literal) or {"Regex": "..."}.
class Pattern {
 public:
  Pattern(const json& j, std::string_view context);
  void find_each(std::string_view s, FunctionRef<void(size_t, size_t)> match) const;
  std::string replace_all(std::string_view s, std::string_view content) const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

// ---------------------------------------------------------------------------------------------------
// Open-addressing hash tables (hash.cpp).

// Asks for transparent huge pages on the 2 MiB-aligned part of [p, p + bytes) (tokenizer loading
// touches tens of MB at once; 4 KiB page faults were a large part of the load time).
void advise_huge_pages(const void* p, size_t bytes);
template <typename Container>
void reserve_huge(Container& c, size_t n) {
  c.reserve(n);
  advise_huge_pages(c.data(), c.capacity() * sizeof(*c.data()));
}

// uint64 key -> uint64 value; key ~0 is reserved. Keys and values side by side (one cache miss).
class U64Map {
 public:
  void reserve(size_t n);
  void insert_or_keep(uint64_t key, uint64_t value);  // first insertion wins
  const uint64_t* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    size_t i = slot(key);
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return size_; }
  void prefetch(uint64_t key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[slot(key)]);
  }

 private:
  struct Slot {
    uint64_t key, value;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
  int shift_ = 64;
};

// Interned strings -> int32 value. Strings live in one arena (views stay valid until the next insert);
// each slot keeps 32 bits of the hash so that probing rarely touches the arena.
class StrMap {
 public:
  struct Entry {
    uint32_t offset, length;  // into the arena
    int32_t value;
  };
  // Builds the table at once over strings already in `arena` (adopted, not copied). A repeated key
  // keeps its first value.
  void build(std::string arena, const std::vector<Entry>& entries);
  void reserve(size_t n);
  // Returns false (and keeps the old value) when the key exists.
  bool insert(std::string_view key, int32_t value);
  std::optional<int32_t> find(std::string_view key) const { return find(key, hash(key)); }
  std::optional<int32_t> find(std::string_view key, uint32_t h) const {
    if (slots_.empty()) return std::nullopt;
    size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.offset == kEmpty) return std::nullopt;
      if (s.hash == h && s.length == key.size() && std::string_view(arena_.data() + s.offset, s.length) == key) {
        return s.value;
      }
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return size_; }
  static uint32_t hash(std::string_view key) { return static_cast<uint32_t>(std::hash<std::string_view>{}(key)); }
  void prefetch(uint32_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  template <typename F>
  void for_each(F&& f) const {  // f(key, value)
    for (const Slot& s : slots_)
      if (s.offset != kEmpty) f(std::string_view(arena_.data() + s.offset, s.length), s.value);
  }

 private:
  struct Slot {
    uint32_t offset, length;
    int32_t value;
    uint32_t hash;
  };
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  void rehash(size_t capacity);
  std::string arena_;
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// tokenizer.json loading (load.cpp): a SAX pass that keeps model.vocab and model.merges out of the
// DOM (they hold most of the file) and stores them compactly.
struct RawTokenizerJson {
  json doc;  // everything else
  bool has_vocab = false, has_merges = false;
  std::string vocab_arena;  // the tokens of model.vocab, back to back
  std::vector<StrMap::Entry> vocab;
  int64_t max_id = -1;
  // Merges as text ("a" and "b" of each, in one arena); resolved when the model is built.
  std::string merge_arena;
  struct Merge {
    uint32_t a_off, a_len, b_off, b_len;
  };
  std::vector<Merge> merges;
  std::string_view merge_a(const Merge& m) const { return {merge_arena.data() + m.a_off, m.a_len}; }
  std::string_view merge_b(const Merge& m) const { return {merge_arena.data() + m.b_off, m.b_len}; }
};
RawTokenizerJson parse_tokenizer_json(std::string_view text, const std::string& origin);

// Context for building components: names the file in every error.
struct BuildContext {
  std::string origin;
  [[noreturn]] void unsupported(std::string_view kind, const json& j) const;
  [[noreturn]] void bad(std::string_view what) const;
  const json& need(const json& j, const char* key, std::string_view where) const;
  std::string get_string(const json& j, const char* key, std::string_view where) const;
  bool get_bool(const json& j, const char* key, bool fallback) const;
};
std::string component_type(const json& j);

// The items of a "Sequence" component: j[key] must be an array, each item is built by `make` (the
// component's own factory, recursively) and null results (no-op components) are skipped.
template <typename Seq, typename Make>
std::unique_ptr<Seq> make_sequence(const json& j, const char* key, std::string_view what, const BuildContext& ctx,
                                   Make make) {
  auto seq = std::make_unique<Seq>();
  const json& list = ctx.need(j, key, what);
  if (!list.is_array()) ctx.bad(fmt::format("{}: \"{}\" is not an array", what, key));
  for (const auto& item : list)
    if (auto p = make(item, ctx)) seq->items.push_back(std::move(p));
  return seq;
}

// ---------------------------------------------------------------------------------------------------
// Components.

// Pre-tokenizers pass their pieces on to a sink, piece by piece (no list of all pieces is built).
// `first` is true for the piece that starts at offset 0 of the original input (Metaspace
// prepend_scheme "first"). Pieces are never empty.
using PieceSink = FunctionRef<void(std::string_view piece, bool first)>;

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& s) const = 0;
};
std::unique_ptr<Normalizer> make_normalizer(const json& j, const BuildContext& ctx);

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits one non-empty piece and passes the (non-empty) parts to `sink` in order.
  virtual void split(std::string_view piece, bool first, PieceSink sink) const = 0;
};
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const BuildContext& ctx);

// How a pattern match splits a piece (Split pre-tokenizer "behavior").
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };
SplitBehavior parse_behavior(const json& j, const BuildContext& ctx);
// Splits `s` at the matches of `pattern` (HF NormalizedString::split) and passes the non-empty
// parts to `sink`.
void split_by_pattern(std::string_view s, const Pattern& pattern, bool invert, SplitBehavior behavior, bool first,
                      PieceSink sink);

class BpeModel {
 public:
  BpeModel(RawTokenizerJson& raw, const json& model, const BuildContext& ctx);
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;
  std::optional<int32_t> token_to_id(std::string_view token) const { return vocab_.find(token); }
  // Tokens by id (empty view where the model has no token for that id).
  const std::vector<std::string_view>& id_to_token() const { return id_to_token_; }

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  std::string origin_;
  StrMap vocab_;
  std::vector<std::string_view> id_to_token_;
  U64Map merges_;  // (left id << 32 | right id) -> (rank << 32 | merged id)
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  std::optional<std::string> unk_token_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];
  int32_t ascii_ids_[128];            // id of each one-byte token (-1: none); used without prefix/suffix
  std::vector<uint8_t> merge_role_;   // per id: 1 = left of some merge, 2 = right of some merge
  // Word cache, as in HF (words shorter than 256 bytes, bounded size).
  mutable std::mutex cache_mutex_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids, bool add_special) const = 0;
  // How many ids process() adds to a single sequence.
  virtual size_t added_count(bool add_special) const = 0;
  // Best-effort BOS/EOS: special ids the template puts before/after the sequence.
  virtual std::optional<int32_t> leading_special() const { return std::nullopt; }
  virtual std::optional<int32_t> trailing_special() const { return std::nullopt; }
};
std::unique_ptr<PostProcessor> make_post_processor(const json& j, const BuildContext& ctx);

class Decoder {
 public:
  virtual ~Decoder() = default;
  // HF decode_chain: transforms the token strings (the final text is their concatenation).
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};
std::unique_ptr<Decoder> make_decoder(const json& j, const BuildContext& ctx);

// Added tokens ("added_tokens"), matched in the text before the model (added_tokens.cpp).
class AddedVocabulary {
 public:
  struct Token {
    std::string content;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
  };
  void build(const json& list, const Normalizer* normalizer, const BpeModel& model,
             const BuildContext& ctx);
  const std::vector<Token>& tokens() const { return tokens_; }
  struct Split {
    size_t start, end;
    int32_t token;  // index into tokens(), -1: plain text
  };
  // HF AddedVocabulary::find_matches (leftmost-longest, then single_word/lstrip/rstrip rules).
  void split(std::string_view s, bool normalized_set, std::vector<Split>& out) const;
  bool has(bool normalized_set) const { return trie_[normalized_set].nodes.size() > 1; }

 private:
  struct Trie {
    struct Node {
      int32_t token = -1;
    };
    std::vector<Node> nodes{Node{}};
    U64Map edges;  // node << 8 | byte -> child
    bool first_byte[256] = {};
    void add(std::string_view key, int32_t token);
  };
  std::vector<Token> tokens_;
  Trie trie_[2];  // [0]: matched on raw text, [1]: matched on normalized text
};

struct TokenizerImpl {
  std::string origin;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  std::vector<std::string_view> id_to_token;  // added tokens override the model's
  std::vector<uint8_t> special;
  std::optional<int32_t> bos, eos;
  // truncation / padding (single sequence)
  std::optional<size_t> trunc_max;
  bool trunc_left = false;
  std::optional<size_t> pad_fixed;
  size_t pad_multiple = 0;
  bool pad_left = false;
  int32_t pad_id = 0;
  bool pad_batch_longest = false;

  void encode_into(std::string_view text, std::vector<int32_t>& out) const;
};

}  // namespace dlvk::text
