// The BPE model: vocabulary and merge ranks in open-addressing tables, a linked list of symbols plus
// a binary heap of candidate merges (lowest rank first, then leftmost), a per-tokenizer cache of
// words, byte_fallback to <0xNN> tokens, unk_token/fuse_unk and ignore_merges, all as in HF's BPE.
#include <algorithm>
#include <tuple>

#include "text/text_internal.hpp"

namespace dlvk::text {

namespace {

constexpr size_t kCacheMaxWordBytes = 256;  // as HF: longer words are not cached
constexpr size_t kCacheCapacity = 10000;

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

std::optional<std::string> optional_string(const json& model, const char* key) {
  auto it = model.find(key);
  if (it == model.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

BpeModel::BpeModel(RawTokenizerJson& raw, const json& model, const BuildContext& ctx) : origin_(ctx.origin) {
  if (!raw.has_vocab) ctx.bad("model.vocab is missing or not an object of token -> id");
  if (model.contains("dropout") && !model["dropout"].is_null()) {
    double p = model["dropout"].get<double>();
    if (p != 0.0) fail(Status::unsupported, "{}: BPE dropout {} is not supported (inference needs none)", ctx.origin, p);
  }
  continuing_subword_prefix_ = optional_string(model, "continuing_subword_prefix").value_or("");
  end_of_word_suffix_ = optional_string(model, "end_of_word_suffix").value_or("");
  unk_token_ = optional_string(model, "unk_token");
  fuse_unk_ = ctx.get_bool(model, "fuse_unk", false);
  byte_fallback_ = ctx.get_bool(model, "byte_fallback", false);
  ignore_merges_ = ctx.get_bool(model, "ignore_merges", false);

  // Vocabulary.
  vocab_.build(std::move(raw.vocab_arena), raw.vocab);
  raw.vocab = {};
  reserve_huge(id_to_token_, static_cast<size_t>(raw.max_id + 1));
  id_to_token_.assign(static_cast<size_t>(raw.max_id + 1), std::string_view());
  vocab_.for_each([&](std::string_view token, int32_t id) {
    if (id_to_token_[id].data() == nullptr) id_to_token_[id] = token;
  });

  for (int c = 0; c < 128; ++c) {
    char ch = static_cast<char>(c);
    ascii_ids_[c] = vocab_.find(std::string_view(&ch, 1)).value_or(-1);
  }
  for (int b = 0; b < 256; ++b) {
    byte_ids_[b] = -1;
    if (byte_fallback_) byte_ids_[b] = vocab_.find(fmt::format("<0x{:02X}>", b)).value_or(-1);
  }

  // Merges: rank = position in the list; both tokens and the merged token must be in the vocabulary.
  // Software pipeline over three stages, D merges apart, so that the lookups into tables far larger
  // than the caches overlap: (1) hash a and b, prefetch; (2) look up a and b, build a+b, hash,
  // prefetch; (3) look up a+b and insert the merge.
  const size_t count = raw.merges.size();
  merges_.reserve(count);
  merge_role_.assign(id_to_token_.size(), 0);
  const size_t prefix_len = continuing_subword_prefix_.size();
  constexpr size_t D = 8;
  struct Pending {
    std::string_view a, b;
    uint32_t hash_a, hash_b, hash_joined;
    int32_t ia, ib;
    std::string joined;
  };
  Pending ring[3 * D];
  auto stage1 = [&](size_t rank) {
    Pending& p = ring[rank % (3 * D)];
    const auto& m = raw.merges[rank];
    p.a = raw.merge_a(m);
    p.b = raw.merge_b(m);
    p.hash_a = StrMap::hash(p.a);
    p.hash_b = StrMap::hash(p.b);
    vocab_.prefetch(p.hash_a);
    vocab_.prefetch(p.hash_b);
  };
  auto stage2 = [&](size_t rank) {
    Pending& p = ring[rank % (3 * D)];
    auto fa = vocab_.find(p.a, p.hash_a), fb = vocab_.find(p.b, p.hash_b);
    if (!fa || !fb) {
      fail(Status::bad_model, "{}: merge #{} \"{} {}\": token \"{}\" is not in the vocabulary", ctx.origin, rank,
           p.a, p.b, !fa ? p.a : p.b);
    }
    p.ia = *fa;
    p.ib = *fb;
    p.joined.assign(p.a);
    std::string_view tail = p.b;
    if (prefix_len && tail.substr(0, prefix_len) == continuing_subword_prefix_) tail.remove_prefix(prefix_len);
    p.joined.append(tail);
    p.hash_joined = StrMap::hash(p.joined);
    vocab_.prefetch(p.hash_joined);
    merges_.prefetch(pair_key(p.ia, p.ib));
  };
  auto stage3 = [&](size_t rank) {
    Pending& p = ring[rank % (3 * D)];
    auto inew = vocab_.find(p.joined, p.hash_joined);
    if (!inew) {
      fail(Status::bad_model, "{}: merge #{} \"{} {}\": merged token \"{}\" is not in the vocabulary", ctx.origin,
           rank, p.a, p.b, p.joined);
    }
    merges_.insert_or_keep(pair_key(p.ia, p.ib), (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(*inew));
    merge_role_[p.ia] |= 1;
    merge_role_[p.ib] |= 2;
  };
  for (size_t step = 0; step < count + 2 * D; ++step) {
    if (step < count) stage1(step);
    if (step >= D && step - D < count) stage2(step - D);
    if (step >= 2 * D) stage3(step - 2 * D);
  }
  raw.merges.clear();
  raw.merges.shrink_to_fit();
  raw.merge_arena.clear();
  raw.merge_arena.shrink_to_fit();
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto id = vocab_.find(word)) {
      out.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() < kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t begin = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(begin), out.end()));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    uint32_t len;  // bytes of the word it covers; 0 = merged away
  };
  struct Candidate {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
    int32_t left, right;  // the pair it merges (stale when the symbols changed since)
  };
  // Heap order: lowest rank first, then lowest position.
  auto worse = [](const Candidate& x, const Candidate& y) {
    return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos;
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  thread_local std::string scratch;
  symbols.clear();
  heap.clear();
  symbols.reserve(word.size());

  auto add = [&](int32_t id, size_t len) {
    int32_t n = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, n - 1, n + 1, static_cast<uint32_t>(len)});
  };

