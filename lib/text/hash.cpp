// Open-addressing hash tables used for the vocabulary, the merge ranks and the added-token trie.
#include <bit>
#include <functional>

#include <sys/mman.h>

#include "text/text_internal.hpp"

namespace dlvk::text {

void advise_huge_pages(const void* p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = 2u << 20;
  uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint only
#else
  (void)p;
  (void)bytes;
#endif
}

void U64Map::reserve(size_t n) {
  size_t cap = 16;
  while (cap * 3 < n * 4) cap <<= 1;  // load factor <= 0.75
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_ = {};
  reserve_huge(slots_, cap);
  slots_.assign(cap, Slot{kEmpty, 0});
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  size_ = 0;
  for (const Slot& s : old) {
    if (s.key != kEmpty) insert_or_keep(s.key, s.value);
  }
}

void U64Map::insert_or_keep(uint64_t key, uint64_t value) {
  if ((size_ + 1) * 4 > slots_.size() * 3) reserve(slots_.empty() ? 8 : (size_ + 1) * 2);
  size_t i = slot(key);
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) return;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{key, value};
  ++size_;
}

void StrMap::build(std::string arena, const std::vector<Entry>& entries) {
  arena_ = std::move(arena);
  slots_.clear();
  size_ = 0;
  reserve(entries.size());
  // Hash and prefetch D entries ahead of the insertion (the table is larger than the caches).
  constexpr size_t D = 8;
  uint32_t hashes[D];
  auto key = [&](const Entry& e) { return std::string_view(arena_.data() + e.offset, e.length); };
  for (size_t k = 0; k < std::min(D, entries.size()); ++k) {
    hashes[k] = hash(key(entries[k]));
    prefetch(hashes[k]);
  }
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    uint32_t h = hashes[k % D];
    if (k + D < entries.size()) {
      hashes[k % D] = hash(key(entries[k + D]));
      prefetch(hashes[k % D]);
    }
    size_t i = h & mask_;
    bool duplicate = false;
    while (slots_[i].offset != kEmpty) {
      const Slot& s = slots_[i];
      if (s.hash == h && s.length == e.length && std::string_view(arena_.data() + s.offset, s.length) == key(e)) {
        duplicate = true;
        break;
      }
      i = (i + 1) & mask_;
    }
    if (duplicate) continue;
    slots_[i] = Slot{e.offset, e.length, e.value, h};
    ++size_;
  }
}

void StrMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  if (cap > slots_.size()) rehash(cap);
}

void StrMap::rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_ = {};
  reserve_huge(slots_, capacity);
  slots_.assign(capacity, Slot{kEmpty, 0, 0, 0});
  mask_ = capacity - 1;
  for (const Slot& s : old) {
    if (s.offset == kEmpty) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].offset != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

bool StrMap::insert(std::string_view key, int32_t value) {
  if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
  uint32_t h = hash(key);
  size_t i = h & mask_;
  while (slots_[i].offset != kEmpty) {
    const Slot& s = slots_[i];
    if (s.hash == h && s.length == key.size() && std::string_view(arena_.data() + s.offset, s.length) == key) return false;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), value, h};
  arena_.append(key);
  ++size_;
  return true;
}

}  // namespace dlvk::text
