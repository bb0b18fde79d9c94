#!/usr/bin/python3
"""Generate text with the PyTorch DiffLlama from an exported model directory (f32 compute on the
stored f16 weights). Sampling: temperature, then top-k, then top-p (nucleus), with a fixed seed
(torch.Generator) so the output is reproducible on the same machine.

Usage: sample.py [--model models/default] [--prompt TEXT]... [--max-new 80] [--temperature 0.8]
                 [--top-k 40] [--top-p 0.95] [--seed 42] [--greedy]
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
import model as M  # noqa: E402


def generate(m, tok, prompt, max_new, temperature, top_k, top_p, gen, greedy=False):
    ids = tok.encode(prompt, add_bos=True)
    C = m.c["max_position_embeddings"]
    n0 = len(ids)
    for _ in range(max_new):
        if len(ids) >= C:
            break
        with torch.no_grad():
            logits = m(torch.tensor([ids]))[0, -1].double()
        if greedy:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k > 0:
                kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, -1)
            if top_p < 1.0:
                sp, si = torch.sort(probs, descending=True)
                keep = torch.cumsum(sp, 0) - sp < top_p
                mask = torch.zeros_like(probs, dtype=torch.bool)
                mask[si[keep]] = True
                probs = torch.where(mask, probs, torch.zeros_like(probs))
                probs = probs / probs.sum()
            nxt = int(torch.multinomial(probs.float(), 1, generator=gen))
        if nxt == tok.eos_id:
            break
        ids.append(nxt)
    return tok.decode(ids[n0:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--prompt", action="append")
    ap.add_argument("--max-new", type=int, default=80)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=40)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--greedy", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    m = M.load(a.model)
    tok = bpe.Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    prompts = a.prompt or ["And God said", "The LORD is my shepherd", "In the beginning"]
    for p in prompts:
        gen = torch.Generator().manual_seed(a.seed)
        out = generate(m, tok, p, a.max_new, a.temperature, a.top_k, a.top_p, gen, a.greedy)
        print("=== prompt: %r (seed %d%s)\n%s%s\n" % (p, a.seed, ", greedy" if a.greedy else
                                                      ", T %.2f top-k %d top-p %.2f"
                                                      % (a.temperature, a.top_k, a.top_p),
                                                      p, out))


if __name__ == "__main__":
    main()
