#include <cstring>

#include "dlvk/checkpoint.hpp"
#include "test_util.hpp"

using dlvk::Checkpoint;
using dlvk::DType;
using dlvk::SafetensorsFile;
using dlvk::Status;
using dlvk::TensorInfo;
using iotest::expect_error;
using iotest::raw_safetensors;
using iotest::StWriter;
namespace fs = std::filesystem;

namespace {

SafetensorsFile from_bytes(const std::vector<uint8_t>& bytes, const std::string& label = "mem.safetensors") {
  return SafetensorsFile::from_memory(bytes.data(), bytes.size(), label);
}

void expect_bad_bytes(const std::vector<uint8_t>& bytes, Status st,
                      std::initializer_list<std::string> subs) {
  // from memory and from a file give the same verdict
  expect_error([&] { from_bytes(bytes, "bad.safetensors"); }, st, subs);
  iotest::TempDir dir;
  iotest::write_bytes(dir / "bad.safetensors", bytes);
  expect_error([&] { SafetensorsFile::open(dir / "bad.safetensors"); }, st, subs);
}

// A header string for one tensor entry.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

}  // namespace

TEST_CASE("safetensors: read back values of every dtype") {
  iotest::TempDir dir;
  StWriter w;
  w.metadata = {{"format", "pt"}};
  w.add_f32("a.f32", {2, 3}, {1, 2, 3, 4, 5, 6});
  w.add_half("b.f16", DType::f16, {3}, {0.5f, -2.0f, 65504.0f});
  w.add_half("c.bf16", DType::bf16, {1, 2}, {3.0f, -0.25f});
  w.add_f32("d.scalar", {}, {42.0f});
  w.add("e.empty", "F32", {0, 4}, {});
  w.write(dir / "m.safetensors");

  for (int from_mem = 0; from_mem < 2; ++from_mem) {
    SafetensorsFile f = from_mem ? from_bytes(w.bytes()) : SafetensorsFile::open(dir / "m.safetensors");
    REQUIRE(f.tensors().size() == 5);
    CHECK(f.tensors()[0].name == "a.f32");  // sorted by name
    const TensorInfo* a = f.find("a.f32");
    REQUIRE(a);
    CHECK(a->dtype == DType::f32);
    CHECK(a->shape == std::vector<int64_t>{2, 3});
    CHECK(a->numel() == 6);
    CHECK(a->nbytes == 24);
    CHECK(a->file == (from_mem ? "mem.safetensors" : (dir / "m.safetensors").string()));
    CHECK(dlvk::tensor_to_f32(*a) == std::vector<float>{1, 2, 3, 4, 5, 6});
    const TensorInfo* b = f.find("b.f16");
    REQUIRE(b);
    CHECK(b->dtype == DType::f16);
    CHECK(dlvk::tensor_to_f32(*b) == std::vector<float>{0.5f, -2.0f, 65504.0f});
    const TensorInfo* c = f.find("c.bf16");
    REQUIRE(c);
    CHECK(c->dtype == DType::bf16);
    CHECK(dlvk::tensor_to_f32(*c) == std::vector<float>{3.0f, -0.25f});
    const TensorInfo* d = f.find("d.scalar");
    REQUIRE(d);
    CHECK(d->shape.empty());
    CHECK(d->numel() == 1);
    CHECK(dlvk::tensor_to_f32(*d) == std::vector<float>{42.0f});
    const TensorInfo* e = f.find("e.empty");
    REQUIRE(e);
    CHECK(e->numel() == 0);
    CHECK(dlvk::tensor_to_f32(*e).empty());
    CHECK(f.find("a") == nullptr);
    CHECK(f.find("zzz") == nullptr);

    // a borrowed buffer (no copy) reads the same bytes in place
    const std::vector<uint8_t> bytes = w.bytes();
    const SafetensorsFile view = SafetensorsFile::from_memory(bytes.data(), bytes.size(), false, "view");
    CHECK(view.find("b.f16")->data >= bytes.data());
    CHECK(view.find("b.f16")->data < bytes.data() + bytes.size());
    CHECK(dlvk::tensor_to_f32(*view.find("c.bf16")) == std::vector<float>{3.0f, -0.25f});

    // moving keeps the tensor pointers valid
    const TensorInfo* before = f.find("a.f32");
    SafetensorsFile g = std::move(f);
    CHECK(g.find("a.f32") == before);
    CHECK(dlvk::tensor_to_f32(*g.find("a.f32"))[5] == 6.0f);

    std::vector<float> wrong(5);
    expect_error([&] { dlvk::tensor_to_f32(*g.find("a.f32"), wrong); }, Status::invalid_argument,
                 {"a.f32"});
  }
}

