#!/usr/bin/python3
"""Compare this directory's PyTorch DiffLlama (f32, on the stored f16-rounded weights) with the
independent reference tools/reference/diffllama_ref.py on an exported model.

Usage: check_ref.py [--model models/default] [--text "In the beginning"] [--dtype float64]
Prints max|torch - ref| / max|ref| over all positions x vocab; exits 1 above --tol.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
import model as M  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--text", default="And God said unto Moses, I AM THAT I AM: and he said, "
                                      "Thus shalt thou say unto the children of Israel.")
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(1)
    tok = bpe.Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    ids = tok.encode(a.text, add_bos=True)
    m = M.load(a.model)
    with torch.no_grad():
        mine = m(torch.tensor([ids]))[0].numpy()
    with tempfile.TemporaryDirectory() as td:
        out = os.path.join(td, "ref.npy")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/reference/diffllama_ref.py"),
                        "--model", a.model, "--ids", ",".join(map(str, ids)), "--out", out,
                        "--dtype", a.dtype], check=True)
        ref = np.load(out)
    rel = float(np.abs(mine - ref).max() / np.abs(ref).max())
    same_argmax = float((mine.argmax(-1) == ref.argmax(-1)).mean())
    print("ids (%d): %s" % (len(ids), ",".join(map(str, ids))))
    print("reference %s vs torch f32: max rel err %.3g, argmax agreement %.3f, logits absmax %.3f"
          % (a.dtype, rel, same_argmax, np.abs(ref).max()))
    sys.exit(0 if rel <= a.tol else 1)


if __name__ == "__main__":
    main()
