#!/usr/bin/python3
"""Train the dlvk default model (a small DiffLlama) on the KJV training text, on CPU.

* data: tokenizer.json encodes WORK/train.txt once; a training sequence is <|begin_of_text|>
  followed by ctx-1 tokens of the text starting at a random verse start (the same shape as a
  `dlvk run` prompt, which the tokenizer's post-processor prefixes with BOS);
* optimiser: AdamW (betas 0.9/0.95, weight decay 0.1 on matrices and embeddings only), LR linear
  warmup then cosine decay to lr_min; gradient clipping at 1.0;
* the schedule runs over --steps, or, with --time-budget (minutes), over wall-clock time: the
  progress fraction is elapsed / budget and training stops at the budget. That keeps a hard time
  limit on a shared, loaded machine; the log records every step, LR and token count;
* logs `step,elapsed_s,lr,tokens,train_loss,heldout_loss` to WORK/train_log.csv, saves
  WORK/ckpt.pt every --ckpt-every steps and exports models/default at the end (and at every
  checkpoint, so a usable model exists if the run is cut short).

Single-threaded on purpose (torch.set_num_threads(1)). Debian's torch calls the reference
(netlib) BLAS, ~3 GFLOPS; run with OpenBLAS on LD_LIBRARY_PATH (see README.md) for ~20x.
"""

import argparse
import csv
import json
import math
import os
import random
import shutil
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
from model import DiffLlama, make_config, export  # noqa: E402


def verse_starts(ids, nl):
    return [i for i in range(1, len(ids)) if ids[i - 1] == nl and ids[i] != nl]


def batch(ids, starts, bos, B, T, rng):
    rows = []
    for _ in range(B):
        s = starts[rng.randrange(len(starts))]
        while s + T > len(ids):
            s = starts[rng.randrange(len(starts))]
        rows.append([bos] + ids[s:s + T])                 # T+1 tokens: BOS + T text tokens
    x = torch.tensor(rows, dtype=torch.long)
    return x[:, :-1], x[:, 1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/dlvk_train")
    ap.add_argument("--out", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--intermediate", type=int, default=704)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-min", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=60, help="warmup steps")
    ap.add_argument("--steps", type=int, default=0, help="fixed number of steps (schedule by step)")
    ap.add_argument("--time-budget", type=float, default=0.0,
                    help="minutes of training (schedule by wall clock); stops at the budget")
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    if (a.steps > 0) == (a.time_budget > 0):
        sys.exit("give exactly one of --steps and --time-budget")

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    t_start = time.time()

    tok_path = os.path.join(a.out, "tokenizer.json")
    tok = bpe.Tokenizer.from_file(tok_path)
    with open(os.path.join(a.work, "train.txt"), encoding="utf-8") as f:
        ids = tok.encode(f.read())
    with open(os.path.join(a.out, "heldout.txt"), encoding="utf-8") as f:
        hids = tok.encode(f.read())
    nl = tok.vocab[bpe.B2U[10]]
    starts = verse_starts(ids, nl)
    hstarts = verse_starts(hids, nl)
    hrng = random.Random(7)
    heval = [batch(hids, hstarts, tok.bos_id, 8, a.ctx, hrng) for _ in range(2)]
    print("train tokens %d (%d verse starts), held-out tokens %d, tokenised in %.1f s"
          % (len(ids), len(starts), len(hids), time.time() - t_start), flush=True)

    vocab = len(tok.vocab) + len(tok.specials)
    c = make_config(vocab, hidden=a.hidden, layers=a.layers, heads=a.heads, kv_heads=a.kv_heads,
                    head_dim=a.head_dim, intermediate=a.intermediate, ctx=a.ctx,
                    bos=tok.bos_id, eos=tok.eos_id)
    model = DiffLlama(c)
    model.init_weights(a.seed)
    nparams = sum(p.numel() for p in model.parameters())
    print("params %d (%.2f M)" % (nparams, nparams / 1e6), flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)

    def lr_at(step, progress):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        # progress measured from the end of warmup
        return a.lr_min + 0.5 * (a.lr - a.lr_min) * (1 + math.cos(math.pi * min(1.0, progress)))

    def heldout_loss():
        model.eval()
        with torch.no_grad():
            tot = 0.0
            for x, y in heval:
                tot += F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1)).item()
        model.train()
        return tot / len(heval)

    log_path = os.path.join(a.work, "train_log.csv")
    logf = open(log_path, "w", newline="")
    log = csv.writer(logf)
    log.writerow(["step", "elapsed_s", "lr", "tokens", "train_loss", "heldout_loss"])
    budget = a.time_budget * 60.0
    t0 = time.time()
    t_warm_end = None
    step, tokens, ema = 0, 0, None

    def save(final=False):
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "config": c,
                    "step": step, "tokens": tokens, "args": vars(a)},
                   os.path.join(a.work, "ckpt.pt"))
        export(model, a.out)
        meta = {"steps": step, "tokens_seen": tokens, "train_seconds": round(time.time() - t0, 1),
                "final": final, "params": nparams, "batch": a.batch, "ctx": a.ctx,
                "lr": a.lr, "lr_min": a.lr_min, "warmup": a.warmup, "seed": a.seed,
                "time_budget_min": a.time_budget, "fixed_steps": a.steps,
                "train_loss_ema": ema, "threads": torch.get_num_threads()}
        with open(os.path.join(a.work, "train_meta.json"), "w") as f:
            json.dump(meta, f, indent=2)

    model.train()
    while True:
        elapsed = time.time() - t0
        if a.steps:
            if step >= a.steps:
                break
            progress = (step - a.warmup) / max(1, a.steps - a.warmup)
        else:
            if elapsed >= budget:
                break
            if t_warm_end is None and step >= a.warmup:
                t_warm_end = elapsed
            progress = 0.0 if t_warm_end is None else \
                (elapsed - t_warm_end) / max(1.0, budget - t_warm_end)
        lr = lr_at(step, progress)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch(ids, starts, tok.bos_id, a.batch, a.ctx, rng)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x.numel()
        lv = loss.item()
        ema = lv if ema is None else 0.95 * ema + 0.05 * lv
        hl = ""
        if step % a.eval_every == 0:
            hl = "%.4f" % heldout_loss()
        log.writerow([step, "%.1f" % (time.time() - t0), "%.6g" % lr, tokens, "%.4f" % lv, hl])
        logf.flush()
        if step % 10 == 0 or hl:
            print("step %5d  %7.1fs  lr %.2e  loss %.4f (ema %.4f)%s"
                  % (step, time.time() - t0, lr, lv, ema, ("  heldout " + hl) if hl else ""),
                  flush=True)
        if step % a.ckpt_every == 0:
            save()
    hl = heldout_loss()
    log.writerow([step, "%.1f" % (time.time() - t0), "", tokens, "", "%.4f" % hl])
    logf.close()
    save(final=True)
    print("done: %d steps, %d tokens, %.1f s training, final ema loss %.4f, heldout(sample) %.4f"
          % (step, tokens, time.time() - t0, ema, hl), flush=True)
    print("lambdas per layer:", ["%.4f" % v for v in model.lambdas()])
    shutil.copy(log_path, os.path.join(HERE, "train_log.csv"))


if __name__ == "__main__":
    main()
