// Tokenizer unit tests on small hand-written tokenizer.json files (no external data needed).
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "dlvk/error.hpp"
#include "dlvk/tokenizer.hpp"

using nlohmann::json;
using ids_t = std::vector<int32_t>;

namespace doctest {
template <>
struct StringMaker<std::vector<int32_t>> {
  static String convert(const std::vector<int32_t>& v) {
    std::string s = "{";
    for (size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
    return (s + "}").c_str();
  }
};
}  // namespace doctest

namespace {

// A SentencePiece-style BPE (Llama-2 like): ▁ prefix, byte fallback, <s> template.
json sp_tokenizer(bool pair_merges = false) {
  json vocab = json::object();
  int id = 0;
  for (const char* t : {"<unk>", "<s>", "</s>"}) vocab[t] = id++;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = id++;
  }
  // 259.. : pieces
  for (const char* t : {"\xE2\x96\x81", "h", "e", "l", "o", "w", "r", "d", "he", "ll", "hell", "hello", "\xE2\x96\x81hello",
                        "\xE2\x96\x81w", "or", "\xE2\x96\x81wor", "\xE2\x96\x81world", "ld"}) {
    vocab[t] = id++;
  }
  std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\xE2\x96\x81", "hello"}, {"\xE2\x96\x81", "w"},
      {"o", "r"}, {"\xE2\x96\x81w", "or"}, {"l", "d"}, {"\xE2\x96\x81wor", "ld"}};
  json m = json::array();
  for (const auto& [a, b] : merges) {
    if (pair_merges) m.push_back(json::array({a, b}));
    else m.push_back(a + " " + b);
  }
  json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       json::array({{{"id", 0}, {"content", "<unk>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}},
                    {{"id", 1}, {"content", "<s>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}},
                    {{"id", 2}, {"content", "</s>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}}})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                                     {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}})}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", json::array()},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", json::array({1})}, {"tokens", json::array({"<s>"})}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                                  {{"type", "ByteFallback"}},
                                  {{"type", "Fuse"}},
                                  {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", m}}},
  };
  return j;
}

dlvk::Tokenizer load(const json& j) { return dlvk::Tokenizer::from_json(j.dump(), "unit-test tokenizer.json"); }

template <typename F>
void check_error(F&& f, dlvk::Status status, const std::string& fragment) {
  try {
    f();
    FAIL("no dlvk::Error thrown (expected " << dlvk::status_name(status) << ")");
  } catch (const dlvk::Error& e) {
    CHECK_MESSAGE(e.status() == status, "status " << dlvk::status_name(e.status()) << ": " << e.what());
    CHECK_MESSAGE(std::string(e.what()).find(fragment) != std::string::npos, "message: " << e.what());
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

constexpr int32_t kHello = 259 + 12;  // "▁hello"
constexpr int32_t kWorld = 259 + 16;  // "▁world"

}  // namespace

TEST_CASE("tokenizer: SentencePiece-style BPE encode/decode") {
  auto tok = load(sp_tokenizer());
  CHECK(tok.vocab_size() == 259 + 18);
  CHECK(tok.encode("hello world", true) == ids_t{1, kHello, kWorld});
  CHECK(tok.encode("hello world", false) == ids_t{kHello, kWorld});
  CHECK(tok.decode(ids_t{1, kHello, kWorld}) == "<s> hello world");
  CHECK(tok.decode(ids_t{1, kHello, kWorld}, true) == "hello world");
  CHECK(tok.token_id("\xE2\x96\x81world") == kWorld);
  CHECK(tok.id_token(kWorld) == "\xE2\x96\x81world");
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.is_special(1));
  CHECK_FALSE(tok.is_special(kHello));
  // Unknown characters fall back to bytes: "é" = C3 A9 -> <0xC3> <0xA9>.
  CHECK(tok.encode("\xC3\xA9", false) == ids_t{259, 3 + 0xC3, 3 + 0xA9});
  CHECK(tok.decode(ids_t{259, 3 + 0xC3, 3 + 0xA9}) == "\xC3\xA9");
  // Added tokens are matched in the text even without add_special.
  CHECK(tok.encode("</s>hello", false) == ids_t{2, kHello});
  CHECK(tok.encode("", true) == ids_t{1});
  CHECK(tok.encode("", false) == ids_t{});
}

TEST_CASE("tokenizer: merges as \"a b\" strings and as [a, b] pairs give the same ids") {
  auto a = load(sp_tokenizer(false));
  auto b = load(sp_tokenizer(true));
  for (const char* text : {"hello world", "helloworld hello", "world\xC3\xA9 lo"}) {
    CHECK(a.encode(text, true) == b.encode(text, true));
  }
}

TEST_CASE("tokenizer: unk without byte_fallback, fuse_unk") {
  json j = sp_tokenizer();
  j["model"]["byte_fallback"] = false;
  auto fused = load(j);
  CHECK(fused.encode("\xC3\xA9\xC3\xA9", false) == ids_t{259, 0});  // ▁ then one fused <unk>
  j["model"]["fuse_unk"] = false;
  auto unfused = load(j);
  CHECK(unfused.encode("\xC3\xA9\xC3\xA9", false) == ids_t{259, 0, 0});
}

TEST_CASE("tokenizer: streaming decoder never emits half a UTF-8 sequence") {
  auto tok = load(sp_tokenizer());
  std::string emoji = "\xF0\x9F\x98\x80";  // 😀 as four byte-fallback tokens
  auto ids = tok.encode("hello " + emoji + " world", false);
  REQUIRE(ids == ids_t{kHello, 259, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80, kWorld});
  dlvk::StreamDecoder stream(tok);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(stream.push(id));
  CHECK(pieces[0] == "hello");
  CHECK(pieces[1] == " ");
  CHECK(pieces[2].empty());  // 1/4, 2/4, 3/4 of the emoji: held back
  CHECK(pieces[3].empty());
  CHECK(pieces[4].empty());
  CHECK(pieces[5] == emoji);
  CHECK(pieces[6] == " world");
  CHECK(stream.flush().empty());
  // An incomplete character at the end comes out of flush() as U+FFFD.
  CHECK(stream.push(3 + 0xF0).empty());
  CHECK(stream.flush() == "\xEF\xBF\xBD");
  CHECK_THROWS_AS(stream.push(100000), dlvk::Error);
}

TEST_CASE("tokenizer: errors") {
  SUBCASE("unknown id in decode") {
    auto tok = load(sp_tokenizer());
    check_error([&] { (void)tok.decode(ids_t{1, 5000}); }, dlvk::Status::invalid_argument, "5000");
    check_error([&] { (void)tok.decode(ids_t{-1}); }, dlvk::Status::invalid_argument, "-1");
  }
  SUBCASE("invalid UTF-8 input is rejected") {
    auto tok = load(sp_tokenizer());
    check_error([&] { (void)tok.encode(std::string("ab\xC3(", 4)); }, dlvk::Status::invalid_argument, "byte offset 2");
    check_error([&] { (void)tok.encode(std::string("\xED\xA0\x80")); }, dlvk::Status::invalid_argument, "UTF-8");
  }
  SUBCASE("unsupported normalizer") {
    json j = sp_tokenizer();
    j["normalizer"] = {{"type", "BertNormalizer"}, {"lowercase", true}};
    check_error([&] { load(j); }, dlvk::Status::unsupported, "BertNormalizer");
  }
  SUBCASE("unsupported component inside a Sequence") {
    json j = sp_tokenizer();
    j["decoder"]["decoders"].push_back({{"type", "CTC"}});
    check_error([&] { load(j); }, dlvk::Status::unsupported, "decoder type \"CTC\"");
    j = sp_tokenizer();
    j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({{{"type", "UnicodeScripts"}}})}};
    check_error([&] { load(j); }, dlvk::Status::unsupported, "UnicodeScripts");
    j = sp_tokenizer();
    j["post_processor"] = {{"type", "Mystery"}};
    check_error([&] { load(j); }, dlvk::Status::unsupported, "Mystery");
  }
  SUBCASE("unsupported model") {
    json j = sp_tokenizer();
    j["model"] = {{"type", "Unigram"}, {"vocab", json::array({json::array({"a", 0.0})})}};
    check_error([&] { load(j); }, dlvk::Status::unsupported, "Unigram");
  }
  SUBCASE("malformed JSON") {
    check_error([] { (void)dlvk::Tokenizer::from_json("{\"model\": {\"type\": \"BPE\", ", "broken.json"); },
                dlvk::Status::bad_model, "broken.json");
    check_error([] { (void)dlvk::Tokenizer::from_json("[1, 2]", "array.json"); }, dlvk::Status::bad_model, "array.json");
    json j = sp_tokenizer();
    j["model"]["vocab"]["x"] = "not an id";
    check_error([&] { load(j); }, dlvk::Status::bad_model, "vocab");
  }
  SUBCASE("merge with a token outside the vocabulary") {
    json j = sp_tokenizer();
    j["model"]["merges"].push_back("q z");
    check_error([&] { load(j); }, dlvk::Status::bad_model, "\"q\"");
  }
  SUBCASE("bad regex") {
    json j = sp_tokenizer();
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}, {"invert", false}};
    check_error([&] { load(j); }, dlvk::Status::bad_model, "(unclosed");
  }
  SUBCASE("missing file") {
    check_error([] { (void)dlvk::Tokenizer::from_file("/nonexistent/dir/tokenizer.json"); }, dlvk::Status::io_error,
                "/nonexistent/dir/tokenizer.json");
  }
}

TEST_CASE("tokenizer: added tokens lstrip/rstrip/single_word and leftmost-longest") {
  json j = sp_tokenizer();
  int next = 259 + 18;
  auto add = [&](const char* content, bool special, bool lstrip, bool rstrip, bool single_word) {
    j["added_tokens"].push_back({{"id", next++}, {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
                                 {"rstrip", rstrip}, {"normalized", false}, {"special", special}});
  };
  add("<m>", true, true, true, false);      // next-4
  add("<mm>", true, false, false, false);   // next-3
  add("ow", false, false, false, true);     // next-2 single word
  add("\n\n", false, false, false, false);  // next-1
  auto tok = load(j);
  const int32_t m = next - 4, mm = next - 3, ow = next - 2, nn = next - 1;
  CHECK(tok.encode("hello  <m>  world", false) == ids_t{kHello, m, kWorld});
  CHECK(tok.encode("<mm>", false) == ids_t{mm});     // longest match wins over <m>...
  CHECK(tok.encode("ow hello", false) == ids_t{ow, 259, kHello});  // Prepend applies to " hello" too, as in HF
  CHECK(tok.encode("low", false) == ids_t{259, 262, 263, 264});  // "ow" inside a word is not matched
  CHECK(tok.encode("\n\n\n", false).front() == nn);
  CHECK(tok.vocab_size() == next);
}

TEST_CASE("tokenizer: byte-level BPE with ignore_merges and a Split regex") {
  // Tiny GPT-2 style vocabulary over the byte-level alphabet.
  json vocab = json::object();
  int id = 0;
  const char* pieces[] = {"a", "b", "c", "\xC4\xA0" /* Ġ */, "ab", "abc", "\xC4\xA0" "a", "\xC4\xA0" "ab", "\xC4\xA0" "abc", "cab"};
  for (const char* p : pieces) vocab[p] = id++;
  json j = {{"model",
             {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab},
              {"merges", json::array({"a b", "ab c", "\xC4\xA0 a", "\xC4\xA0" "a b", "\xC4\xA0" "ab c"})}}},
            {"pre_tokenizer",
             {{"type", "Sequence"},
              {"pretokenizers",
               json::array({{{"type", "Split"}, {"pattern", {{"Regex", " ?\\p{L}+"}}}, {"behavior", "Isolated"}, {"invert", false}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}}},
            {"decoder", {{"type", "ByteLevel"}}}};
  auto tok = load(j);
  CHECK(tok.encode("abc abc", true) == ids_t{5, 8});
  // "cab" is in the vocabulary but cannot be reached by merges: ignore_merges takes it whole.
  CHECK(tok.encode("cab", false) == ids_t{9});
  CHECK(tok.decode(ids_t{5, 8, 9}) == "abc abccab");
  // Without ignore_merges, BPE gives c + ab.
  j["model"]["ignore_merges"] = false;
  CHECK(load(j).encode("cab", false) == ids_t{2, 4});
  // A character without a token and without unk_token is dropped, like HF.
  CHECK(tok.encode("a\xC3\xA9", false) == ids_t{0});
}

#include "text/text_internal.hpp"

TEST_CASE("tokenizer: Oniguruma regex classes are spelled out for PCRE2") {
  using dlvk::text::onig_to_pcre2;
  CHECK(onig_to_pcre2(R"(\s+(?!\S))") == R"([\t-\r\x{85}\p{Z}]+(?![^\t-\r\x{85}\p{Z}]))");
  CHECK(onig_to_pcre2(R"([^\s\p{L}\p{N}]+)") == R"([^\t-\r\x{85}\p{Z}\p{L}\p{N}]+)");
  CHECK(onig_to_pcre2(R"(\w+|[\w'])") == R"([\p{L}\p{M}\p{N}\p{Pc}]+|[\p{L}\p{M}\p{N}\p{Pc}'])");
  CHECK(onig_to_pcre2(R"([]\s]\\s[[:alpha:]\s])") == R"([]\t-\r\x{85}\p{Z}]\\s[[:alpha:]\t-\r\x{85}\p{Z}])");
  std::vector<dlvk::text::Regex::Match> m;
  dlvk::text::Regex re(R"(\w+)", "test", true);
  re.find_all("\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8 x", m);  // हिन (a mark inside the word)
  REQUIRE(m.size() == 2);
  CHECK(m[0].end == 9);
}
