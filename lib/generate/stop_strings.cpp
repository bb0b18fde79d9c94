#include "generate/stop_strings.hpp"

#include <algorithm>

namespace dlvk {

StopStrings::StopStrings(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) {
      hold_ = std::max(hold_, s.size() - 1);
      stops_.push_back(std::move(s));
    }
}

std::string StopStrings::push(std::string_view text) {
  if (matched()) return {};
  pending_.append(text);
  // The earliest stop string in the pending text (held-back bytes included, so one that straddles
  // pieces is found).
  size_t at = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t p = pending_.find(stops_[i]);
    if (p < at) {
      at = p;
      matched_ = int(i);
    }
  }
  if (at != std::string::npos) {
    std::string out = pending_.substr(0, at);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that begins some stop string; show the rest.
  size_t keep = std::min(hold_, pending_.size());
  auto starts_stop = [&](size_t k) {
    const std::string_view tail = std::string_view(pending_).substr(pending_.size() - k);
    return std::any_of(stops_.begin(), stops_.end(), [&](const std::string& s) { return s.compare(0, k, tail) == 0; });
  };
  while (keep > 0 && !starts_stop(keep)) --keep;
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, out.size());
  return out;
}

std::string StopStrings::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

const std::string& StopStrings::match() const {
  static const std::string none;
  return matched() ? stops_[size_t(matched_)] : none;
}

std::string unescape_stop_string(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[i + 1];
      const char r = c == 'n' ? '\n' : c == 't' ? '\t' : c == '\\' ? '\\' : c == '"' ? '"' : 0;
      if (r) {
        out += r;
        ++i;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace dlvk
