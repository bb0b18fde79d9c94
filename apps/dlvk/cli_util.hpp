// Helpers shared by the dlvk subcommands: strict id lists, device options, load progress.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dlvk/tokenizer.hpp"
#include "model/diffllama.hpp"
#include "vk/device.hpp"

namespace dlvk::cli {

// "1,2,3" -> ids; anything else (empty, non-numeric, negative, overflow) is a one-line error.
std::vector<int32_t> parse_ids(const std::string& csv);

// DIR/tokenizer.json when the model directory has one (a malformed one is an error).
std::optional<Tokenizer> model_tokenizer(const std::string& dir);

// The whole file as bytes; an unreadable file is a one-line io_error naming it.
std::string read_text_file(const std::string& path);

// --device, --caps, and --quant (how the weights are stored on the device).
struct DeviceFlags {
  int device = -1;
  std::string profile;
  std::string quant;
  ops::Quant weight_quant() const { return ops::parse_quant(quant); }
  void add(CLI::App* app);
  std::unique_ptr<vk::Device> open() const;
};

// Loads a model with a progress bar on stderr when it is a terminal.
std::unique_ptr<Model> load_model(vk::Device& device, const std::string& dir, bool quiet = false,
                                  ops::Quant quant = ops::Quant::none);

}  // namespace dlvk::cli
