// PCRE2 wrapper for the regexes of tokenizer.json (written for Oniguruma; PCRE2 with UTF + UCP has the
// same syntax and Unicode semantics for what tokenizers use: \p{..}, \s, (?i:..), possessive and
// atomic groups, lookahead).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "text/text_internal.hpp"

namespace dlvk::text {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof buf);
  return n < 0 ? fmt::format("PCRE2 error {}", code) : std::string(reinterpret_cast<char*>(buf));
}

// Per-thread match state: a JIT stack larger than the default 32 KiB (long runs of one class).
struct ThreadMatchState {
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_data* data = nullptr;  // one pair: only the whole match is used (rc 0 = more groups)
  ThreadMatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadMatchState() {
    if (data) pcre2_match_data_free(data);
    if (stack) pcre2_jit_stack_free(stack);
    if (context) pcre2_match_context_free(context);
  }
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

// Oniguruma (HF's regex engine) and PCRE2 differ in what \w and \s match under Unicode:
//   Oniguruma \w = Letter | Mark | Number | Connector_Punctuation   (PCRE2 UCP: \p{L} \p{N} _)
//   Oniguruma \s = U+0009-000D, U+0085, Z* separators            (PCRE2 UCP adds U+180E)
// so \w \W \s \S are spelled out with properties (inside a class only the positive forms can be).
std::string onig_to_pcre2(std::string_view p) {
  static constexpr std::string_view kWord = "\\p{L}\\p{M}\\p{N}\\p{Pc}";
  static constexpr std::string_view kSpace = "\\t-\\r\\x{85}\\p{Z}";
  std::string out;
  out.reserve(p.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char e = p[i + 1];
      std::string_view set = e == 'w' || e == 'W' ? kWord : e == 's' || e == 'S' ? kSpace : std::string_view();
      bool negated = e == 'W' || e == 'S';
      if (!set.empty() && in_class && !negated) {
        out += set;
      } else if (!set.empty() && !in_class) {
        out += negated ? "[^" : "[";
        out += set;
        out += "]";
      } else {
        out.push_back(c);
        out.push_back(e);
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX class [:alpha:]
      size_t end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        out.append(p.substr(i, end + 2 - i));
        i = end + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
  }
  return out;
}

Regex::Regex(std::string_view pattern_in, std::string_view context, bool onig)
    : pattern_(pattern_in) {
  std::string translated = onig ? onig_to_pcre2(pattern_in) : std::string(pattern_in);
  std::string_view pattern = translated;
  int err = 0;
  PCRE2_SIZE err_off = 0;
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  if (!code) {
    fail(Status::bad_model, "{}: cannot compile regex /{}/ (as /{}/) at offset {}: {}", context, pattern_, pattern, err_off,
         pcre2_message(err));
  }
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::find_each(std::string_view s, FunctionRef<void(size_t, size_t)> match) const {
  auto* code = static_cast<pcre2_code*>(code_);
  auto& state = thread_state();
  pcre2_match_data* md = state.data;
  if (!md || !state.context) fail(Status::internal, "tokenizer: out of memory for regex match data");
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos <= s.size()) {
    int rc = jit_ ? pcre2_jit_match(code, subject, s.size(), pos, 0, md, state.context)
                  : pcre2_match(code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, md, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      fail(Status::internal, "tokenizer: regex /{}/ failed on a {}-byte text: {}", pattern_, s.size(),
           pcre2_message(rc));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    match(start, end);
    if (end > start) {
      pos = end;
    } else {
      if (end >= s.size()) break;
      pos = end + utf8_len(static_cast<unsigned char>(s[end]));
    }
  }
}

Pattern::Pattern(const json& j, std::string_view context) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    literal_ = j["String"].get<std::string>();
    if (literal_.empty()) fail(Status::bad_model, "{}: empty String pattern", context);
  } else if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    regex_ = std::make_unique<Regex>(j["Regex"].get<std::string>(), context, true);
  } else {
    fail(Status::bad_model, "{}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}, got {}",
         context, j.dump());
  }
}

void Pattern::find_each(std::string_view s, FunctionRef<void(size_t, size_t)> match) const {
  if (regex_) {
    regex_->find_each(s, match);
    return;
  }
  size_t pos = 0;
  while ((pos = s.find(literal_, pos)) != std::string_view::npos) {
    match(pos, pos + literal_.size());
    pos += literal_.size();
  }
}

std::string Pattern::replace_all(std::string_view s, std::string_view content) const {
  std::string out;
  size_t prev = 0;
  bool any = false;
  find_each(s, [&](size_t start, size_t end) {
    if (!any) out.reserve(s.size() + s.size() / 4);
    any = true;
    out.append(s.substr(prev, start - prev));
    out.append(content);
    prev = end;
  });
  if (!any) return std::string(s);
  out.append(s.substr(prev));
  return out;
}

}  // namespace dlvk::text
