// Helpers for the host I/O tests: temporary directories, a tiny safetensors writer, and checks on
// dlvk::Error status and message.
#pragma once
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "dlvk/dtype.hpp"
#include "dlvk/error.hpp"

namespace iotest {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("dlvk_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

inline void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}
inline void write_text(const fs::path& p, const std::string& text) {
  write_bytes(p, std::vector<uint8_t>(text.begin(), text.end()));
}

// Raw safetensors bytes: u64 header length, header text, data.
inline std::vector<uint8_t> raw_safetensors(const std::string& header,
                                            const std::vector<uint8_t>& data,
                                            std::optional<uint64_t> header_len = std::nullopt) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t n = header_len.value_or(header.size());
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(n >> (8 * i));
  if (!header.empty()) std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

// A minimal well-formed safetensors writer (tensors laid out back to back, header padded with
// spaces to a multiple of 8 like the reference writer).
struct StWriter {
  struct T {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<T> tensors;
  nlohmann::json metadata = nullptr;

  StWriter& add(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                std::vector<uint8_t> bytes) {
    tensors.push_back({name, dtype, std::move(shape), std::move(bytes)});
    return *this;
  }
  StWriter& add_f32(const std::string& name, std::vector<int64_t> shape,
                    const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return add(name, "F32", std::move(shape), std::move(b));
  }
  StWriter& add_half(const std::string& name, dlvk::DType dt, std::vector<int64_t> shape,
                     const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
      const uint16_t h = dt == dlvk::DType::f16 ? dlvk::f32_to_f16(v[i]) : dlvk::f32_to_bf16(v[i]);
      std::memcpy(b.data() + 2 * i, &h, 2);
    }
    return add(name, dlvk::name(dt), std::move(shape), std::move(b));
  }
  std::string header() const {
    nlohmann::json h = nlohmann::json::object();
    if (!metadata.is_null()) h["__metadata__"] = metadata;
    uint64_t off = 0;
    for (const T& t : tensors) {
      h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
      off += t.bytes.size();
    }
    std::string s = h.dump();
    while (s.size() % 8) s += ' ';
    return s;
  }
  std::vector<uint8_t> data() const {
    std::vector<uint8_t> d;
    for (const T& t : tensors) d.insert(d.end(), t.bytes.begin(), t.bytes.end());
    return d;
  }
  std::vector<uint8_t> bytes() const { return raw_safetensors(header(), data()); }
  void write(const fs::path& p) const { write_bytes(p, bytes()); }
};

// Runs f, which must throw dlvk::Error with `status` and a message containing every substring.
inline void expect_error(const std::function<void()>& f, dlvk::Status status,
                         std::initializer_list<std::string> substrings) {
  std::optional<dlvk::Error> caught;
  try {
    f();
  } catch (const dlvk::Error& e) {
    caught = e;
  }
  REQUIRE_MESSAGE(caught.has_value(), "expected a dlvk::Error with status ",
                  dlvk::status_name(status));
  const std::string msg = caught->what();
  CHECK_MESSAGE(caught->status() == status, "status ", dlvk::status_name(caught->status()),
                " (expected ", dlvk::status_name(status), "): ", msg);
  for (const std::string& s : substrings)
    CHECK_MESSAGE(msg.find(s) != std::string::npos, "message lacks '", s, "': ", msg);
  CHECK_MESSAGE(msg.find('\n') == std::string::npos, "message is not one line: ", msg);
}

}  // namespace iotest
