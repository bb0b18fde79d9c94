#include <algorithm>
#include <bit>
#include <cstring>
#include <map>

#include "dlvk/checkpoint.hpp"
#include "dlvk/error.hpp"
#include "io/json_util.hpp"

namespace dlvk {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
constexpr size_t kMaxIndexBytes = 64u << 20;

// A shard name from weight_map must stay inside the model directory.
bool safe_relative(const std::string& s) {
  if (s.empty()) return false;
  const fs::path p(s);
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}
}  // namespace

void Checkpoint::build_index() {
  index_.clear();
  size_t n = 0;
  for (const SafetensorsFile& f : files_) n += f.tensors().size();
  index_.reserve(n);
  for (const SafetensorsFile& f : files_)
    for (const TensorInfo& t : f.tensors()) index_.push_back(&t);
  std::sort(index_.begin(), index_.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->name < b->name; });
  for (size_t i = 1; i < index_.size(); ++i)
    if (index_[i - 1]->name == index_[i]->name)
      fail(Status::bad_model, "{}: tensor '{}' appears in both {} and {}", where_, index_[i]->name,
           index_[i - 1]->file, index_[i]->file);
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = std::lower_bound(index_.begin(), index_.end(), name,
                             [](const TensorInfo* t, std::string_view n) { return t->name < n; });
  if (it == index_.end() || (*it)->name != name) return nullptr;
  return *it;
}

Checkpoint Checkpoint::from_files(std::vector<SafetensorsFile> files) {
  Checkpoint c;
  c.files_ = std::move(files);
  if (c.files_.size() == 1) c.where_ = c.files_[0].path();
  else c.where_ = fmt::format("{} safetensors files", c.files_.size());
  c.build_index();
  return c;
}

Checkpoint Checkpoint::open(const fs::path& dir) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) fail(Status::io_error, "{}: model path not found", dir.string());
  if (fs::is_regular_file(st)) {
    std::vector<SafetensorsFile> files;
    files.push_back(SafetensorsFile::open(dir));
    return from_files(std::move(files));
  }
  if (!fs::is_directory(st)) fail(Status::io_error, "{}: not a directory", dir.string());

  const fs::path index_path = dir / "model.safetensors.index.json";
  const fs::path single_path = dir / "model.safetensors";
  if (fs::exists(index_path, ec)) {
    const std::string where = index_path.string();
    const json j = io_detail::parse_json_object(io_detail::read_file_limited(index_path, kMaxIndexBytes),
                                                where);
    auto wm = j.find("weight_map");
    if (wm == j.end()) fail(Status::bad_model, "{}: missing \"weight_map\"", where);
    if (!wm->is_object())
      fail(Status::bad_model, "{}: \"weight_map\" must be an object, got {}", where,
           io_detail::json_type_name(*wm));
    // shard name -> tensor names listed for it
    std::map<std::string, std::vector<std::string>> shards;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it->is_string())
        fail(Status::bad_model, "{}: weight_map[\"{}\"] must be a string (a shard file name), got {}",
             where, it.key(), io_detail::json_type_name(*it));
      const std::string shard = it->get<std::string>();
      if (!safe_relative(shard))
        fail(Status::bad_model, "{}: weight_map[\"{}\"] = \"{}\" is not a file name inside the model directory",
             where, it.key(), shard);
      shards[shard].push_back(it.key());
    }
    if (shards.empty()) fail(Status::bad_model, "{}: \"weight_map\" is empty", where);
    std::vector<SafetensorsFile> files;
    files.reserve(shards.size());
    for (const auto& [shard, names] : shards) {
      const fs::path p = dir / shard;
      if (!fs::exists(p, ec))
        fail(Status::io_error, "{}: shard file listed in {} does not exist", p.string(),
             index_path.filename().string());
      files.push_back(SafetensorsFile::open(p));
      const SafetensorsFile& f = files.back();
      for (const std::string& n : names)
        if (!f.find(n))
          fail(Status::bad_model, "{}: tensor '{}' listed in {} is missing from the shard", p.string(),
               n, index_path.filename().string());
    }
    Checkpoint c;
    c.files_ = std::move(files);
    c.where_ = dir.string();
    c.build_index();
    return c;
  }
  if (fs::exists(single_path, ec)) {
    Checkpoint c;
    c.files_.push_back(SafetensorsFile::open(single_path));
    c.where_ = dir.string();
    c.build_index();
    return c;
  }
  if (fs::exists(dir / "pytorch_model.bin", ec) || fs::exists(dir / "pytorch_model.bin.index.json", ec))
    fail(Status::unsupported,
         "{}: only PyTorch .bin weights found; dlvk reads safetensors (re-save with safe_serialization=True)",
         dir.string());
  fail(Status::io_error, "{}: neither model.safetensors nor model.safetensors.index.json found",
       dir.string());
}

void tensor_to_f32(const TensorInfo& t, std::span<float> out) {
  const int64_t n = t.numel();
  if (int64_t(out.size()) != n)
    fail(Status::invalid_argument, "tensor_to_f32({}): output has {} elements, tensor has {}",
         t.name, out.size(), n);
  if (t.nbytes != size_t(n) * size_of(t.dtype))
    fail(Status::internal, "tensor_to_f32({}): {} bytes for {} elements of {}", t.name, t.nbytes, n,
         name(t.dtype));
  if (n == 0) return;
  switch (t.dtype) {
    case DType::f32: std::memcpy(out.data(), t.data, t.nbytes); break;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);  // data may be unaligned
        out[size_t(i)] = f16_to_f32(h);
      }
      break;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[size_t(i)] = bf16_to_f32(h);
      }
      break;
  }
}

std::vector<float> tensor_to_f32(const TensorInfo& t) {
  std::vector<float> out(size_t(t.numel()));
  tensor_to_f32(t, out);
  return out;
}

}  // namespace dlvk
