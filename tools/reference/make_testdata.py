#!/usr/bin/python3
"""Generate small random DiffLlama checkpoints + golden logits, and malformed checkpoints.

    /usr/bin/python3 tools/reference/make_testdata.py OUTDIR

Writes (deterministic: fixed seeds, byte-identical on every run):
    OUTDIR/<config>/config.json, generation_config.json, model.safetensors (or shards + index),
                    ids.txt     comma-separated prompt ids (T of them)
                    logits.npy  float32 [T, V]: diffllama_ref in float64 on the stored weights,
                                 full causal prompt at positions 0..T-1
                    hidden.npy  float32 [L+1, T, hidden]: residual stream after the embedding
                                 and after each decoder layer (for debugging)
    OUTDIR/gqa/perplexity.json  windowed perplexity of a 70-id sequence (several windows, strides,
                                with and without a bos): NLL sums from diffllama_ref in float64
    OUTDIR/heldout.json         the same for the first windows of models/default/heldout.txt
                                (tools/train/bpe.py encoding; the protocol of eval_heldout.py)
    OUTDIR/bad/<case>/          model directories a loader must reject
    OUTDIR/manifest.json        what is where (see README.md)
Only NumPy is needed.
"""

import json
import math
import os
import shutil
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_io  # noqa: E402
import diffllama_ref  # noqa: E402

DT_NAME = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}

# ----------------------------------------------------------------------------- configurations
# Keys: V vocab, D hidden, I intermediate, L layers, H heads, Hkv kv heads, d explicit head_dim
# (None: not written, = D // H), T prompt length, dtype, act, bias, tie, rope (v4 rope_scaling
# dict or None), theta, style (v4 | v5 | minimal), prefix ("model." or ""), shards, emb_std.
BASE = dict(V=128, D=64, I=128, L=2, H=4, Hkv=4, d=None, T=24, dtype="F32", act="silu",
            bias=False, tie=False, rope=None, theta=10000.0, style="v4", prefix="model.",
            shards=1, emb_std=1.0, maxpos=2048, eos=2, lm_head=True)

