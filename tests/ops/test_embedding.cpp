// Embedding gather against the host table: f32/f16/bf16 storage, ids including 0 and V-1, odd T, an
// ids offset, an output row stride with gaps, tables split into many row chunks, and one 1 GiB f16
// table (262144 x 2048). The gather does no arithmetic, so every output element must equal the stored
// value decoded to f32 bit for bit (tolerance: exact), and the gaps must keep their NaN prefill.
// The 1 GiB case runs by default; DLVK_TEST_SKIP_1GIB=1 (or a doctest --test-case-exclude filter on
// "*1 GiB*") skips it.
#include <cstdlib>
#include <cstring>

#include "ops/elementwise.hpp"
#include "ops/op_util.hpp"

using namespace dlvk;

namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Gathers `ids` (after `ids_offset` leading entries that must be ignored) from a V x hidden table and
// checks every output bit. Returns the number of chunks the table was split into.
size_t run_case(DType dt, uint32_t V, uint32_t hidden, const std::vector<int32_t>& ids, uint32_t ids_offset,
                uint32_t o_pad, bool specials = false) {
  auto& dev = test::device();
  test::Buffers buf;
  const uint32_t T = uint32_t(ids.size()) - ids_offset, ldo = hidden + o_pad;
  auto values = test::random_floats(size_t(V) * hidden, V * 31ull + hidden + uint64_t(dt), 3.0f);
  if (specials) {
    // Values whose decoding is easy to get wrong: signed zeros, the largest finite f16, f16 subnormals,
    // tiny and huge bf16 exponents — spread over rows 0 and V-1.
    const float sp[] = {0.0f, -0.0f, 65504.0f, -65504.0f, 5.9604645e-08f, -6.0975552e-05f, 3.0517578e-05f,
                        1.0e-30f, -3.0e38f, 1.0f, -2.0f};
    for (size_t j = 0; j < std::size(sp); ++j) {
      values[j % hidden] = sp[j];
      values[size_t(V - 1) * hidden + (hidden - 1 - j % hidden)] = sp[j];
    }
  }
  auto bytes = test::encode(values, dt);  // values now hold exactly what the table stores
  auto table = ops::upload_matrix(dev, buf.arena, dt, V, hidden, bytes.data(), "embed");
  std::vector<uint32_t> idw(ids.begin(), ids.end());
  auto out = buf.nan(size_t(T) * ldo);
  vk::Recorder rec(dev);
  ops::record_embedding(rec, table, buf.u32(idw), ids_offset, out, ldo, T, "embedding");
  rec.finish()->run();
  auto got = test::read_f32(out, size_t(T) * ldo);
  size_t bad = 0, bad_gap = 0, first_bad = SIZE_MAX;
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t c = 0; c < ldo; ++c) {
      float g = got[size_t(t) * ldo + c];
      if (c >= hidden) {
        bad_gap += !std::isnan(g);
      } else if (!same_bits(g, values[size_t(ids[ids_offset + t]) * hidden + c])) {
        if (!bad) first_bad = size_t(t) * ldo + c;
        ++bad;
      }
    }
  INFO("dtype=" << name(dt) << " V=" << V << " hidden=" << hidden << " T=" << T << " ids_offset=" << ids_offset
                << " chunks=" << table.chunks.size() << " first bad element " << first_bad);
  CHECK(bad == 0);
  CHECK(bad_gap == 0);
  return table.chunks.size();
}

std::vector<int32_t> ids_for(uint32_t V, uint32_t T, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids{0, int32_t(V - 1)};
  while (ids.size() < T) ids.push_back(int32_t(rng() % V));  // repeats are fine
  std::swap(ids[1], ids[T / 2]);                                // V-1 in the middle, 0 first
  return ids;
}

}  // namespace

