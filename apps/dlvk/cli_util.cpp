#include "cli_util.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dlvk::cli {

std::vector<int32_t> parse_ids(const std::string& csv) {
  std::vector<int32_t> ids;
  if (csv.find_first_not_of(" \t\n") == std::string::npos) fail(Status::invalid_argument, "--ids is empty");
  size_t pos = 0;
  while (pos <= csv.size()) {
    size_t end = csv.find(',', pos);
    if (end == std::string::npos) end = csv.size();
    std::string item = csv.substr(pos, end - pos);
    size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size())
      fail(Status::invalid_argument, "--ids: '{}' is not a token id (expected comma-separated integers)", item);
    if (v < 0 || v > INT32_MAX) fail(Status::invalid_argument, "--ids: token id {} is out of range", v);
    ids.push_back(int32_t(v));
    pos = end + 1;
  }
  return ids;
}

std::optional<Tokenizer> model_tokenizer(const std::string& dir) {
  auto path = std::filesystem::path(dir) / "tokenizer.json";
  if (!std::filesystem::exists(path)) return std::nullopt;
  return Tokenizer::from_file(path);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Status::io_error, "cannot read {}: {}", path, std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void DeviceFlags::add(CLI::App* app) {
  app->add_option("--device", device, "Vulkan device index (see `dlvk devices`); default: the best one");
  app->add_option("--caps", profile, "capability profile to force: native, minimal, mobile-like");
  app->add_option("--quant", quant, "quantize the projection weights at load: q8_0 or q4_0 (default: as stored)");
}

std::unique_ptr<vk::Device> DeviceFlags::open() const {
  vk::DeviceOptions o;
  o.device_index = device;
  o.profile = profile;
  return std::make_unique<vk::Device>(o);
}

std::unique_ptr<Model> load_model(vk::Device& device, const std::string& dir, bool quiet, ops::Quant quant) {
  bool tty = !quiet && isatty(2);
  LoadProgress progress;
  int last = -1;
  if (tty)
    progress = [&](uint64_t done, uint64_t total) {
      int pct = total ? int(done * 100 / total) : 100;
      if (pct == last) return;
      last = pct;
      int bars = pct / 4;
      std::fprintf(stderr, "\rloading %s [%.*s%*s] %3d%% (%.1f MiB)", dir.c_str(), bars, "=========================", 25 - bars, "",
                   pct, double(total) / (1 << 20));
      std::fflush(stderr);
    };
  auto model = Model::load(device, dir, progress, quant);
  if (tty) std::fprintf(stderr, "\n");
  return model;
}

}  // namespace dlvk::cli
