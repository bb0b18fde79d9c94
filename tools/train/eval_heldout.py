#!/usr/bin/python3
"""Held-out perplexity of a DiffLlama checkpoint directory (default: models/default), given only
that directory (config.json, model.safetensors, tokenizer.json, heldout.txt).

Protocol (so that other implementations, e.g. dlvk, can reproduce the figure exactly):
  * ids = encode(heldout.txt) with the BPE of tokenizer.json, no special tokens (N tokens);
  * the model always sees <|begin_of_text|> at position 0, as in training and as `dlvk run`
    feeds it; a window is [BOS] + ids[s : s + C - 1] with C = max_position_embeddings;
  * windows start at s = 0, S, 2S, ... with stride S = (C - 1) // 2; window 0 scores all of its
    targets (ids[0..C-2], ids[0] predicted from BOS alone), every later window scores only the
    targets not scored before (those at s + (C - 1 - S) .. end), so each of the N tokens is scored
    exactly once, with at least C - 1 - S tokens of context except at the very start;
  * NLL = mean over the N tokens of -log softmax(logits)[target] (natural log);
    perplexity = exp(NLL); bits/byte = NLL * N / (bytes * ln 2).

Usage: eval_heldout.py [--model models/default] [--impl torch|ref|dlvk] [--file heldout.txt]
       [--max-windows K]   (impl ref = tools/reference/diffllama_ref.py in NumPy float32;
                            impl dlvk = `dlvk score --logits-out` per window, build/bin/dlvk)
"""

import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools/reference"))
import bpe  # noqa: E402


def windows(n, C):
    """-> list of (s, first_scored_offset): window covers ids[s:s+C-1] after BOS; targets at
    offsets >= first_scored_offset within it are scored."""
    L = C - 1
    S = L // 2
    out, s, scored_to = [], 0, 0
    while scored_to < n:
        out.append((s, scored_to - s))
        scored_to = min(n, s + L)
        s += S
    return out


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--impl", choices=("torch", "ref", "dlvk"), default="torch")
    ap.add_argument("--dlvk", default=os.path.join(ROOT, "build/bin/dlvk"), help="dlvk binary for --impl dlvk")
    ap.add_argument("--dlvk-arg", action="append", default=[],
                    help="extra `dlvk score` argument for --impl dlvk, e.g. --dlvk-arg=--quant=q8_0 (repeatable)")
    ap.add_argument("--file", help="text to score (default: MODEL/heldout.txt)")
    ap.add_argument("--max-windows", type=int, default=0)
    a = ap.parse_args()
    path = a.file or os.path.join(a.model, "heldout.txt")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tok = bpe.Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    ids = tok.encode(text)
    if a.impl == "torch":
        import torch
        import model as M
        torch.set_num_threads(1)
        m = M.load(a.model)
        C = m.c["max_position_embeddings"]

        def logits_of(seq):
            with torch.no_grad():
                return m(torch.tensor([seq]))[0].double().numpy()
    elif a.impl == "dlvk":
        import json
        import subprocess
        import tempfile
        with open(os.path.join(a.model, "config.json")) as f:
            C = json.load(f)["max_position_embeddings"]
        out = os.path.join(tempfile.mkdtemp(), "logits.npy")

        def logits_of(seq):
            subprocess.run([a.dlvk, "score", "--model", a.model, "--ids", ",".join(map(str, seq)),
                            "--logits-out", out, "--batch", "256", *a.dlvk_arg], check=True, stdout=subprocess.DEVNULL)
            return np.load(out).astype(np.float64)
    else:
        import diffllama_ref as R
        m = R.DiffLlamaRef(a.model, dtype=np.float32)
        C = m.config.max_position_embeddings

        def logits_of(seq):
            return np.asarray(m.forward(seq), dtype=np.float64)
    ws = windows(len(ids), C)
    if a.max_windows:
        ws = ws[:a.max_windows]
    t0 = time.time()
    nll, n = 0.0, 0
    for s, first in ws:
        seg = ids[s:s + C - 1]
        lp = log_softmax(logits_of([tok.bos_id] + seg))       # position j predicts seg[j]
        tgt = np.arange(first, len(seg))
        nll -= float(lp[tgt, np.asarray(seg)[tgt]].sum())
        n += len(tgt)
    mean = nll / n
    nbytes = len(tok.decode(ids[:n]).encode("utf-8"))
    print("%s: impl %s, %d tokens scored in %d windows (C %d, stride %d), %.1f s"
          % (path, a.impl, n, len(ws), C, (C - 1) // 2, time.time() - t0))
    print("mean NLL %.4f nats/token, perplexity %.3f, %.4f bits/byte"
          % (mean, math.exp(mean), nll / (nbytes * math.log(2))))


if __name__ == "__main__":
    main()
