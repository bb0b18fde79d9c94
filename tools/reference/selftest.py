#!/usr/bin/python3
"""Self-test of the reference tools. Exits non-zero on any failure.

    /usr/bin/python3 tools/reference/selftest.py [--data DIR] [--keep]

1. generates the test data (make_testdata.py) into DIR (default: a temporary directory), twice,
   and checks the two runs are byte-identical;
2. per config: the stored logits.npy equals diffllama_ref (float64) re-run on the stored weights,
   and the independent PyTorch implementation (diffllama_torch.py, float64) agrees with it to
   1e-10 relative (max|a-b| / max|b|);
3. mutation tests: the torch implementation with one classic mistake each (interleaved head
   pairing, swapped value concat, wrong GQA mapping, ...) must DISAGREE with the goldens by far
   more than an f32 implementation would (> 1e-3) on the configs where the mistake matters;
4. every bad/<case> is rejected by diffllama_ref with a message containing error_contains;
5. unit checks: bf16/f16 rounding vs torch, RoPE inv_freq (f32) vs the torch version.
"""

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_io  # noqa: E402
import diffllama_ref  # noqa: E402
import diffllama_torch  # noqa: E402
import make_testdata  # noqa: E402

AGREE_TOL = 1e-10   # float64 numpy vs float64 torch
DETECT_TOL = 1e-3   # a mutation must move the logits by more than this (f32 floor is ~1e-6)

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg)
    return cond


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def read_ids(d):
    with open(os.path.join(d, "ids.txt")) as f:
        return [int(t) for t in f.read().strip().split(",")]


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(os.path.join(a, s), os.path.join(b, s)) for s in cmp.common_dirs)


def unit_checks():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(20000).astype(np.float32) * 10,
                        # exact bf16 ties (lower half 0x8000), both parities
                        (np.arange(1000, dtype=np.uint32) * 0x10000 + 0x3F808000)
                        .view(np.float32),
                        np.array([0.0, -0.0, 1e-40, -3e38, 65504.0, 1e-8], np.float32)])
    ours = st_io.f32_to_bf16_bits(x)
    theirs = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    check(np.array_equal(ours, theirs), "bf16 rounding differs from torch")
    back = st_io.bf16_bits_to_f32(ours)
    check(np.array_equal(back, torch.from_numpy(x).to(torch.bfloat16).float().numpy()),
          "bf16 widening differs from torch")
    h = st_io.round_to_dtype(x[:20000] / 10, "F16")
    check(np.array_equal(h, torch.from_numpy(x[:20000] / 10).half().float().numpy()),
          "f16 rounding differs from torch")
    print("unit: bf16/f16 conversions match torch")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="output directory for the generated data")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dlvk_ref_selftest_")
    data = a.data or os.path.join(tmp, "data")
    try:
        return run(data, tmp)
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)


