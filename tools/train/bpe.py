"""Byte-level BPE (GPT-2 / Llama-3 style), written for the dlvk default model.

Pieces shared by the trainer (train_tokenizer.py) and everything that encodes text:
  * the pre-tokenizer: GPT-2 regex Split (behavior Isolated), then bytes -> GPT-2 unicode alphabet;
  * the BPE encoder (merge ranks, lowest rank first; HF `tokenizers` semantics with
    ignore_merges as configured) and decoder;
  * reading / writing the Hugging Face tokenizer.json.

The regex is the GPT-2 pattern. Python's `re` has no \\p{..} classes: when the `regex` module is
missing we translate \\p{L} -> [^\\W\\d_] and \\p{N} -> \\d, which is exact on ASCII (the KJV corpus
is pure ASCII) and close elsewhere (it misses non-decimal numbers such as Roman numeral letters).
"""

import json

PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
BOS = "<|begin_of_text|>"
EOS = "<|end_of_text|>"

try:  # exact Unicode property classes if available
    import regex as _re  # type: ignore
    _SPLIT = _re.compile(PATTERN)
    REGEX_EXACT = True
except ImportError:  # pragma: no cover - depends on the machine
    import re as _re
    _SPLIT = _re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")
    REGEX_EXACT = False


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode char table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
U2B = {c: b for b, c in B2U.items()}


def pretokenize(text):
    """text -> list of pre-tokens, each already mapped to the byte-level alphabet."""
    return ["".join(B2U[b] for b in m.encode("utf-8")) for m in _SPLIT.findall(text)]


def split_words(text):
    """text -> raw (unmapped) pre-token strings."""
    return _SPLIT.findall(text)


class Tokenizer:
    def __init__(self, vocab, merges, specials, ignore_merges=False):
        self.vocab = dict(vocab)                       # token string -> id
        self.inv = {i: t for t, i in self.vocab.items()}
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
        self.specials = dict(specials)                 # content -> id
        self.inv.update({i: t for t, i in self.specials.items()})
        self.ignore_merges = ignore_merges
        self.bos_id = self.specials.get(BOS)
        self.eos_id = self.specials.get(EOS)
        self.cache = {}

    @classmethod
    def from_file(cls, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        m = tj["model"]
        assert m["type"] == "BPE"
        merges = [x if isinstance(x, str) else " ".join(x) for x in m["merges"]]
        specials = {t["content"]: t["id"] for t in tj.get("added_tokens", [])}
        return cls(m["vocab"], merges, specials, bool(m.get("ignore_merges", False)))

    def _bpe(self, word):
        """one mapped pre-token -> list of ids"""
        ids = self.cache.get(word)
        if ids is not None:
            return ids
        if self.ignore_merges and word in self.vocab:
            ids = [self.vocab[word]]
        else:
            parts = list(word)
            ranks = self.ranks
            while len(parts) > 1:
                best, best_r = None, None
                for i in range(len(parts) - 1):
                    r = ranks.get((parts[i], parts[i + 1]))
                    if r is not None and (best_r is None or r < best_r):
                        best, best_r = (parts[i], parts[i + 1]), r
                if best is None:
                    break
                merged, i, a, b = [], 0, best[0], best[1]
                while i < len(parts):
                    if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                        merged.append(a + b)
                        i += 2
                    else:
                        merged.append(parts[i])
                        i += 1
                parts = merged
            ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text, add_bos=False):
        """Plain text (special-token strings are NOT recognised) -> ids."""
        out = [self.bos_id] if add_bos else []
        for w in pretokenize(text):
            out.extend(self._bpe(w))
        return out

    def decode(self, ids, skip_special=True):
        parts = []
        for i in ids:
            t = self.inv[i]
            if t in self.specials:
                if skip_special:
                    continue
                parts.append(t.encode("utf-8"))
            else:
                parts.append(bytes(U2B[c] for c in t))
        return b"".join(parts).decode("utf-8", errors="replace")


def tokenizer_json(vocab, merges, bos_id, eos_id, ignore_merges=False):
    """The Hugging Face tokenizer.json object, laid out like Llama-3's."""
    def added(tid, content):
        return {"id": tid, "content": content, "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True}
    bos_special = {"SpecialToken": {"id": BOS, "type_id": 0}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(bos_id, BOS), added(eos_id, EOS)],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": PATTERN}, "behavior": "Isolated",
                 "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                 "use_regex": False},
            ],
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [bos_special, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [bos_special, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": BOS, "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {BOS: {"id": BOS, "ids": [bos_id], "tokens": [BOS]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": ignore_merges,
            "vocab": vocab,
            "merges": merges,
        },
    }
