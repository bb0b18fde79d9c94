#!/usr/bin/python3
"""Train the default model's byte-level BPE tokenizer and write tokenizer.json.

Algorithm (the classic GPT-2 / HF BpeTrainer one, written from scratch):
  1. pre-tokenize the training text with the GPT-2 regex (bpe.PATTERN) and map every pre-token's
     UTF-8 bytes to the GPT-2 unicode alphabet; count distinct pre-tokens ("words");
  2. start from the 256 byte symbols (id = byte value); repeatedly merge the most frequent
     adjacent symbol pair (counted over words x word frequency; ties: the pair whose merged
     string sorts first, then the pair itself) into a new symbol, until `--merges` merges;
     pair counts are updated incrementally (only the words containing the merged pair are
     touched) and the best pair comes from a lazy max-heap, so this takes seconds;
  3. vocab = 256 bytes + one token per merge (ids 256..) + <|begin_of_text|>, <|end_of_text|>.
Then encodes train + held-out text with the written tokenizer.json and checks the round trip.

Usage: train_tokenizer.py [--train /tmp/dlvk_train/train.txt] [--merges 3838]
                          [--out models/default/tokenizer.json]
"""

import argparse
import collections
import heapq
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402


def train_bpe(text, n_merges, log_every=500):
    counts = collections.Counter(bpe.pretokenize(text))
    words = [list(w) for w in counts]          # symbols as strings (byte-level chars)
    freq = [counts[w] for w in counts]
    pair_count = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for wi, syms in enumerate(words):
        f = freq[wi]
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += f
            where[(a, b)].add(wi)

    def key(p, c):
        return (-c, p[0] + p[1], p)

    heap = [key(p, c) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        negc, _, p = heapq.heappop(heap)
        c = pair_count.get(p, 0)
        if c != -negc:                          # stale entry
            if c > 0:
                heapq.heappush(heap, key(p, c))
            continue
        if c <= 0:
            break
        a, b = p
        ab = a + b
        merges.append(p)
        touched = set()
        for wi in list(where.pop(p, ())):
            syms, f = words[wi], freq[wi]
            # remove this word's pairs
            for x, y in zip(syms, syms[1:]):
                pair_count[(x, y)] -= f
                touched.add((x, y))
            new, i = [], 0
            while i < len(syms):
                if i < len(syms) - 1 and syms[i] == a and syms[i + 1] == b:
                    new.append(ab)
                    i += 2
                else:
                    new.append(syms[i])
                    i += 1
            words[wi] = new
            for x, y in zip(new, new[1:]):
                pair_count[(x, y)] += f
                where[(x, y)].add(wi)
                touched.add((x, y))
        pair_count.pop(p, None)
        touched.discard(p)
        for q in touched:
            cq = pair_count.get(q, 0)
            if cq > 0:
                heapq.heappush(heap, key(q, cq))
            else:
                pair_count.pop(q, None)
                where.pop(q, None)
        if log_every and len(merges) % log_every == 0:
            print("  merge %d: %r + %r (count %d)" % (len(merges), a, b, c), flush=True)
    return merges, len(counts)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="/tmp/dlvk_train/train.txt")
    ap.add_argument("--heldout", default=os.path.join(root, "models/default/heldout.txt"))
    ap.add_argument("--merges", type=int, default=3838)   # 256 + 3838 + 2 = 4096 tokens
    ap.add_argument("--out", default=os.path.join(root, "models/default/tokenizer.json"))
    a = ap.parse_args()
    with open(a.train, encoding="utf-8") as f:
        text = f.read()
    t0 = time.time()
    merges, nwords = train_bpe(text, a.merges)
    print("trained %d merges over %d distinct pre-tokens in %.1f s (regex exact: %s)"
          % (len(merges), nwords, time.time() - t0, bpe.REGEX_EXACT))
    vocab = {bpe.B2U[i]: i for i in range(256)}
    for x, y in merges:
        assert x + y not in vocab, "duplicate token %r" % (x + y)
        vocab[x + y] = len(vocab)
    bos_id, eos_id = len(vocab), len(vocab) + 1
    tj = bpe.tokenizer_json(vocab, ["%s %s" % m for m in merges], bos_id, eos_id)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote %s: vocab %d (256 bytes + %d merges + 2 specials), bos %d, eos %d"
          % (a.out, eos_id + 1, len(merges), bos_id, eos_id))

    # round trip with the tokenizer as written
    tok = bpe.Tokenizer.from_file(a.out)
    for name, path in (("train", a.train), ("held-out", a.heldout)):
        with open(path, encoding="utf-8") as f:
            t = f.read()
        t1 = time.time()
        ids = tok.encode(t)
        ok = tok.decode(ids) == t
        print("%s: %d bytes -> %d tokens (%.2f bytes/token) in %.1f s, round trip %s"
              % (name, len(t.encode()), len(ids), len(t.encode()) / len(ids), time.time() - t1,
                 "OK" if ok else "FAILED"))
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
