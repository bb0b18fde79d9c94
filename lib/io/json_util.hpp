// Internal helpers for reading small JSON files (config.json, generation_config.json, index.json)
// defensively: bounded file size, bounded nesting and value count before building a DOM.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dlvk::io_detail {

// Reads a whole file. Missing/unreadable -> Status::io_error; larger than max_bytes ->
// Status::bad_model naming the file and the limit.
std::string read_file_limited(const std::filesystem::path& path, size_t max_bytes);

// Parses `text` as a JSON object. Malformed JSON, nesting deeper than max_depth, more than
// max_values values, or a non-object top level -> Status::bad_model naming `where`.
nlohmann::json parse_json_object(std::string_view text, const std::string& where,
                                 size_t max_depth = 64, size_t max_values = size_t(1) << 21);

// "string", "number", "boolean", "null", "array", "object"
const char* json_type_name(const nlohmann::json& j);

}  // namespace dlvk::io_detail
