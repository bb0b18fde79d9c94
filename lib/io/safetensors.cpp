#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "dlvk/checkpoint.hpp"
#include "dlvk/error.hpp"

namespace dlvk {

namespace fs = std::filesystem;

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated on open: cannot overflow
  return n;
}

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

struct SafetensorsFile::Storage {
  const uint8_t* data = nullptr;
  size_t size = 0;
  void* map = nullptr;  // mmap'd region (size bytes) or nullptr
  std::shared_ptr<const std::vector<uint8_t>> buffer;
  ~Storage() {
    if (map) ::munmap(map, size);
  }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Storage> storage, std::string label)
    : storage_(std::move(storage)), label_(std::move(label)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  const std::string p = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    fail(Status::io_error, "{}: cannot open: {}", p, std::strerror(e));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(Status::io_error, "{}: cannot stat: {}", p, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(Status::io_error, "{}: not a regular file", p);
  if (st.st_size < 8)
    fail(Status::bad_model, "{}: file is {} bytes, too small for a safetensors header (8)", p,
         int64_t(st.st_size));
  auto storage = std::make_unique<Storage>();
  storage->size = size_t(st.st_size);
  void* m = ::mmap(nullptr, storage->size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) fail(Status::io_error, "{}: mmap failed: {}", p, std::strerror(errno));
  storage->map = m;
  storage->data = static_cast<const uint8_t*>(m);
  SafetensorsFile f(std::move(storage), p);
  f.validate();
  return f;
}

SafetensorsFile SafetensorsFile::from_memory(std::shared_ptr<const std::vector<uint8_t>> bytes,
                                             std::string label) {
  if (!bytes) fail(Status::invalid_argument, "{}: null buffer", label);
  auto storage = std::make_unique<Storage>();
  storage->data = bytes->data();
  storage->size = bytes->size();
  storage->buffer = std::move(bytes);
  SafetensorsFile f(std::move(storage), std::move(label));
  f.validate();
  return f;
}

SafetensorsFile SafetensorsFile::from_memory(const void* data, size_t size, std::string label) {
  return from_memory(data, size, true, std::move(label));
}

SafetensorsFile SafetensorsFile::from_memory(const void* data, size_t size, bool copy,
                                             std::string label) {
  if (!data && size) fail(Status::invalid_argument, "{}: null buffer", label);
  const auto* p = static_cast<const uint8_t*>(data);
  if (copy)
    return from_memory(std::make_shared<const std::vector<uint8_t>>(p, p + size), std::move(label));
  auto storage = std::make_unique<Storage>();
  storage->data = p;
  storage->size = size;
  SafetensorsFile f(std::move(storage), std::move(label));
  f.validate();
  return f;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

namespace {

using json = nlohmann::json;

struct RawEntry {
  std::string name;
  std::optional<std::string> dtype;
  std::vector<uint64_t> shape;
  bool has_shape = false;
  std::vector<uint64_t> offsets;
  bool has_offsets = false;
};

// Streaming (SAX) reader of the header: memory stays proportional to the number of tensors, the
// structure is checked as it is read, and the first problem stops the parse.
class HeaderSax : public nlohmann::json_sax<json> {
 public:
  explicit HeaderSax(const std::string& where) : where_(where) {}

  std::vector<RawEntry> entries;
  std::optional<Error> error;

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t v) override {
    if (state_ == State::in_shape || state_ == State::in_offsets) {
      return set_error(fmt::format("{}: tensor '{}': {} contains negative value {}", where_,
                                   cur_.name, field_name(), v));
    }
    return scalar("a number");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (state_ == State::in_shape) {
      if (cur_.shape.size() >= kMaxTensorRank)
        return set_error(fmt::format("{}: tensor '{}': shape has more than {} dimensions", where_,
                                     cur_.name, kMaxTensorRank));
      cur_.shape.push_back(v);
      return true;
    }
    if (state_ == State::in_offsets) {
      if (cur_.offsets.size() >= 2)
        return set_error(fmt::format("{}: tensor '{}': data_offsets must have 2 entries", where_,
                                     cur_.name));
      cur_.offsets.push_back(v);
      return true;
    }
    return scalar("a number");
  }
  bool number_float(number_float_t, const string_t& s) override {
    if (state_ == State::in_shape || state_ == State::in_offsets)
      return set_error(fmt::format("{}: tensor '{}': {} contains non-integer {}", where_, cur_.name,
                                   field_name(), s));
    return scalar("a number");
  }
  bool string(string_t& s) override {
    if (state_ == State::tensor_value && field_ == Field::dtype) {
      cur_.dtype = std::move(s);
      state_ = State::in_tensor;
      return true;
    }
    return scalar("a string");
  }
  bool binary(binary_t&) override { return scalar("binary"); }

  bool start_object(std::size_t) override {
    switch (state_) {
      case State::start: state_ = State::top; return true;
      case State::top_value:
        if (cur_key_ == "__metadata__") return begin_skip(State::top);
        cur_ = RawEntry{};
        cur_.name = std::move(cur_key_);
        state_ = State::in_tensor;
        return true;
      case State::tensor_value:
        if (field_ == Field::other) return begin_skip(State::in_tensor);
        return wrong_field_type("an object");
      case State::skipping: return skip_push();
      default:
        return set_error(fmt::format("{}: tensor '{}': {} must be a list of integers", where_,
                                     cur_.name, field_name()));
    }
  }
  bool key(string_t& k) override {
    if (state_ == State::skipping) return true;
    if (state_ == State::top) {
      cur_key_ = std::move(k);
      state_ = State::top_value;
      return true;
    }
    // state_ == in_tensor
    if (k == "dtype") field_ = Field::dtype;
    else if (k == "shape") field_ = Field::shape;
    else if (k == "data_offsets") field_ = Field::offsets;
    else field_ = Field::other;
    state_ = State::tensor_value;
    return true;
  }
  bool end_object() override {
    if (state_ == State::skipping) return skip_pop();
    if (state_ == State::in_tensor) {
      if (!cur_.dtype)
        return set_error(fmt::format("{}: tensor '{}': missing dtype", where_, cur_.name));
      if (!cur_.has_shape)
        return set_error(fmt::format("{}: tensor '{}': missing shape", where_, cur_.name));
      if (!cur_.has_offsets)
        return set_error(fmt::format("{}: tensor '{}': missing data_offsets", where_, cur_.name));
      entries.push_back(std::move(cur_));
      state_ = State::top;
      return true;
    }
    state_ = State::done;  // end of the top-level object
    return true;
  }
  bool start_array(std::size_t) override {
    if (state_ == State::skipping) return skip_push();
    if (state_ == State::top_value) {
      if (cur_key_ == "__metadata__") return begin_skip(State::top);
      return set_error(
          fmt::format("{}: tensor '{}': entry must be an object, got an array", where_, cur_key_));
    }
    if (state_ == State::tensor_value) {
      if (field_ == Field::shape) {
        if (cur_.has_shape)
          return set_error(fmt::format("{}: tensor '{}': duplicate shape", where_, cur_.name));
        cur_.has_shape = true;
        state_ = State::in_shape;
        return true;
      }
      if (field_ == Field::offsets) {
        if (cur_.has_offsets)
          return set_error(
              fmt::format("{}: tensor '{}': duplicate data_offsets", where_, cur_.name));
        cur_.has_offsets = true;
        state_ = State::in_offsets;
        return true;
      }
      if (field_ == Field::other) return begin_skip(State::in_tensor);
      return wrong_field_type("an array");
    }
    if (state_ == State::start) return set_error(fmt::format("{}: header is a JSON array, expected an object", where_));
    return set_error(fmt::format("{}: tensor '{}': {} must be a flat list of integers", where_,
                                 cur_.name, field_name()));
  }
  bool end_array() override {
    if (state_ == State::skipping) return skip_pop();
    if (state_ == State::in_offsets && cur_.offsets.size() != 2)
      return set_error(fmt::format("{}: tensor '{}': data_offsets must have 2 entries, got {}",
                                   where_, cur_.name, cur_.offsets.size()));
    state_ = State::in_tensor;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    if (!error) error.emplace(Status::bad_model, fmt::format("{}: header is not valid JSON: {}", where_, ex.what()));
    return false;
  }

 private:
  enum class State { start, top, top_value, in_tensor, tensor_value, in_shape, in_offsets, skipping, done };
  enum class Field { dtype, shape, offsets, other };

  const std::string& where_;
  State state_ = State::start;
  State after_skip_ = State::top;
  size_t skip_depth_ = 0;
  Field field_ = Field::other;
  std::string cur_key_;
  RawEntry cur_;

  const char* field_name() const {
    switch (field_) {
      case Field::dtype: return "dtype";
      case Field::shape: return "shape";
      case Field::offsets: return "data_offsets";
      default: return "field";
    }
  }
  bool set_error(std::string msg, Status s = Status::bad_model) {
    if (!error) error.emplace(s, msg);
    return false;
  }
  bool wrong_field_type(const char* got) {
    const char* expected = field_ == Field::dtype ? "a string" : "a list of integers";
    return set_error(fmt::format("{}: tensor '{}': {} must be {}, got {}", where_, cur_.name,
                                 field_name(), expected, got));
  }
  // A scalar value where the state allows one.
  bool scalar(const char* what) {
    switch (state_) {
      case State::skipping: return true;
      case State::top_value:
        if (cur_key_ == "__metadata__") {
          state_ = State::top;
          return true;
        }
        return set_error(fmt::format("{}: tensor '{}': entry must be an object, got {}", where_,
                                     cur_key_, what));
      case State::tensor_value:
        if (field_ == Field::other) {
          state_ = State::in_tensor;
          return true;
        }
        return wrong_field_type(what);
      case State::start:
        return set_error(fmt::format("{}: header is {}, expected a JSON object", where_, what));
      default:
        return set_error(fmt::format("{}: tensor '{}': {} must contain only integers, got {}",
                                     where_, cur_.name, field_name(), what));
    }
  }
  bool begin_skip(State after) {
    after_skip_ = after;
    state_ = State::skipping;
    skip_depth_ = 1;
    return true;
  }
  bool skip_push() {
    if (++skip_depth_ > 64)
      return set_error(fmt::format("{}: header JSON nested deeper than 64 levels", where_));
    return true;
  }
  bool skip_pop() {
    if (--skip_depth_ == 0) state_ = after_skip_;
    return true;
  }
};

}  // namespace

void SafetensorsFile::validate() {
  const std::string& where = label_;
  const uint8_t* base = storage_->data;
  const uint64_t size = storage_->size;
  if (size < 8)
    fail(Status::bad_model, "{}: file is {} bytes, too small for a safetensors header (8)", where,
         size);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];  // little-endian u64
  if (header_len > kMaxSafetensorsHeader)
    fail(Status::bad_model, "{}: header length {} exceeds the limit of {} bytes", where, header_len,
         kMaxSafetensorsHeader);
  if (header_len > size - 8)
    fail(Status::bad_model, "{}: header length {} exceeds the file size {} - 8 (truncated file?)",
         where, header_len, size);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;

  HeaderSax sax(where);
  const char* h = reinterpret_cast<const char*>(base + 8);
  const bool ok = json::sax_parse(h, h + header_len, &sax, nlohmann::json::input_format_t::json, true);
  if (sax.error) throw *sax.error;
  if (!ok) fail(Status::bad_model, "{}: header is not valid JSON", where);

  std::vector<TensorInfo> tensors;
  tensors.reserve(sax.entries.size());
  for (RawEntry& e : sax.entries) {
    const auto dt = dtype_from_safetensors(*e.dtype);
    if (!dt)
      fail(Status::unsupported, "{}: tensor '{}': dtype '{}' is not supported (F32, F16, BF16)",
           where, e.name, *e.dtype);
    TensorInfo t;
    t.name = std::move(e.name);
    t.dtype = *dt;
    t.file = label_;
    // numel, overflow-checked: at most 2^61 elements, so numel * dtype size fits in 64 bits.
    constexpr uint64_t kLimit = uint64_t(1) << 61;
    // The product of the non-zero dimensions is checked too, so numel() never overflows.
    uint64_t numel = 1;
    bool zero = false;
    for (uint64_t d : e.shape) {
      if (d > kLimit || (d != 0 && numel > kLimit / d))
        fail(Status::bad_model, "{}: tensor '{}': shape has too many elements (dimension {})",
             where, t.name, d);
      if (d == 0) zero = true;
      else numel *= d;
      t.shape.push_back(int64_t(d));
    }
    if (zero) numel = 0;
    const uint64_t begin = e.offsets[0], end = e.offsets[1];
    if (begin > end)
      fail(Status::bad_model, "{}: tensor '{}': data_offsets [{}, {}] has begin > end", where,
           t.name, begin, end);
    if (end > data_size)
      fail(Status::bad_model,
           "{}: tensor '{}': data_offsets [{}, {}] extend beyond the data section ({} bytes)",
           where, t.name, begin, end, data_size);
    const uint64_t want = numel * size_of(t.dtype);
    if (end - begin != want)
      fail(Status::bad_model,
           "{}: tensor '{}': data_offsets [{}, {}] hold {} bytes but {} {} needs {}", where,
           t.name, begin, end, end - begin, name(t.dtype), shape_str(t.shape), want);
    t.data = base + data_start + begin;
    t.nbytes = size_t(want);
    tensors.push_back(std::move(t));
  }

  std::sort(tensors.begin(), tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  for (size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i - 1].name == tensors[i].name)
      fail(Status::bad_model, "{}: tensor '{}' appears twice in the header", where,
           tensors[i].name);

  // No two tensors overlap (empty tensors occupy nothing).
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors.size());
  for (const TensorInfo& t : tensors)
    if (t.nbytes) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* a = by_offset[i - 1];
    const TensorInfo* b = by_offset[i];
    if (a->data + a->nbytes > b->data)
      fail(Status::bad_model, "{}: tensors '{}' and '{}' overlap in the data section", where,
           a->name, b->name);
  }

  tensors_ = std::move(tensors);
}

}  // namespace dlvk
