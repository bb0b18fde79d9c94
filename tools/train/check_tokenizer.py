#!/usr/bin/python3
"""Check models/default/tokenizer.json three ways on the given text files (default: the held-out
text, plus a few edge-case strings):
  1. bpe.py (the Python encoder used for training) round-trips the text;
  2. Hugging Face `tokenizers` (Rust, via Node, if tools/tokenizer_ref/setup.sh installed it) gives
     the same ids, with and without the BOS post-processor;
  3. dlvk's C++ tokenizer (`dlvk tokenize --no-special`, if built) gives the same ids.
Missing tools are reported as SKIPPED; any mismatch is printed with its first differing position.

Usage: check_tokenizer.py [--model models/default] [--dlvk build/bin/dlvk] [FILE...]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bpe  # noqa: E402

EDGE = ["", "a", "\n", "  \n\n  x", "And God said, Let there be light: and there was light.\n",
        "I'll, you're, we've; they'd 'tis O'Neil's\n", "1611 A.D. -- 3:16  (tabs\tand  spaces)   ",
        "The LORD is my shepherd; I shall not want.\n\n\nPsalm 23"]


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else -1


def report(name, mine, other, tok):
    d = first_diff(mine, other)
    if d < 0:
        return True
    lo = max(0, d - 3)
    print("  MISMATCH vs %s at token %d (lengths %d vs %d)\n    python: %s %r\n    %s: %s %r"
          % (name, d, len(mine), len(other), mine[lo:d + 4], tok.decode(mine[lo:d + 4]),
             name, other[lo:d + 4], tok.decode([i for i in other[lo:d + 4] if i in tok.inv])))
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--dlvk", default=os.path.join(ROOT, "build/bin/dlvk"))
    ap.add_argument("--node-modules", default=os.path.join(
        os.environ.get("DLVK_NPM_CACHE", os.path.expanduser("~/.cache/dlvk/npm")), "node_modules"))
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    tj = os.path.join(a.model, "tokenizer.json")
    tok = bpe.Tokenizer.from_file(tj)
    td = tempfile.mkdtemp(prefix="dlvk_tokcheck_")
    files = list(a.files) or [os.path.join(a.model, "heldout.txt")]
    for i, s in enumerate(EDGE):
        p = os.path.join(td, "edge%d.txt" % i)
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write(s)
        files.append(p)
    ok = True
    mine = {}
    for f in files:
        with open(f, encoding="utf-8", newline="") as fh:
            text = fh.read()
        ids = tok.encode(text)
        mine[f] = ids
        rt = tok.decode(ids) == text
        ok &= rt
        print("python  %-40s %6d tokens, round trip %s" % (os.path.basename(f), len(ids),
                                                           "OK" if rt else "FAILED"))
    # Hugging Face tokenizers via node
    hf_js = os.path.join(HERE, "hf_check.js")
    if os.path.isdir(os.path.join(a.node_modules, "tokenizers")):
        out = os.path.join(td, "hf.json")
        r = subprocess.run(["node", hf_js, a.node_modules, tj, out] + files,
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("hf      FAILED to run: %s" % r.stderr.strip()[-500:])
            ok = False
        else:
            hf = json.load(open(out))
            for f in files:
                h = hf[f]
                good = report("hf", mine[f], h["plain"], tok) and \
                    report("hf+bos", [tok.bos_id] + mine[f], h["special"], tok)
                ok &= good and h["decoded_roundtrip"]
                print("hf      %-40s %s (decode round trip %s)"
                      % (os.path.basename(f), "MATCH" if good else "DIFFER",
                         "OK" if h["decoded_roundtrip"] else "FAILED"))
    else:
        print("hf      SKIPPED (no %s/tokenizers; run tools/tokenizer_ref/setup.sh)"
              % a.node_modules)
    # dlvk C++ tokenizer
    if os.path.exists(a.dlvk):
        for f in files:
            r = subprocess.run([a.dlvk, "tokenize", "--tokenizer", tj, "--file", f, "--no-special"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("dlvk    %-40s FAILED to run (rc %d): %s"
                      % (os.path.basename(f), r.returncode, (r.stderr + r.stdout).strip()[-300:]))
                ok = False
                continue
            ids = [int(x) for x in re.findall(r"-?\d+", r.stdout)]
            good = report("dlvk", mine[f], ids, tok)
            ok &= good
            print("dlvk    %-40s %s" % (os.path.basename(f), "MATCH" if good else "DIFFER"))
    else:
        print("dlvk    SKIPPED (%s not built)" % a.dlvk)
    print("ALL OK" if ok else "PROBLEMS FOUND")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
