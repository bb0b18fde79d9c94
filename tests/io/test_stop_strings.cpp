// Stop strings over streamed text (lib/generate/stop_strings.hpp): the shown text ends right before
// the earliest stop string however the text is split into pieces, and nothing that could still become
// one is shown early. Checked against a plain search of the whole text, on random texts and splits.
#include <doctest/doctest.h>

#include <random>

#include "generate/stop_strings.hpp"

using namespace dlvk;

namespace {

// All pieces through a StopStrings: what it shows in total.
std::string stream(StopStrings& s, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += s.push(p);
  return out + s.flush();
}

}  // namespace

TEST_CASE("stop strings: the text ends before the first stop string, also across pieces") {
  StopStrings a({"\n\n"});
  CHECK(a.push("Hello") == "Hello");  // no stop string starts with "o": nothing held back
  CHECK(a.push(" world\n") == " world");  // the newline may start "\n\n"
  CHECK_FALSE(a.matched());
  CHECK(a.push("\nmore") == "");
  CHECK(a.matched());
  CHECK(a.match() == "\n\n");
  CHECK(a.push("later") == "");
  CHECK(a.flush() == "");
  CHECK(a.finish("rest") == "");  // nothing after a match

  StopStrings b({"END"});
  CHECK(stream(b, {"abcE", "N", "Dxyz"}) == "abc");
  CHECK(b.match() == "END");

  StopStrings c({"xyz", "b", ""});  // the earliest in the text wins; "" is ignored
  CHECK(stream(c, {"abxyz"}) == "a");
  CHECK(c.match() == "b");

  StopStrings none({});
  CHECK(stream(none, {"a", "", "bc"}) == "abc");
  CHECK_FALSE(none.matched());
  CHECK(none.match().empty());

  StopStrings partial({"abc"});  // a stop string's start at the very end is shown by flush()
  CHECK(partial.push("xxab") == "xx");
  CHECK(partial.finish("") == "ab");
  CHECK_FALSE(partial.matched());
}

TEST_CASE("stop strings: random texts and splits against a search of the whole text") {
  std::mt19937 rng(7);
  const std::vector<std::vector<std::string>> stop_sets = {{"ab\n"}, {"bb", "a\n\na"}, {"b"}, {"\n\n", "aaa"}};
  for (int trial = 0; trial < 2000; ++trial) {
    const auto& stops = stop_sets[trial % stop_sets.size()];
    std::string text;
    const int len = int(rng() % 30);
    for (int i = 0; i < len; ++i) text += "ab\n"[rng() % 3];
    size_t first = std::string::npos;
    for (const auto& s : stops) first = std::min(first, text.find(s));
    const std::string expected = text.substr(0, first);
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size();) {
      const size_t n = rng() % 5;  // empty pieces too
      pieces.push_back(text.substr(i, n));
      i += n;
    }
    StopStrings s(stops);
    std::string shown;
    size_t given = 0;
    for (const auto& p : pieces) {
      shown += s.push(p);
      given += p.size();
      // Nothing past the first stop string is ever shown; what is held back begins a stop string.
      REQUIRE(shown.size() <= expected.size());
      if (!s.matched() && shown.size() < given) {
        const std::string held = text.substr(shown.size(), given - shown.size());
        bool begins = false;
        for (const auto& st : stops) begins = begins || st.compare(0, held.size(), held) == 0;
        CHECK(begins);
      }
    }
    if (!s.matched()) shown += s.flush();
    INFO("text '" << text << "'");
    CHECK(shown == expected);
    CHECK(s.matched() == (first != std::string::npos));
  }
}

TEST_CASE("stop strings: command-line escapes") {
  CHECK(unescape_stop_string("a\\nb") == "a\nb");
  CHECK(unescape_stop_string("\\t\\\\\\\"") == "\t\\\"");
  CHECK(unescape_stop_string("\\x") == "\\x");   // unknown escapes stay
  CHECK(unescape_stop_string("end\\") == "end\\");
  CHECK(unescape_stop_string("") == "");
}