TEST_CASE("safetensors: tolerated layouts") {
  SUBCASE("unaligned data, gaps between tensors, unknown entry keys, odd metadata") {
    std::string h = std::string("{") + entry("x", "F32", "[2]", "[1,9]") + "," +
                    "\"__metadata__\":{\"a\":[1,{\"b\":null}],\"c\":\"d\"}," +
                    "\"y\":{\"extra\":[1,2,{\"z\":3}],\"dtype\":\"F16\",\"shape\":[1],"
                    "\"data_offsets\":[12,14],\"more\":true}}";
    std::vector<uint8_t> data(14, 0);
    const float x0 = 1.5f, x1 = -7.0f;
    std::memcpy(data.data() + 1, &x0, 4);
    std::memcpy(data.data() + 5, &x1, 4);
    const uint16_t y = dlvk::f32_to_f16(0.75f);
    std::memcpy(data.data() + 12, &y, 2);
    SafetensorsFile f = from_bytes(raw_safetensors(h + "   ", data));
    CHECK(dlvk::tensor_to_f32(*f.find("x")) == std::vector<float>{1.5f, -7.0f});
    CHECK(dlvk::tensor_to_f32(*f.find("y")) == std::vector<float>{0.75f});
  }
  SUBCASE("empty header object") {
    SafetensorsFile f = from_bytes(raw_safetensors("{}", {}));
    CHECK(f.tensors().empty());
  }
  SUBCASE("zero-size tensors may share an offset") {
    std::string h = std::string("{") + entry("a", "F32", "[0]", "[4,4]") + "," + entry("b", "BF16", "[3,0]", "[4,4]") +
                    "," + entry("c", "F32", "[1]", "[0,4]") + "}";
    SafetensorsFile f = from_bytes(raw_safetensors(h, std::vector<uint8_t>(4)));
    CHECK(f.tensors().size() == 3);
  }
}

