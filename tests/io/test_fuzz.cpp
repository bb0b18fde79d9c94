// Mutated inputs: every outcome is either success or a dlvk::Error, never a crash, hang or huge
// allocation (run under ASan/UBSan to make "never a crash" strict).
#include <cstring>

#include "dlvk/checkpoint.hpp"
#include "dlvk/model_config.hpp"
#include "dlvk/npy.hpp"
#include "test_util.hpp"

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {
    s += 0x9e3779b97f4a7c15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? size_t(next() % n) : 0; }
};

template <class T>
void mutate(T& bytes, Rng& r) {
  const char interesting[] = {'{', '}', '[', ']', '"', ',', ':', '-', '0', '9', 'e', '.', ' ', '\0', '\xff'};
  const int edits = 1 + int(r.below(4));
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    switch (r.below(5)) {
      case 0: bytes[r.below(bytes.size())] = typename T::value_type(r.next()); break;
      case 1: bytes[r.below(bytes.size())] = typename T::value_type(interesting[r.below(sizeof interesting)]); break;
      case 2: bytes.resize(r.below(bytes.size() + 1)); break;
      case 3: bytes.erase(bytes.begin() + ptrdiff_t(r.below(bytes.size()))); break;
      case 4: bytes.insert(bytes.begin() + ptrdiff_t(r.below(bytes.size())), typename T::value_type(interesting[r.below(sizeof interesting)])); break;
    }
  }
}

}  // namespace

TEST_CASE("fuzz: mutated safetensors files") {
  iotest::StWriter w;
  w.metadata = {{"format", "pt"}};
  w.add_f32("model.embed_tokens.weight", {4, 3}, std::vector<float>(12, 1.0f));
  w.add_half("model.norm.weight", dlvk::DType::bf16, {3}, {1, 2, 3});
  w.add_half("x", dlvk::DType::f16, {2, 2}, {1, 2, 3, 4});
  const std::vector<uint8_t> good = w.bytes();
  Rng r{1};
  int ok = 0, errors = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = good;
    mutate(b, r);
    if (r.below(8) == 0 && b.size() >= 8) {  // also hit the length field
      const uint64_t len = r.next() >> r.below(64);
      std::memcpy(b.data(), &len, 8);
    }
    try {
      const dlvk::SafetensorsFile f = dlvk::SafetensorsFile::from_memory(b.data(), b.size(), "fuzz");
      for (const dlvk::TensorInfo& t : f.tensors()) {
        const auto v = dlvk::tensor_to_f32(t);  // reads every byte: in bounds under ASan
        REQUIRE(int64_t(v.size()) == t.numel());
      }
      ++ok;
    } catch (const dlvk::Error&) {
      ++errors;
    }
  }
  CHECK(ok + errors == 3000);
  CHECK(errors > 0);
}

TEST_CASE("fuzz: mutated config.json") {
  const std::string good = R"({"model_type": "diffllama", "vocab_size": 16, "hidden_size": 8,
    "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 4, "head_dim": 4,
    "num_key_value_heads": 2, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
    "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    "eos_token_id": [1, 2], "bos_token_id": 0, "torch_dtype": "bfloat16"})";
  Rng r{2};
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s = good;
    mutate(s, r);
    try {
      const dlvk::ModelConfig c = dlvk::ModelConfig::parse(s, "fuzz/config.json");
      REQUIRE(c.rope_inv_freq().size() == size_t(c.head_dim / 2));
      ++ok;
    } catch (const dlvk::Error& e) {
      REQUIRE(std::string(e.what()).find("fuzz/config.json") != std::string::npos);
    }
  }
  CHECK(ok > 0);
}

TEST_CASE("fuzz: mutated npy files") {
  const std::vector<float> v{1, 2, 3, 4, 5, 6};
  const std::vector<uint8_t> good = dlvk::encode_npy_f32(v, std::vector<int64_t>{2, 3});
  Rng r{3};
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = good;
    mutate(b, r);
    try {
      const dlvk::NpyArray a = dlvk::decode_npy(b, "fuzz.npy");
      REQUIRE(int64_t(a.data.size()) == a.numel());
    } catch (const dlvk::Error&) {
    }
  }
}
