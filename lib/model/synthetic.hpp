// Synthetic DiffLlama checkpoints of named shapes with random weights, built in memory, for
// benchmarks (no files, nothing downloaded).
#pragma once
#include <string>
#include <vector>

#include "dlvk/checkpoint.hpp"
#include "dlvk/model_config.hpp"

namespace dlvk {

// Names: "tiny", "S", "M" (the llama.cpp comparison shapes), "1.24B" (kajuma/DiffLlama-0.3B-handcut's
// dimensions: Llama-3.2-1B shape, tied, llama3 rope).
ModelConfig synthetic_config(const std::string& name);
std::vector<std::string> synthetic_names();

// A checkpoint with every tensor of `config`, random weights stored as `dtype` (small magnitudes so
// activations stay finite), generated deterministically from `seed`.
Checkpoint synthetic_checkpoint(const ModelConfig& config, DType dtype, uint64_t seed = 1);

}  // namespace dlvk