TEST_CASE("safetensors: bad files") {
  SUBCASE("too small / truncated") {
    expect_bad_bytes({}, Status::bad_model, {"bad.safetensors", "too small"});
    expect_bad_bytes({1, 0, 0}, Status::bad_model, {"bad.safetensors", "too small"});
    StWriter w;
    w.add_f32("t", {4}, {1, 2, 3, 4});
    std::vector<uint8_t> b = w.bytes();
    b.resize(b.size() - 3);  // cut into the data
    expect_bad_bytes(b, Status::bad_model, {"bad.safetensors", "'t'", "beyond the data section"});
    b.resize(20);  // cut into the header
    expect_bad_bytes(b, Status::bad_model, {"bad.safetensors", "header length", "file size"});
  }
  SUBCASE("huge header lengths") {
    expect_bad_bytes(raw_safetensors("{}", {}, uint64_t(1) << 60), Status::bad_model,
                     {"bad.safetensors", "header length 1152921504606846976", "limit"});
    expect_bad_bytes(raw_safetensors("{}", {}, ~uint64_t(0)), Status::bad_model,
                     {"bad.safetensors", "header length"});
    expect_bad_bytes(raw_safetensors("{}", {}, 100'000'001), Status::bad_model,
                     {"bad.safetensors", "limit"});
  }
  SUBCASE("header not JSON / not an object") {
    expect_bad_bytes(raw_safetensors("not json", {}), Status::bad_model,
                     {"bad.safetensors", "not valid JSON"});
    expect_bad_bytes(raw_safetensors("{\"a\":", {}), Status::bad_model,
                     {"bad.safetensors", "not valid JSON"});
    expect_bad_bytes(raw_safetensors("", {}), Status::bad_model, {"bad.safetensors", "JSON"});
    expect_bad_bytes(raw_safetensors("{} {}", {}), Status::bad_model, {"bad.safetensors", "JSON"});
    expect_bad_bytes(raw_safetensors("[1,2]", {}), Status::bad_model, {"bad.safetensors", "object"});
    expect_bad_bytes(raw_safetensors("42", {}), Status::bad_model, {"bad.safetensors", "object"});
    expect_bad_bytes(raw_safetensors(std::string("{\"a\":1}\0\0", 9), {}), Status::bad_model,
                     {"bad.safetensors"});
    // deep nesting in __metadata__ stops early instead of recursing or allocating
    expect_bad_bytes(raw_safetensors("{\"__metadata__\":" + std::string(100000, '[') +
                                         std::string(100000, ']') + "}",
                                     {}),
                     Status::bad_model, {"bad.safetensors", "nested"});
  }
  SUBCASE("entry structure and JSON types") {
    const std::vector<uint8_t> d(8);
    auto bad = [&](const std::string& h, std::initializer_list<std::string> subs) {
      expect_bad_bytes(raw_safetensors(h, d), Status::bad_model, subs);
    };
    bad(R"({"w":[1,2]})", {"'w'", "object"});
    bad(R"({"w":"F32"})", {"'w'", "object"});
    bad(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", {"'w'", "missing dtype"});
    bad(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", {"'w'", "missing shape"});
    bad(R"({"w":{"dtype":"F32","shape":[2]}})", {"'w'", "missing data_offsets"});
    bad(R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", {"'w'", "dtype", "string"});
    bad(R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", {"'w'", "shape"});
    bad(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", {"'w'", "shape"});
    bad(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", {"'w'", "shape", "negative"});
    bad(R"({"w":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", {"'w'", "shape"});
    bad(R"({"w":{"dtype":"F32","shape":[null],"data_offsets":[0,8]}})", {"'w'", "shape"});
    bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", {"'w'", "data_offsets", "2"});
    bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", {"'w'", "data_offsets"});
    bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":{"a":0}}})", {"'w'", "data_offsets"});
    bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", {"'w'", "data_offsets", "negative"});
    bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", {"'w'", "data_offsets"});
    bad(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", {"'w'", "begin > end"});
  }
  SUBCASE("offsets and sizes") {
    const std::vector<uint8_t> d(8);
    auto bad = [&](const std::string& h, std::initializer_list<std::string> subs) {
      expect_bad_bytes(raw_safetensors(h, d), Status::bad_model, subs);
    };
    bad(std::string("{") + entry("w", "F32", "[2]", "[0,12]") + "}", {"'w'", "beyond the data section", "8 bytes"});
    bad(std::string("{") + entry("w", "F32", "[2]", "[18446744073709551615,18446744073709551615]") + "}",
        {"'w'", "beyond"});
    bad(std::string("{") + entry("w", "F32", "[3]", "[0,8]") + "}", {"'w'", "12", "[3]"});  // size mismatch
    bad(std::string("{") + entry("w", "F16", "[2]", "[0,8]") + "}", {"'w'", "F16"});
    bad(std::string("{") + entry("w", "F32", "[4294967296,4294967296]", "[0,8]") + "}", {"'w'", "too many"});
    bad(std::string("{") + entry("w", "F32", "[2305843009213693952,4]", "[0,8]") + "}", {"'w'", "too many"});
    bad(std::string("{") + entry("w", "F32", "[18446744073709551615]", "[0,8]") + "}", {"'w'"});
    bad(std::string("{") + entry("w", "F32", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "[0,4]") + "}",
        {"'w'", "dimensions"});
    // overlap
    bad(std::string("{") + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[2,6]") + "}",
        {"'a'", "'b'", "overlap"});
    bad(std::string("{") + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F16", "[1]", "[4,6]") + "}",
        {"overlap"});
    bad(std::string("{") + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[4,8]") + "}",
        {"'a'", "twice"});
  }
  SUBCASE("unsupported dtypes name the tensor and dtype") {
    for (const char* dt : {"F64", "I64", "I8", "U8", "BOOL", "F8_E4M3", "f32"}) {
      const std::string h = std::string("{") + entry("layer.w", dt, "[1]", "[0,8]") + "}";
      expect_bad_bytes(raw_safetensors(h, std::vector<uint8_t>(8)), Status::unsupported,
                       {"bad.safetensors", "'layer.w'", std::string("'") + dt + "'"});
    }
  }
  SUBCASE("not a file") {
    iotest::TempDir dir;
    expect_error([&] { SafetensorsFile::open(dir / "missing.safetensors"); }, Status::io_error,
                 {"missing.safetensors"});
    expect_error([&] { SafetensorsFile::open(dir.path); }, Status::io_error, {dir.path.string()});
  }
}

TEST_CASE("checkpoint: single file, shards, and their errors") {
  iotest::TempDir dir;
  expect_error([&] { Checkpoint::open(dir.path); }, Status::io_error,
               {dir.path.string(), "model.safetensors"});
  expect_error([&] { Checkpoint::open(dir / "nope"); }, Status::io_error, {"nope"});

  StWriter a, b;
  a.add_f32("model.embed_tokens.weight", {2, 2}, {1, 2, 3, 4});
  a.add_f32("model.norm.weight", {2}, {5, 6});
  b.add_f32("lm_head.weight", {2, 2}, {7, 8, 9, 10});

  SUBCASE("model.safetensors") {
    a.write(dir / "model.safetensors");
    Checkpoint c = Checkpoint::open(dir.path);
    CHECK(c.tensors().size() == 2);
    REQUIRE(c.find("model.norm.weight"));
    CHECK(dlvk::tensor_to_f32(*c.find("model.norm.weight")) == std::vector<float>{5, 6});
    CHECK(c.find("lm_head.weight") == nullptr);
    // a path to the file itself works too
    CHECK(Checkpoint::open(dir / "model.safetensors").tensors().size() == 2);
  }
  SUBCASE("sharded") {
    a.write(dir / "model-00001-of-00002.safetensors");
    b.write(dir / "model-00002-of-00002.safetensors");
    const std::string index = R"({"metadata": {"total_size": 40}, "weight_map": {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "model.norm.weight": "model-00001-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors"}})";
    iotest::write_text(dir / "model.safetensors.index.json", index);
    {
      Checkpoint c = Checkpoint::open(dir.path);
      CHECK(c.files().size() == 2);
      CHECK(c.tensors().size() == 3);
      REQUIRE(c.find("lm_head.weight"));
      CHECK(c.find("lm_head.weight")->file == (dir / "model-00002-of-00002.safetensors").string());
      CHECK(dlvk::tensor_to_f32(*c.find("lm_head.weight")) == std::vector<float>{7, 8, 9, 10});
      // moving the checkpoint keeps pointers valid
      const TensorInfo* p = c.find("model.norm.weight");
      Checkpoint moved = std::move(c);
      CHECK(moved.find("model.norm.weight") == p);
    }
    // the index wins over a stray model.safetensors
    a.write(dir / "model.safetensors");
    CHECK(Checkpoint::open(dir.path).files().size() == 2);

    // a shard that does not exist
    fs::remove(dir / "model-00002-of-00002.safetensors");
    expect_error([&] { Checkpoint::open(dir.path); }, Status::io_error,
                 {"model-00002-of-00002.safetensors", "does not exist"});
    b.write(dir / "model-00002-of-00002.safetensors");

    // a tensor listed in the index but missing from its shard
    iotest::write_text(dir / "model.safetensors.index.json", R"({"weight_map": {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors"}})");
    expect_error([&] { Checkpoint::open(dir.path); }, Status::bad_model,
                 {"model.layers.0.mlp.up_proj.weight", "model-00002-of-00002.safetensors", "missing"});

    // the same tensor in two shards
    StWriter dup;
    dup.add_f32("model.norm.weight", {2}, {0, 0});
    dup.write(dir / "model-00002-of-00002.safetensors");
    iotest::write_text(dir / "model.safetensors.index.json", R"({"weight_map": {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "model.norm.weight": "model-00002-of-00002.safetensors"}})");
    expect_error([&] { Checkpoint::open(dir.path); }, Status::bad_model,
                 {"model.norm.weight", "model-00001-of-00002.safetensors",
                  "model-00002-of-00002.safetensors"});

    // malformed indexes
    auto bad_index = [&](const std::string& text, Status st, std::initializer_list<std::string> subs) {
      iotest::write_text(dir / "model.safetensors.index.json", text);
      expect_error([&] { Checkpoint::open(dir.path); }, st, subs);
    };
    bad_index("{", Status::bad_model, {"model.safetensors.index.json", "invalid JSON"});
    bad_index("{}", Status::bad_model, {"model.safetensors.index.json", "weight_map"});
    bad_index(R"({"weight_map": []})", Status::bad_model, {"weight_map", "object"});
    bad_index(R"({"weight_map": {}})", Status::bad_model, {"weight_map", "empty"});
    bad_index(R"({"weight_map": {"x": 1}})", Status::bad_model, {"weight_map[\"x\"]", "string"});
    bad_index(R"({"weight_map": {"x": "../../etc/passwd"}})", Status::bad_model, {"../../etc/passwd"});
    bad_index(R"({"weight_map": {"x": "/etc/passwd"}})", Status::bad_model, {"/etc/passwd"});
    bad_index(R"({"weight_map": {"x": "model-00003-of-00002.safetensors"}})", Status::io_error,
              {"model-00003-of-00002.safetensors"});
    // a shard that is itself corrupt is reported with its path
    iotest::write_bytes(dir / "broken.safetensors", {9, 9, 9});
    bad_index(R"({"weight_map": {"x": "broken.safetensors"}})", Status::bad_model,
              {"broken.safetensors", "too small"});
  }
  SUBCASE("pytorch .bin only") {
    iotest::write_text(dir / "pytorch_model.bin", "x");
    expect_error([&] { Checkpoint::open(dir.path); }, Status::unsupported, {"safetensors"});
  }
  SUBCASE("from_files") {
    std::vector<SafetensorsFile> files;
    files.push_back(from_bytes(a.bytes(), "a"));
    files.push_back(from_bytes(b.bytes(), "b"));
    Checkpoint c = Checkpoint::from_files(std::move(files));
    CHECK(c.tensors().size() == 3);
    CHECK(c.find("lm_head.weight")->file == "b");
    std::vector<SafetensorsFile> twice;
    twice.push_back(from_bytes(a.bytes(), "a1"));
    twice.push_back(from_bytes(a.bytes(), "a2"));
    expect_error([&] { Checkpoint::from_files(std::move(twice)); }, Status::bad_model,
                 {"appears in both", "a1", "a2"});
  }
}
