// Hugging Face tokenizer.json: encode text to token ids and decode ids to text, matching the Rust
// `tokenizers` library (BPE models: byte-level like GPT-2/Llama-3/Qwen and SentencePiece-style like
// Llama-2/Gemma). See docs/tokenizer.md for the supported components and policies.
//
// A Tokenizer is immutable after loading; encode/decode are safe to call from several threads.
// Every failure throws dlvk::Error (bad_model / unsupported while loading, invalid_argument for bad
// input such as invalid UTF-8 or an unknown id, io_error for unreadable files).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dlvk {

namespace text {
struct TokenizerImpl;
}

class Tokenizer {
 public:
  // Loads PATH (a tokenizer.json file, or a directory holding one). When a tokenizer_config.json lies
  // beside it, its bos_token/eos_token are used for bos_id()/eos_id().
  static Tokenizer from_file(const std::filesystem::path& path);
  // Parses the text of a tokenizer.json. `origin` names it in error messages.
  static Tokenizer from_json(std::string_view json, std::string_view origin = "tokenizer.json");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // HF `encode(text, add_special_tokens)`: added tokens in the text are always matched; add_special
  // only controls the post-processor's template (e.g. BOS). `text` must be valid UTF-8.
  std::vector<int32_t> encode(std::string_view text, bool add_special = true) const;
  // HF `decode(ids, skip_special_tokens)`. Throws invalid_argument on an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // Number of ids: one past the largest id of the model vocabulary and the added tokens.
  int32_t vocab_size() const;
  std::optional<int32_t> token_id(std::string_view token) const;
  // The token string of an id (as stored in the vocabulary, e.g. "Ġworld" or "▁world").
  std::optional<std::string> id_token(int32_t id) const;
  bool is_special(int32_t id) const;

  // Best effort: tokenizer_config.json beside the file, else the post-processor's template, else
  // well-known token names (<s>, <bos>, <|begin_of_text|>, ... / </s>, <eos>, <|end_of_text|>, ...).
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;

 private:
  explicit Tokenizer(std::unique_ptr<text::TokenizerImpl> impl);
  friend class StreamDecoder;
  std::unique_ptr<text::TokenizerImpl> impl_;
};

// Incremental detokenizer for generation: feed ids one at a time and get the new text. The pieces
// concatenate to decode(all ids) (up to the tokenizer's own context effects, as in HF's DecodeStream)
// and never end inside a UTF-8 sequence: text is held back while it ends in an incomplete character.
// The Tokenizer must outlive the StreamDecoder and not be moved while it is used.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);

  // Adds one id; returns the text it completes (often empty while a character is incomplete).
  std::string push(int32_t id);
  // Returns whatever is still held back (an incomplete character comes out as U+FFFD) and resets.
  std::string flush();
  void reset();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // context ids (already emitted) followed by pending ids
  size_t prefix_index_ = 0;   // ids_[0, prefix_index_) are context only
  std::string prefix_;        // decode(ids_[0, prefix_index_)) ... see push()
};

}  // namespace dlvk
