// Added tokens: found in the input before normalization (normalized=false) or in each normalized
// piece (normalized=true), leftmost-longest like HF's Aho-Corasick matcher, then the single_word,
// lstrip and rstrip rules of HF's AddedVocabulary::find_matches.
#include "text/text_internal.hpp"

namespace dlvk::text {

void AddedVocabulary::Trie::add(std::string_view key, int32_t token) {
  uint32_t node = 0;
  for (unsigned char c : key) {
    uint64_t edge = (static_cast<uint64_t>(node) << 8) | c;
    if (const uint64_t* child = edges.find(edge)) {
      node = static_cast<uint32_t>(*child);
    } else {
      nodes.push_back(Node{});
      uint32_t next = static_cast<uint32_t>(nodes.size() - 1);
      edges.insert_or_keep(edge, next);
      node = next;
    }
  }
  first_byte[static_cast<unsigned char>(key[0])] = true;
  if (nodes[node].token < 0) nodes[node].token = token;  // the first of identical contents wins
}

void AddedVocabulary::build(const json& list, const Normalizer* normalizer, const BpeModel& model,
                            const BuildContext& ctx) {
  if (list.is_null()) return;
  if (!list.is_array()) ctx.bad("\"added_tokens\" is not an array");
  for (const auto& t : list) {
    if (!t.is_object()) ctx.bad("an added token is not an object");
    Token tok;
    tok.content = ctx.get_string(t, "content", "added token");
    const json& id = ctx.need(t, "id", "added token \"" + tok.content + "\"");
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      ctx.bad(fmt::format("added token \"{}\" has an invalid id {}", tok.content, id.dump()));
    }
    // As HF: a token that the model already knows keeps the model's id.
    tok.id = model.token_to_id(tok.content).value_or(static_cast<int32_t>(id.get<int64_t>()));
    tok.special = ctx.get_bool(t, "special", false);
    tok.lstrip = ctx.get_bool(t, "lstrip", false);
    tok.rstrip = ctx.get_bool(t, "rstrip", false);
    tok.single_word = ctx.get_bool(t, "single_word", false);
    tok.normalized = ctx.get_bool(t, "normalized", !tok.special);
    if (tok.content.empty()) continue;  // HF ignores empty added tokens
    if (utf8_invalid_offset(tok.content) != std::string::npos) {
      ctx.bad(fmt::format("added token id {} is not valid UTF-8", tok.id));
    }
    tokens_.push_back(std::move(tok));
  }
  // HF matches special tokens first in its pattern list, then the others (identical contents: first wins).
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const Token& tok = tokens_[k];
      if (tok.special != (pass == 0)) continue;
      if (!tok.normalized) {
        trie_[0].add(tok.content, static_cast<int32_t>(k));
      } else {
        std::string norm = tok.content;
        if (normalizer) normalizer->normalize(norm);
        if (!norm.empty()) trie_[1].add(norm, static_cast<int32_t>(k));
      }
    }
  }
}

void AddedVocabulary::split(std::string_view s, bool normalized_set, std::vector<Split>& out) const {
  const Trie& trie = trie_[normalized_set];
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    if (!trie.first_byte[static_cast<unsigned char>(s[pos])]) {
      ++pos;
      continue;
    }
    // Longest token starting at pos.
    uint32_t node = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t k = pos; k < s.size(); ++k) {
      const uint64_t* child = trie.edges.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(s[k]));
      if (!child) break;
      node = static_cast<uint32_t>(*child);
      if (trie.nodes[node].token >= 0) {
        best = trie.nodes[node].token;
        best_end = k + 1;
      }
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    const Token& tok = tokens_[best];
    size_t start = pos, stop = best_end;
    pos = best_end;  // the matcher goes on after the match, accepted or not
    if (tok.single_word) {
      bool start_space = true, stop_space = true;
      if (start > 0) {
        size_t k = start - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t j = k;
        start_space = !is_alphanumeric(utf8_next(s, j));
      }
      if (stop < s.size()) {
        size_t j = stop;
        stop_space = !is_alphanumeric(utf8_next(s, j));
      }
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t k = start;
      while (k > 0) {
        size_t b = k - 1;
        while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
        size_t j = b;
        if (!is_whitespace(utf8_next(s, j))) break;
        k = b;
      }
      start = std::max(k, start_offset);
    }
    if (tok.rstrip) {
      size_t j = stop;
      while (j < s.size()) {
        size_t next = j;
        if (!is_whitespace(utf8_next(s, next))) break;
        j = next;
      }
      stop = j;
    }
    start = std::max(start, start_offset);
    pos = std::max(pos, stop);  // (HF could overlap a token after an rstrip; dlvk does not)
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, best});
    start_offset = stop;
  }
  if (start_offset < s.size()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace dlvk::text
