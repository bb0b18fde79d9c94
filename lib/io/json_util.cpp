#include "io/json_util.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dlvk/error.hpp"

namespace dlvk::io_detail {

namespace fs = std::filesystem;

std::string read_file_limited(const fs::path& path, size_t max_bytes) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(Status::io_error, "{}: file not found", path.string());
  if (!fs::is_regular_file(st)) fail(Status::io_error, "{}: not a regular file", path.string());
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(Status::io_error, "{}: cannot open: {}", path.string(), std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, f.get());
    if (n > 0) {
      if (out.size() + n > max_bytes)
        fail(Status::bad_model, "{}: file is larger than the limit of {} bytes", path.string(),
             max_bytes);
      out.append(buf, n);
    }
    if (n < sizeof buf) {
      if (std::ferror(f.get())) fail(Status::io_error, "{}: read error", path.string());
      break;
    }
  }
  return out;
}

namespace {

// Cheap lexical pre-scan: nesting depth and an upper bound on the number of values, so that a
// hostile file cannot make the DOM parser allocate without bound.
void check_complexity(std::string_view text, const std::string& where, size_t max_depth,
                      size_t max_values) {
  size_t depth = 0, values = 1;
  bool in_string = false, escape = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > max_depth)
          fail(Status::bad_model, "{}: JSON nested deeper than the limit of {} levels", where,
               max_depth);
        ++values;
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      case ',':
      case ':':
        if (++values > max_values)
          fail(Status::bad_model, "{}: JSON has more than the limit of {} values", where,
               max_values);
        break;
      default: break;
    }
  }
}

}  // namespace

nlohmann::json parse_json_object(std::string_view text, const std::string& where,
                                 size_t max_depth, size_t max_values) {
  check_complexity(text, where, max_depth, max_values);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message is one line: "[json.exception.parse_error.101] parse error at line 1..."
    fail(Status::bad_model, "{}: invalid JSON: {}", where, e.what());
  }
  if (!j.is_object())
    fail(Status::bad_model, "{}: top-level JSON value is {}, expected an object", where,
         json_type_name(j));
  return j;
}

const char* json_type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer";
    case nlohmann::json::value_t::number_float: return "number";
    case nlohmann::json::value_t::binary: return "binary";
    case nlohmann::json::value_t::discarded: return "discarded";
  }
  return "unknown";
}

}  // namespace dlvk::io_detail
