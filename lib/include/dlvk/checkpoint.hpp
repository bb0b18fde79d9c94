// Safetensors files (memory-mapped, validated on open) and a model directory's set of them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dlvk/dtype.hpp"

namespace dlvk {

struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;     // row-major; [] is a scalar
  const uint8_t* data = nullptr;  // into the file's mapping; NOT necessarily aligned
  size_t nbytes = 0;
  std::string file;  // the file path (or the label of an in-memory buffer), for messages
  int64_t numel() const;
};

// "[64,128]"
std::string shape_str(std::span<const int64_t> shape);

// Limits applied when a safetensors file is opened.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;  // bytes, as the reference library
inline constexpr size_t kMaxTensorRank = 16;

// One .safetensors file. Every tensor entry is validated on open: header length within the file
// and <= 100 MB, header a JSON object, each entry with a string dtype (F32/F16/BF16, others:
// Status::unsupported), a shape of non-negative integers whose product does not overflow, and
// data_offsets [begin, end] inside the data section with end - begin == numel * dtype size; no two
// tensors overlap; __metadata__ is ignored. Errors are Status::bad_model naming the file (and the
// tensor), Status::io_error for a missing/unreadable file. Move-only; the mapping is released in
// the destructor, and TensorInfo pointers stay valid while the object (or what it was moved into)
// lives.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates a buffer held in memory (no copy; the buffer is kept alive by the file).
  static SafetensorsFile from_memory(std::shared_ptr<const std::vector<uint8_t>> bytes,
                                     std::string label);
  // Copies `size` bytes from `data`.
  static SafetensorsFile from_memory(const void* data, size_t size, std::string label);
  // copy = false borrows the buffer: the caller keeps it alive and unchanged while the file (and
  // any TensorInfo pointer into it) is in use.
  static SafetensorsFile from_memory(const void* data, size_t size, bool copy, std::string label);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return label_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
  const TensorInfo* find(std::string_view name) const;                // nullptr if absent

 private:
  struct Storage;
  SafetensorsFile(std::unique_ptr<Storage> storage, std::string label);
  void validate();

  std::unique_ptr<Storage> storage_;
  std::string label_;
  std::vector<TensorInfo> tensors_;
};

// A model's weights: dir/model.safetensors, or the shards named by
// dir/model.safetensors.index.json ("weight_map": tensor name -> shard file). A path to a single
// .safetensors file is accepted too. A shard that does not exist is Status::io_error naming it;
// a tensor the index lists but its shard lacks is Status::bad_model; the same tensor name in two
// files is Status::bad_model.
class Checkpoint {
 public:
  static Checkpoint open(const std::filesystem::path& dir);
  static Checkpoint from_files(std::vector<SafetensorsFile> files);

  const TensorInfo* find(std::string_view name) const;  // exact name; nullptr if absent
  const std::vector<const TensorInfo*>& tensors() const { return index_; }  // sorted by name
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // A label for messages: the directory (or the single file).
  const std::string& where() const { return where_; }

 private:
  std::vector<SafetensorsFile> files_;
  std::vector<const TensorInfo*> index_;
  std::string where_;
  void build_index();
};

// Converts a tensor's data (F32/F16/BF16) to f32. `out.size()` must equal numel().
void tensor_to_f32(const TensorInfo& t, std::span<float> out);
std::vector<float> tensor_to_f32(const TensorInfo& t);

}  // namespace dlvk