def run(data, tmp):
    unit_checks()

    # ---------------------------------------------------------------- generation + determinism
    t0 = time.time()
    check(make_testdata.main([data]) == 0, "make_testdata failed")
    gen_s = time.time() - t0
    again = os.path.join(tmp, "again")
    make_testdata.main([again])
    check(same_tree(data, again), "make_testdata output is not deterministic")
    print("generation: %.2f s, deterministic" % gen_s)
    with open(os.path.join(data, "manifest.json")) as f:
        manifest = json.load(f)

    # ---------------------------------------------------------------- numpy vs torch
    print("\n%-18s %5s %5s  %-9s %-10s %-10s %-10s" %
          ("config", "T", "dtype", "golden", "torch/np", "np32/np64", "inv_freq"))
    worst = 0.0
    for c in manifest["configs"]:
        d = os.path.join(data, c["name"])
        ids = read_ids(d)
        check(len(ids) == c["T"], "%s: ids.txt length" % c["name"])
        ref = diffllama_ref.DiffLlamaRef(d)
        ln = ref.forward(ids)
        golden = np.load(os.path.join(d, "logits.npy"))
        check(golden.dtype == np.float32 and golden.shape == (c["T"], c["vocab_size"]),
              "%s: logits.npy dtype/shape" % c["name"])
        g_ok = np.array_equal(golden, ln.astype(np.float32))
        check(g_ok, "%s: logits.npy differs from a re-run" % c["name"])
        tm = diffllama_torch.DiffLlamaTorch(d)
        lt = tm.forward(ids)
        r = rel(lt, ln)
        worst = max(worst, r)
        check(r < AGREE_TOL, "%s: torch vs numpy rel %.3g >= %g" % (c["name"], r, AGREE_TOL))
        inv_np = diffllama_ref.rope_inv_freq(ref.config)
        inv_t = diffllama_torch.compute_rope_inv_freq(tm.cfg).numpy()
        ulps = int(np.max(np.abs(inv_np.view(np.int32).astype(np.int64)
                                 - inv_t.view(np.int32).astype(np.int64))))
        check(ulps <= 1, "%s: inv_freq differs by %d ulp" % (c["name"], ulps))
        print("%-18s %5d %5s  %-9s %-10.2e %-10.2e %d ulp" %
              (c["name"], c["T"], c["dtype"], "ok" if g_ok else "DIFF", r,
               c["f32_ref_rel_err"], ulps))
    print("max relative disagreement torch vs numpy (float64): %.3g" % worst)

    # ---------------------------------------------------------------- mutation tests
    # where each mistake must be detected (predicate on the manifest entry)
    must = {
        "interleaved_pairs": lambda c: c["num_attention_heads"] >= 4,
        "vconcat_swapped": lambda c: c["num_key_value_heads"] > 1,
        "gqa_modulo": lambda c: 1 < c["num_key_value_heads"] < c["num_attention_heads"],
        "eps_1e6": lambda c: c["name"] == "minimal_defaults",
        "no_out_scale": lambda c: True,
        "lambda_init_1based": lambda c: True,
        "rope_interleaved": lambda c: True,
        "rope_no_scaling": lambda c: c["rope_type"] != "default",
        "angle_f64": lambda c: False,  # informational: f32 vs f64 angles is below f32 noise
    }
    print("\nmutation tests (rel. disagreement with the goldens; must be > %g where marked *):"
          % DETECT_TOL)
    for mut in diffllama_torch.MUTATIONS:
        parts, n_req, n_det = [], 0, 0
        for c in manifest["configs"]:
            d = os.path.join(data, c["name"])
            golden = np.load(os.path.join(d, "logits.npy"))
            lt = diffllama_torch.DiffLlamaTorch(d, mutation=mut).forward(read_ids(d))
            r = rel(lt, golden)
            req = must[mut](c)
            if req:
                n_req += 1
                n_det += r > DETECT_TOL
                check(r > DETECT_TOL, "mutation %s NOT detected on %s (rel %.2g)"
                      % (mut, c["name"], r))
            parts.append("%s%s=%.1e" % ("*" if req else "", c["name"], r))
        print("  %-18s detected %d/%d required" % (mut, n_det, n_req))
        print("      " + " ".join(parts))
        if mut == "angle_f64":
            check(max(float(p.split("=")[1]) for p in parts) < 1e-4,
                  "angle_f64 changes logits by more than expected")

    # ---------------------------------------------------------------- bad inputs
    print("\nbad inputs:")
    for b in manifest["bad"]:
        d = os.path.join(data, "bad", b["name"])
        try:
            diffllama_ref.DiffLlamaRef(d)
            check(False, "bad/%s was accepted" % b["name"])
        except (diffllama_ref.ConfigError, diffllama_ref.WeightsError,
                st_io.SafetensorsError) as e:
            msg = str(e)
            ok = b["error_contains"].lower() in msg.lower()
            ok_any = any(s.lower() in msg.lower() for s in b["error_contains_any"])
            check(ok and ok_any, "bad/%s: message %r lacks %r" % (b["name"], msg,
                                                                  b["error_contains"]))
            print("  %-22s ok  [%s]  %s" % (b["name"], b["error_contains"],
                                            msg.replace(d, "<dir>")[:110]))

    # ---------------------------------------------------------------- CLI
    out = os.path.join(tmp, "cli.npy")
    mha = os.path.join(data, "mha")
    ids = ",".join(map(str, read_ids(mha)))
    p = subprocess.run([sys.executable, os.path.join(HERE, "diffllama_ref.py"), "--model", mha,
                        "--ids", ids, "--out", out], capture_output=True, text=True)
    check(p.returncode == 0 and np.array_equal(np.load(out),
                                               np.load(os.path.join(mha, "logits.npy"))),
          "CLI run differs from logits.npy: %s" % p.stderr)
    p = subprocess.run([sys.executable, os.path.join(HERE, "diffllama_ref.py"), "--model",
                        os.path.join(data, "bad", "rope_yarn"), "--ids", "1", "--out", out],
                       capture_output=True, text=True)
    check(p.returncode == 2 and "yarn" in p.stderr, "CLI does not reject bad/rope_yarn cleanly")
    print("\nCLI: ok")

    if failures:
        print("\n%d FAILURE(S)" % len(failures))
        return 1
    print("\nALL OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
