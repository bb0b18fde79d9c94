#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace dlvk::test {

// "1,2,3" in a file (the generated test data's ids.txt) -> ids.
inline std::vector<int32_t> read_ids(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<int32_t> ids;
  std::string item;
  while (std::getline(in, item, ',')) ids.push_back(std::stoi(item));
  return ids;
}

inline std::filesystem::path test_data() {
  const char* d = std::getenv("DLVK_TEST_DATA");
  REQUIRE_MESSAGE(d != nullptr, "DLVK_TEST_DATA is not set (run through ctest)");
  return d;
}

inline nlohmann::json manifest() {
  std::ifstream in(test_data() / "manifest.json");
  REQUIRE_MESSAGE(in.good(), "no manifest.json in DLVK_TEST_DATA: the testdata fixture did not run");
  return nlohmann::json::parse(in);
}

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs a shell command with stdout/stderr captured (and a time limit, so a hang fails the test).
inline CommandResult run_command(const std::string& cmd, int timeout_s = 120) {
  auto dir = std::filesystem::temp_directory_path();
  auto out = dir / ("dlvk_test_out_" + std::to_string(::getpid()));
  auto err = dir / ("dlvk_test_err_" + std::to_string(::getpid()));
  std::string full = "timeout " + std::to_string(timeout_s) + " " + cmd + " >" + out.string() + " 2>" + err.string();
  int rc = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

inline std::string dlvk_bin() {
  const char* b = std::getenv("DLVK_BIN");
  REQUIRE_MESSAGE(b != nullptr, "DLVK_BIN is not set (run through ctest)");
  return b;
}

}  // namespace dlvk::test