CONFIGS = [
    dict(name="mha", desc="MHA H=Hkv=4, d=16, f32, untied, silu, default rope", T=24),
    dict(name="gqa", desc="GQA H=8 Hkv=2 (g(h)=h//4), d=8, 3 layers", V=160, H=8, Hkv=2, L=3,
         T=32),
    dict(name="mqa", desc="MQA H=4 Hkv=1", V=96, H=4, Hkv=1, T=28),
    dict(name="head_dim_24", desc="explicit head_dim 24 != hidden/H (48/4=12); H*d=96 > hidden",
         V=100, D=48, I=96, H=4, Hkv=2, d=24, T=30),
    dict(name="attn_bias", desc="attention_bias true: q/k/v/o_proj biases", H=4, Hkv=2,
         bias=True, T=26),
    dict(name="tied", desc="tie_word_embeddings true, no lm_head.weight in file", V=200,
         tie=True, lm_head=False, T=30, eos=[2, 7], emb_std=0.25),
    dict(name="rope_llama3", desc="llama3 rope scaling factor 8, low 1, high 4, original_max 32, "
         "theta 500 (mixes unscaled/smoothed/scaled frequencies)", H=4, Hkv=2, T=40, theta=500.0,
         maxpos=512, rope={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                           "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
    dict(name="rope_linear", desc="linear rope scaling factor 4, legacy rope_scaling.type spelling",
         H=4, Hkv=4, T=36, rope={"type": "linear", "factor": 4.0}),
    dict(name="bf16_sharded", desc="bf16 weights in 3 shards + model.safetensors.index.json",
         dtype="BF16", shards=3, H=4, Hkv=2, L=3, T=32),
    dict(name="f16", desc="f16 weights", dtype="F16", H=4, Hkv=2, V=144, T=28),
    dict(name="v5_config", desc="transformers v5 config: rope_parameters (llama3, theta 500000, "
         "factor 32/1/4/64) and dtype; no rope_theta/rope_scaling/torch_dtype keys", style="v5",
         H=4, Hkv=2, T=36, theta=500000.0, maxpos=1024,
         rope={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    dict(name="bare_names", desc="DiffLlamaModel names (no 'model.' prefix) + lm_head.weight",
         prefix="", H=4, Hkv=2, T=24),
    dict(name="gelu", desc="hidden_act gelu (exact erf), v5 style with default rope_parameters",
         act="gelu", style="v5", H=4, Hkv=2, T=24),
    dict(name="long_ctx", desc="T=544 prompt, max_position_embeddings 1024", V=96, H=4, Hkv=2,
         T=544, maxpos=1024),
    dict(name="head_dim_128", desc="head_dim 128 (H=4, Hkv=2, hidden 128, H*d=512)", D=128,
         I=192, H=4, Hkv=2, d=128, T=24),
    dict(name="odd_hkv", desc="H=6, Hkv=3 (odd kv heads; pair i reads kv i//2 and (i+3)//2); "
         "intermediate 150 (not a multiple of 8: gate/up in groups of 1, down_proj K % 8 != 0)",
         D=96, I=150, H=6, Hkv=3, T=26),
    dict(name="single_pair", desc="H=2, Hkv=1: one differential pair, d=32", H=2, Hkv=1, T=22),
    dict(name="minimal_defaults", desc="config with only the required keys (eps 1e-5, Hkv=H, "
         "head_dim, theta, act defaults); tiny embeddings (std 3e-3) so eps 1e-5 vs 1e-6 shows",
         style="minimal", emb_std=3e-3, T=24),
]


def spec(c):
    s = dict(BASE)
    s.update(c)
    s["hd"] = s["d"] if s["d"] is not None else s["D"] // s["H"]
    return s


# ----------------------------------------------------------------------------- files

def config_json(s):
    dtname = DT_NAME[s["dtype"]]
    req = {"model_type": "diffllama", "vocab_size": s["V"], "hidden_size": s["D"],
           "intermediate_size": s["I"], "num_hidden_layers": s["L"],
           "num_attention_heads": s["H"]}
    if s["style"] == "minimal":
        assert s["Hkv"] == s["H"] and s["d"] is None and s["rope"] is None and not s["tie"]
        return req
    c = {"architectures": ["DiffLlamaForCausalLM"], "attention_bias": s["bias"],
         "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": s["eos"],
         "hidden_act": s["act"], "initializer_range": 0.02, "lambda_std_dev": 0.1,
         "max_position_embeddings": s["maxpos"], "mlp_bias": False,
         "num_key_value_heads": s["Hkv"], "pad_token_id": None, "pretraining_tp": 1,
         "rms_norm_eps": 1e-05, "tie_word_embeddings": s["tie"], "use_cache": True}
    c.update(req)
    if s["d"] is not None:
        c["head_dim"] = s["d"]
    if s["style"] == "v4":
        c["rope_theta"] = s["theta"]
        c["rope_scaling"] = s["rope"]
        c["torch_dtype"] = dtname
        c["transformers_version"] = "4.48.0"
    else:
        rp = {"rope_theta": s["theta"], "rope_type": "default"}
        rp.update(s["rope"] or {})
        c["rope_parameters"] = rp
        c["dtype"] = dtname
        c["transformers_version"] = "5.0.0"
    return dict(sorted(c.items()))


def random_weights(s, rng):
    """Ordered {name: float32 array}, rounded to the storage dtype."""
    V, D, I, L, H, Hkv, d = s["V"], s["D"], s["I"], s["L"], s["H"], s["Hkv"], s["hd"]
    p = s["prefix"]
    t = {}

    def n(*shape, std=1.0, mean=0.0):
        return (mean + std * rng.standard_normal(shape)).astype(np.float32)

    t[p + "embed_tokens.weight"] = n(V, D, std=s["emb_std"])
    lam_std = min(0.3, 1.2 / math.sqrt(d))
    for l in range(L):
        a = "%slayers.%d.self_attn." % (p, l)
        m = "%slayers.%d.mlp." % (p, l)
        t["%slayers.%d.input_layernorm.weight" % (p, l)] = n(D, std=0.2, mean=1.0)
        t[a + "q_proj.weight"] = n(H * d, D, std=1.5 / math.sqrt(D))
        t[a + "k_proj.weight"] = n(Hkv * d, D, std=1.5 / math.sqrt(D))
        t[a + "v_proj.weight"] = n(Hkv * d, D, std=1.0 / math.sqrt(D))
        t[a + "o_proj.weight"] = n(D, H * d, std=1.0 / math.sqrt(H * d))
        if s["bias"]:
            t[a + "q_proj.bias"] = n(H * d, std=0.3)
            t[a + "k_proj.bias"] = n(Hkv * d, std=0.3)
            t[a + "v_proj.bias"] = n(Hkv * d, std=0.3)
            t[a + "o_proj.bias"] = n(D, std=0.3)
        for k in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            t[a + k] = n(d, std=lam_std)
        t["%slayers.%d.post_attention_layernorm.weight" % (p, l)] = n(D, std=0.2, mean=1.0)
        t[m + "gate_proj.weight"] = n(I, D, std=1.0 / math.sqrt(D))
        t[m + "up_proj.weight"] = n(I, D, std=1.0 / math.sqrt(D))
        t[m + "down_proj.weight"] = n(D, I, std=1.0 / math.sqrt(I))
    t[p + "norm.weight"] = n(D, std=0.2, mean=1.0)
    if s["lm_head"]:
        t["lm_head.weight"] = n(V, D, std=2.0 / math.sqrt(D))
    return {k: st_io.round_to_dtype(v, s["dtype"]) for k, v in t.items()}


def write_weights(outdir, tensors, dtype, shards):
    names = list(tensors)
    if shards == 1:
        st_io.save_file(os.path.join(outdir, "model.safetensors"), tensors, dtype)
        return
    # contiguous groups of roughly equal byte size, HF shard naming
    sizes = [tensors[k].size for k in names]
    total = sum(sizes)
    groups, cur, acc = [], [], 0
    for k, sz in zip(names, sizes):
        cur.append(k)
        acc += sz
        if acc >= total * (len(groups) + 1) / shards and len(groups) < shards - 1:
            groups.append(cur)
            cur = []
    groups.append(cur)
    assert len(groups) == shards and all(groups)
    wm = {}
    for i, g in enumerate(groups):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
        st_io.save_file(os.path.join(outdir, fn), {k: tensors[k] for k in g}, dtype)
        for k in g:
            wm[k] = fn
    itemsize = st_io.SUPPORTED[dtype]
    index = {"metadata": {"total_size": total * itemsize}, "weight_map": dict(sorted(wm.items()))}
    with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def prompt_ids(s, rng):
    V, T = s["V"], s["T"]
    ids = rng.integers(0, V, size=T)
    # out-of-order, extreme and repeated ids
    ids[0] = 1
    if T > 4:
        ids[1], ids[2], ids[3] = V - 1, 0, V - 2
    if T > 10:
        ids[7:10] = ids[4]  # a repeated run
    return [int(i) for i in ids]


def write_model(outdir, s, seed):
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(seed)
    tensors = random_weights(s, rng)
    write_json(os.path.join(outdir, "config.json"), config_json(s))
    write_json(os.path.join(outdir, "generation_config.json"),
               {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": s["eos"],
                "transformers_version": "4.48.0"})
    write_weights(outdir, tensors, s["dtype"], s["shards"])
    return rng, tensors


# ----------------------------------------------------------------------------- golden models

def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def make_good(outroot, c, seed):
    s = spec(c)
    outdir = os.path.join(outroot, s["name"])
    rng, _ = write_model(outdir, s, seed)
    ids = prompt_ids(s, rng)
    with open(os.path.join(outdir, "ids.txt"), "w") as f:
        f.write(",".join(map(str, ids)) + "\n")
    m = diffllama_ref.DiffLlamaRef(outdir, dtype=np.float64)
    logits, hidden = m.forward(ids, return_hidden=True)
    np.save(os.path.join(outdir, "logits.npy"), logits.astype(np.float32))
    np.save(os.path.join(outdir, "hidden.npy"), hidden.astype(np.float32))
    l32 = diffllama_ref.DiffLlamaRef(outdir, dtype=np.float32).forward(ids)
    cfg = m.config
    return {
        "name": s["name"], "description": s["desc"], "dtype": s["dtype"],
        "vocab_size": s["V"], "hidden_size": s["D"], "intermediate_size": s["I"],
        "num_hidden_layers": s["L"], "num_attention_heads": s["H"],
        "num_key_value_heads": s["Hkv"], "head_dim": s["hd"], "hidden_act": s["act"],
        "attention_bias": s["bias"], "tied": m.weights.tied, "prefix": s["prefix"],
        "shards": s["shards"], "config_style": s["style"], "rope_type": cfg.rope_type,
        "rope_theta": cfg.rope_theta, "rms_norm_eps": cfg.rms_norm_eps,
        "max_position_embeddings": cfg.max_position_embeddings, "T": len(ids),
        "lambda": m.lambdas,
        "lambda_init": [diffllama_ref.lambda_init(l) for l in range(s["L"])],
        "logits_absmax": float(np.max(np.abs(logits))),
        "f32_ref_rel_err": rel_err(l32.astype(np.float64), logits),
    }


# ----------------------------------------------------------------------------- windowed perplexity

def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def windowed_nll(model, ids, window, stride, bos, max_windows=0):
    """The windows of tools/train/eval_heldout.py, generalised to no bos (ids[0] is then context
    only): a window is [bos] + ids[s : s + window - 1] (or ids[s : s + window]); every target is
    scored once, by the first window that holds it after the ones already scored."""
    prefix = 0 if bos is None else 1
    text = window - prefix
    begin = scored = 1 - prefix
    nll, count, s = 0.0, 0, 0
    while scored < len(ids) and (max_windows == 0 or count < max_windows):
        seg = ids[s:s + text]
        lp = log_softmax(np.asarray(model.forward(([] if bos is None else [bos]) + seg), np.float64))
        for i in range(scored, s + len(seg)):  # row i - s - 1 + prefix predicts ids[i]
            nll -= lp[i - s - 1 + prefix, ids[i]]
        scored = s + len(seg)
        count += 1
        s += stride
    return {"window": window, "stride": stride, "bos": bos, "max_windows": max_windows,
            "windows": count, "scored_begin": begin, "scored_end": scored, "nll_sum": float(nll)}


def make_perplexity(outroot, name="gqa", n=70):
    d = os.path.join(outroot, name)
    m = diffllama_ref.DiffLlamaRef(d, dtype=np.float64)
    rng = np.random.default_rng(77)
    ids = [int(i) for i in rng.integers(0, m.config.vocab_size, size=n)]
    cases = [windowed_nll(m, ids, 16, 7, 1),             # stride (16 - 1) // 2: the default
             windowed_nll(m, ids, 16, 12, 1),            # little overlap
             windowed_nll(m, ids, 13, 5, None),          # no bos: ids[0] is context only
             windowed_nll(m, ids, 20, 9, 1, max_windows=3),
             windowed_nll(m, ids, 80, 40, 1)]            # one window holds everything
    write_json(os.path.join(d, "perplexity.json"), {"model": name, "ids": ids, "cases": cases})
    return "%s/perplexity.json" % name


def make_heldout(outroot, windows=2):
    """First windows of the shipped model's held-out text, as eval_heldout.py scores them."""
    root = os.path.dirname(os.path.dirname(HERE))
    model_dir = os.path.join(root, "models/default")
    sys.path.insert(0, os.path.join(root, "tools/train"))
    import bpe  # noqa: E402  (the training tokenizer: independent of dlvk's)
    tok = bpe.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    with open(os.path.join(model_dir, "heldout.txt"), encoding="utf-8") as f:
        ids = tok.encode(f.read())
    m = diffllama_ref.DiffLlamaRef(model_dir, dtype=np.float64)
    C = m.config.max_position_embeddings
    case = windowed_nll(m, ids, C, (C - 1) // 2, tok.bos_id, max_windows=windows)
    case["bytes"] = len(tok.decode(ids[case["scored_begin"]:case["scored_end"]]).encode("utf-8"))
    case["file"] = "models/default/heldout.txt"
    write_json(os.path.join(outroot, "heldout.json"), case)
    return "heldout.json"


# ----------------------------------------------------------------------------- bad models

BAD_BASE = dict(name="bad_base", V=64, D=32, I=64, L=2, H=4, Hkv=2, T=8)


def serialize(tensors, dtype="F32"):
    """(header dict without metadata, data bytes, order) as save_file would write them."""
    hdr, blobs, off = {}, [], 0
    for k, v in tensors.items():
        b = st_io.encode(v, dtype)
        hdr[k] = {"dtype": dtype, "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    return hdr, b"".join(blobs)


def make_bad(outroot):
    root = os.path.join(outroot, "bad")
    os.makedirs(root, exist_ok=True)
    cases = []
    base = spec(BAD_BASE)
    P = "model.layers.0.self_attn."

    def new(name, desc, contains, any_of=None, s=base):
        d = os.path.join(root, name)
        _, tensors = write_model(d, s, 1234)
        any_of = list(any_of or [])
        if contains.lower() not in [a.lower() for a in any_of]:
            any_of.insert(0, contains)
        cases.append({"name": name, "description": desc, "error_contains": contains,
                      "error_contains_any": any_of})
        return d, tensors

    def edit_config(d, fn):
        p = os.path.join(d, "config.json")
        with open(p) as f:
            c = json.load(f)
        fn(c)
        write_json(p, c)

    def rewrite_st(d, tensors, fn, dtype="F32"):
        hdr, data = serialize(tensors, dtype)
        res = fn(hdr, data)
        if res is not None:
            hdr, data = res
        st_io.write_raw(os.path.join(d, "model.safetensors"), hdr, data)

    # --- config.json problems
    d, _ = new("missing_config", "no config.json", "config.json")
    os.remove(os.path.join(d, "config.json"))
    d, _ = new("config_not_json", "config.json is not JSON", "config.json", ["json"])
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write('{"model_type": "diffllama", "hidden_size": 32,, oops\n')
    d, _ = new("odd_heads", "num_attention_heads 5 (odd), head_dim 8", "num_attention_heads")
    edit_config(d, lambda c: c.update(num_attention_heads=5, num_key_value_heads=5, head_dim=8))
    d, _ = new("kv_not_dividing", "num_key_value_heads 3 does not divide 4",
               "num_key_value_heads")
    edit_config(d, lambda c: c.update(num_key_value_heads=3))
    d, _ = new("negative_hidden", "hidden_size -32", "hidden_size")
    edit_config(d, lambda c: c.update(hidden_size=-32))
    d, _ = new("string_int", 'num_hidden_layers is the string "2"', "num_hidden_layers")
    edit_config(d, lambda c: c.update(num_hidden_layers="2"))
    d, _ = new("rope_yarn", "rope_scaling rope_type yarn (unsupported)", "yarn",
               ["rope_type", "rope"])
    edit_config(d, lambda c: c.update(rope_scaling={
        "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 512}))
    d, _ = new("rope_v5_dynamic", "v5 rope_parameters with rope_type dynamic (unsupported)",
               "dynamic", ["rope_type", "rope"])

    def v5dyn(c):
        del c["rope_theta"], c["rope_scaling"]
        c["rope_parameters"] = {"rope_theta": 10000.0, "rope_type": "dynamic", "factor": 2.0}
    edit_config(d, v5dyn)
    d, _ = new("llama3_missing_factor", "llama3 rope_scaling without factor", "factor")
    edit_config(d, lambda c: c.update(rope_scaling={
        "rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64}))
    d, _ = new("unknown_act", "hidden_act gelu_pytorch_tanh (only silu and exact gelu)",
               "gelu_pytorch_tanh", ["hidden_act", "activation"])
    edit_config(d, lambda c: c.update(hidden_act="gelu_pytorch_tanh"))

    # --- safetensors container problems
    d, t = new("no_weights", "config.json but no model.safetensors or index", "safetensors")
    os.remove(os.path.join(d, "model.safetensors"))
    d, t = new("empty_safetensors", "model.safetensors is 0 bytes", "header",
               ["truncat", "too small", "short", "size"])
    open(os.path.join(d, "model.safetensors"), "wb").close()
    d, t = new("truncated", "model.safetensors cut in the middle of the data section", "truncat",
               ["offset", "beyond", "exceed", "out of", "size", "short", "end of file", "eof"])
    p = os.path.join(d, "model.safetensors")
    with open(p, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    with open(p, "wb") as f:
        f.write(blob[:8 + n + (len(blob) - 8 - n) // 2])
    d, t = new("header_len_huge", "header length field is 2^60", "header")
    hdr, data = serialize(t)
    st_io.write_raw(os.path.join(d, "model.safetensors"), hdr, data, header_len=1 << 60)
    d, t = new("header_not_json", "header bytes are not JSON", "header", ["json"])
    st_io.write_raw(os.path.join(d, "model.safetensors"),
                    b"{\"model.embed_tokens.weight\": {\"dtype\": \"F32\", \"shape\": [64, 32] ... not json",
                    serialize(t)[1])
    d, t = new("offsets_beyond_file", "data_offsets of one tensor point past the end of the file",
               "offset", ["beyond", "exceed", "out of", "bound", "truncat"])

    def beyond(hdr, data):
        e = hdr[P + "v_proj.weight"]
        sz = e["data_offsets"][1] - e["data_offsets"][0]
        e["data_offsets"] = [len(data) + 64, len(data) + 64 + sz]
    rewrite_st(d, t, beyond)
    d, t = new("size_mismatch", "o_proj byte size (data_offsets) is one row short of its shape",
               "size", ["shape", "bytes", "offset", "mismatch"])

    def short(hdr, data):
        e = hdr[P + "o_proj.weight"]
        e["data_offsets"][1] -= 4 * e["shape"][1]
    rewrite_st(d, t, short)
    d, t = new("overlap", "post_attention_layernorm of layer 0 overlaps another tensor's bytes",
               "overlap")

    def overlap(hdr, data):
        a = hdr["model.layers.0.post_attention_layernorm.weight"]
        b = hdr[P + "lambda_k2"]  # the tensor written just before it
        shift = (b["data_offsets"][1] - b["data_offsets"][0]) // 2
        a["data_offsets"] = [a["data_offsets"][0] - shift, a["data_offsets"][1] - shift]
    rewrite_st(d, t, overlap)
    for dt, nbytes in (("I64", 8), ("F64", 8)):
        d, t = new("dtype_%s" % dt.lower(), "lambda_q1 stored as %s (unsupported dtype)" % dt, dt,
                   ["dtype", "type"])

        def wide(hdr, data, dt=dt, nbytes=nbytes):
            # rebuild the data with lambda_q1 widened to 8-byte elements
            out, off = [], 0
            for k, e in hdr.items():
                b0, b1 = e["data_offsets"]
                chunk = data[b0:b1]
                if k == P + "lambda_q1":
                    vals = np.frombuffer(chunk, dtype="<f4")
                    chunk = (vals.astype("<f8") if dt == "F64" else
                             np.round(vals * 100).astype("<i8")).tobytes()
                    e["dtype"] = dt
                e["data_offsets"] = [off, off + len(chunk)]
                off += len(chunk)
                out.append(chunk)
            return hdr, b"".join(out)
        rewrite_st(d, t, wide)

    # --- tensors vs config
    d, t = new("missing_tensor", "model.layers.1.self_attn.k_proj.weight absent", "k_proj")
    del t["model.layers.1.self_attn.k_proj.weight"]
    st_io.save_file(os.path.join(d, "model.safetensors"), t)
    d, t = new("wrong_shape", "q_proj of layer 0 has 40 rows, config implies H*d = 32", "q_proj")
    t[P + "q_proj.weight"] = np.zeros((40, 32), np.float32)
    st_io.save_file(os.path.join(d, "model.safetensors"), t)
    d, t = new("lambda_wrong_shape", "lambda_k2 of layer 0 has 10 elements, head_dim is 8",
               "lambda_k2")
    t[P + "lambda_k2"] = np.zeros((10,), np.float32)
    st_io.save_file(os.path.join(d, "model.safetensors"), t)

    # --- sharded checkpoints
    sh = dict(base, shards=3, dtype="BF16")
    d, t = new("missing_shard", "model-00002-of-00003.safetensors named in the index but absent",
               "model-00002-of-00003", s=sh)
    os.remove(os.path.join(d, "model-00002-of-00003.safetensors"))
    d, t = new("index_not_json", "model.safetensors.index.json is not JSON", "index",
               ["json"], s=sh)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write("{\"weight_map\": [not json\n")
    return cases


# ----------------------------------------------------------------------------- main

def main(argv):
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = argv[0]
    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    for sub in [c["name"] for c in CONFIGS] + ["bad"]:
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    entries = [make_good(out, c, seed=1000 + i) for i, c in enumerate(CONFIGS)]
    bad = make_bad(out)
    perplexity = [make_perplexity(out), make_heldout(out)]
    manifest = {
        "generator": "tools/reference/make_testdata.py",
        "spec": "shared/spec/diffllama.md",
        "notes": {
            "logits": "float32 [T, V] from diffllama_ref.py in float64 on the stored weights; "
                      "prompt = ids.txt at positions 0..T-1, full causal attention",
            "hidden": "float32 [L+1, T, hidden]: residual stream after embedding, after layer l",
            "rel_err": "max|x - golden| / max|golden| over all T x V logits",
            "f32_ref_rel_err": "rel_err of the same reference run entirely in float32 "
                               "(a floor for any f32 implementation)",
            "perplexity": "NLL sums (natural log, float64 reference) of windowed perplexity cases",
            "bad": "each bad/<case> must be rejected; the error message (lowercased) should "
                   "contain error_contains, or at least one of error_contains_any",
        },
        "configs": entries,
        "perplexity": perplexity,
        "bad": bad,
    }
    write_json(os.path.join(out, "manifest.json"), manifest)
    print("wrote %d configs and %d bad cases to %s in %.1f s"
          % (len(entries), len(bad), out, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