  // Initial symbols: one per character (byte tokens or unk when the character is not a token).
  int32_t unk = -1;  // pending unk symbol (fused while fuse_unk) and the bytes it covers
  size_t unk_len = 0;
  auto unk_id = [&]() -> int32_t {
    auto id = vocab_.find(*unk_token_);
    if (!id) fail(Status::bad_model, "{}: unk_token \"{}\" is not in the vocabulary", origin_, *unk_token_);
    return *id;
  };
  const bool plain_chars = continuing_subword_prefix_.empty() && end_of_word_suffix_.empty();
  size_t i = 0;
  while (i < word.size()) {
    unsigned char lead = static_cast<unsigned char>(word[i]);
    if (plain_chars && lead < 0x80 && ascii_ids_[lead] >= 0) {
      if (unk >= 0) {
        add(unk, unk_len);
        unk = -1;
      }
      add(ascii_ids_[lead], 1);
      ++i;
      continue;
    }
    size_t n = std::min(utf8_len(lead), word.size() - i);
    bool is_first = i == 0, is_last = i + n == word.size();
    std::string_view s = word.substr(i, n);
    if ((!is_first && !continuing_subword_prefix_.empty()) || (is_last && !end_of_word_suffix_.empty())) {
      scratch.clear();
      if (!is_first) scratch += continuing_subword_prefix_;
      scratch += s;
      if (is_last) scratch += end_of_word_suffix_;
      s = scratch;
    }
    i += n;
    if (auto id = vocab_.find(s)) {
      if (unk >= 0) {
        add(unk, unk_len);
        unk = -1;
      }
      add(*id, n);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char c : s) all = all && byte_ids_[c] >= 0;
      if (all) {
        for (unsigned char c : s) add(byte_ids_[c], 1);
        continue;
      }
    }
    if (unk_token_) {
      if (unk >= 0 && fuse_unk_) {
        unk_len += n;
      } else {
        if (unk >= 0) add(unk, unk_len);
        unk = unk_id();
        unk_len = n;
      }
    }
  }
  if (unk >= 0) add(unk, unk_len);
  if (symbols.empty()) return;
  symbols.back().next = -1;

  // A symbol that is in no merge never changes and is never merged with a neighbour, so the word
  // falls apart into independent runs between such symbols; merging run by run keeps the heap small
  // (a 300 KB Llama-2 text without a pre-tokenizer is one "word").
  auto inert = [&](size_t k) { return merge_role_[symbols[k].id] == 0; };
  size_t run_begin = 0;
  while (run_begin < symbols.size()) {
    while (run_begin < symbols.size() && inert(run_begin)) ++run_begin;
    size_t run_end = run_begin;
    while (run_end < symbols.size() && !inert(run_end)) ++run_end;
    heap.clear();
    for (size_t k = run_begin; k + 1 < run_end; ++k) {
      if (const uint64_t* m = merges_.find(pair_key(symbols[k].id, symbols[k + 1].id))) {
        heap.push_back({static_cast<uint32_t>(*m >> 32), static_cast<uint32_t>(k), static_cast<int32_t>(*m & 0xFFFFFFFFu),
                        symbols[k].id, symbols[k + 1].id});
      }
    }
    run_begin = run_end;
    std::make_heap(heap.begin(), heap.end(), worse);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      Candidate top = heap.back();
      heap.pop_back();
      Symbol& cur = symbols[top.pos];
      if (cur.len == 0 || cur.next < 0) continue;
      Symbol& right = symbols[cur.next];
      // Stale candidate: a symbol of the pair changed (HF re-looks up the pair; a changed pair at the
      // same position never yields the same merged token, so comparing the ids is equivalent).
      if (cur.id != top.left || right.id != top.right) continue;
      cur.id = top.new_id;
      cur.len += right.len;
      right.len = 0;
      cur.next = right.next;
      if (cur.next >= 0) symbols[cur.next].prev = static_cast<int32_t>(top.pos);
      if (cur.prev >= 0) {
        const Symbol& left = symbols[cur.prev];
        if (const uint64_t* pm = merges_.find(pair_key(left.id, cur.id))) {
          heap.push_back({static_cast<uint32_t>(*pm >> 32), static_cast<uint32_t>(cur.prev),
                          static_cast<int32_t>(*pm & 0xFFFFFFFFu), left.id, cur.id});
          std::push_heap(heap.begin(), heap.end(), worse);
        }
      }
      if (cur.next >= 0) {
        if (const uint64_t* nm = merges_.find(pair_key(cur.id, symbols[cur.next].id))) {
          heap.push_back({static_cast<uint32_t>(*nm >> 32), top.pos, static_cast<int32_t>(*nm & 0xFFFFFFFFu), cur.id,
                          symbols[cur.next].id});
          std::push_heap(heap.begin(), heap.end(), worse);
        }
      }
    }
  }
  for (int32_t k = 0; k >= 0; k = symbols[k].next) out.push_back(symbols[k].id);
}

}  // namespace dlvk::text
