// Stop strings for streamed generation: text passes through as it is generated, except a tail that
// begins a stop string, which is held back until it cannot become one (or until flush()). At the
// first stop string the text ends right before it.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace dlvk {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);  // empty strings are ignored

  // Appends generated text; returns what can be shown now. Once matched(), returns "" for good.
  std::string push(std::string_view text);
  // The text still held back (none after a match).
  std::string flush();
  // At the end of generation: push(rest) (e.g. a stream decoder's flushed text), then flush().
  std::string finish(std::string_view rest) { return push(rest) + flush(); }
  bool matched() const { return matched_ >= 0; }
  const std::string& match() const;  // the stop string found (matched() only)

 private:
  std::vector<std::string> stops_;
  size_t hold_ = 0;  // longest stop string - 1: the most bytes ever held back
  std::string pending_;
  int matched_ = -1;
};

// "\n", "\t", "\\" and "\"" in s replaced by the characters (other backslashes stay): how --stop
// arguments are read, so that a newline can be written on a command line.
std::string unescape_stop_string(std::string_view s);

}  // namespace dlvk
