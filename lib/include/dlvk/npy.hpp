// NumPy .npy files: a float32 C-order writer (byte-identical to numpy.save) and a reader for the
// float32/float64 arrays numpy.save writes (used for golden logits).
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace dlvk {

struct NpyArray {
  std::vector<int64_t> shape;  // [] for a 0-d array
  std::vector<float> data;     // C order; '<f8' input is rounded to f32
  bool was_f64 = false;        // the file held '<f8'
  int64_t numel() const;
};

// Encodes a '<f4' C-order .npy (format version 1.0; header padded with spaces to a multiple of
// 64 bytes, exactly as numpy.save does). data.size() must equal the product of shape
// (Status::invalid_argument otherwise).
std::vector<uint8_t> encode_npy_f32(std::span<const float> data, std::span<const int64_t> shape);
// Writes it to a file (Status::io_error on failure).
void write_npy_f32(const std::filesystem::path& path, std::span<const float> data,
                   std::span<const int64_t> shape);
// Convenience for logits: shape [T, V].
void write_npy_f32(const std::filesystem::path& path, std::span<const float> data, int64_t rows,
                   int64_t cols);

// Decodes a .npy (versions 1.0/2.0/3.0) holding '<f4' or '<f8' data in C order. Other dtypes,
// big-endian or Fortran order -> Status::unsupported; a malformed header or a data size that does
// not match the shape -> Status::bad_model; `where` names the source in messages.
NpyArray decode_npy(std::span<const uint8_t> bytes, const std::string& where);
// Reads and decodes a file (Status::io_error if missing/unreadable).
NpyArray read_npy(const std::filesystem::path& path);

}  // namespace dlvk