TEST_CASE("embedding: f32/f16/bf16 tables, ids at both ends, odd T, strided output") {
  for (DType dt : {DType::f32, DType::f16, DType::bf16})
    for (uint32_t hidden : {1u, 67u, 256u}) {
      run_case(dt, 1000, hidden, ids_for(1000, 11, hidden), 0, 0);
      // 3 leading ids that must be skipped (the prompt's earlier tokens), gaps in the output rows.
      auto ids = ids_for(1000, 13, hidden + 1);
      ids.insert(ids.begin(), {5, 6, 7});
      run_case(dt, 1000, hidden, ids, 3, 5);
    }
}

TEST_CASE("embedding: special values decode exactly (signed zero, f16 max / subnormal, extreme bf16)") {
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) run_case(dt, 50, 33, {0, 49, 0, 49, 1}, 0, 0, true);
}

TEST_CASE("embedding: tables split into many row chunks (small storage-buffer range)") {
  test::CapsOverride caps;
  caps->max_storage_buffer_range = 4096;  // a 1000 x 67 table becomes 34..72 chunks
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    auto ids = ids_for(1000, 9, 77);
    ids[3] = 29;  // around chunk boundaries (f16/bf16: 30 rows a chunk; f32: 14)
    ids[4] = 30;
    ids[5] = 13;
    ids[6] = 14;
    size_t chunks = run_case(dt, 1000, 67, ids, 0, 3);
    CHECK(chunks >= 30);
  }
}

TEST_CASE("embedding: 1 GiB f16 table (262144 x 2048)") {
  if (const char* e = std::getenv("DLVK_TEST_SKIP_1GIB"); e && *e && std::strcmp(e, "0") != 0) {
    MESSAGE("skipped: DLVK_TEST_SKIP_1GIB is set");
    return;
  }
  auto& dev = test::device();
  const uint32_t V = 262144, hidden = 2048;
  // A cheap deterministic pattern (a multiplicative hash of the element index, made a finite normal
  // f16): every row differs from every other, so a row from the wrong place cannot match.
  auto pattern = [](uint64_t i) {
    uint32_t x = uint32_t(i) * 0x9E3779B1u;
    uint16_t h = uint16_t((x >> 16) & 0xFBFFu);  // exponent <= 30: no inf/NaN
    if ((h & 0x7C00u) == 0) h |= 0x0400u;        // no subnormals/zeros
    return h;
  };
  std::vector<uint16_t> host(size_t(V) * hidden);
  for (size_t i = 0; i < host.size(); ++i) host[i] = pattern(i);
  test::Buffers buf;
  auto table = ops::upload_matrix(dev, buf.arena, DType::f16, V, hidden, host.data(), "embed_1g");
  host.clear();
  host.shrink_to_fit();
  CHECK(table.bytes() == (1ull << 30));
  CHECK(table.chunks.size() >= 2);  // 1 GiB never fits one binding (maxStorageBufferRange <= 4 GiB - 1, and 128 MiB here)
  uint32_t per = table.chunks[0].rows;
  std::vector<int32_t> ids{0, 1, int32_t(per - 1), int32_t(per), int32_t(V / 2 - 1), int32_t(V / 2), int32_t(V / 2 + 1),
                           123457, int32_t(V - 2), int32_t(V - 1), 0};
  if (ids.size() % 2 == 0) ids.push_back(int32_t(V - 1));
  const uint32_t T = uint32_t(ids.size());
  std::vector<uint32_t> idw(ids.begin(), ids.end());
  auto out = buf.nan(size_t(T) * hidden);
  vk::Recorder rec(dev);
  ops::record_embedding(rec, table, buf.u32(idw), 0, out, hidden, T, "embedding");
  rec.finish()->run();
  auto got = test::read_f32(out, size_t(T) * hidden);
  size_t bad = 0;
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t c = 0; c < hidden; ++c) {
      float expect = f16_to_f32(pattern(uint64_t(ids[t]) * hidden + c));
      bad += !same_bits(got[size_t(t) * hidden + c], expect);
    }
  INFO("chunks=" << table.chunks.size() << " rows per chunk=" << per);
  CHECK(bad == 0);
}
