#!/usr/bin/python3
"""Independent NumPy reference for DiffLlamaForCausalLM (Hugging Face `diffllama`, eager attention).

Written from /work/shared/spec/diffllama.md. Computes in float64 by default (float32 optional) on
the weights exactly as stored (f16/bf16 widened exactly). The code follows the spec's formulas
(explicit per-pair loop, explicit rotate-half); diffllama_torch.py is a second implementation that
follows HF's tensor layout instead and is used to cross-check this one (see selftest.py).

Usage:
    /usr/bin/python3 tools/reference/diffllama_ref.py --model DIR --ids 1,2,3 --out logits.npy
        [--dtype float64|float32] [--hidden hidden.npy]
The output is a float32 .npy of shape [T, V]: logits for each prompt position (full causal prompt,
positions 0..T-1).
"""

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


class ConfigError(ValueError):
    pass


class WeightsError(ValueError):
    pass


# ============================================================================ config

SUPPORTED_ACTS = ("silu", "gelu")
SUPPORTED_ROPE = ("default", "linear", "llama3")


def _int(cfg, key, default=None, required=False, minimum=1):
    if key not in cfg or cfg[key] is None:
        if required:
            raise ConfigError("config.json: missing required key %s" % key)
        return default
    v = cfg[key]
    if type(v) is not int:  # rejects bool, str, float
        raise ConfigError("config.json: %s must be an integer, got %r" % (key, v))
    if v < minimum:
        raise ConfigError("config.json: %s must be >= %d, got %d" % (key, minimum, v))
    return v


def _float(d, key, default=None, required=False, where="config.json", positive=True):
    if key not in d or d[key] is None:
        if required:
            raise ConfigError("%s: missing required key %s" % (where, key))
        return default
    v = d[key]
    if type(v) not in (int, float):
        raise ConfigError("%s: %s must be a number, got %r" % (where, key, v))
    v = float(v)
    if not math.isfinite(v) or (positive and v <= 0):
        raise ConfigError("%s: %s must be a positive finite number, got %r" % (where, key, v))
    return v


def _bool(cfg, key, default):
    if key not in cfg or cfg[key] is None:
        return default
    v = cfg[key]
    if type(v) is not bool:
        raise ConfigError("config.json: %s must be true or false, got %r" % (key, v))
    return v


class Config:
    """Normalized DiffLlama config (v4 and v5 spellings)."""

    def __init__(self, cfg):
        if not isinstance(cfg, dict):
            raise ConfigError("config.json: top level must be a JSON object")
        mt = cfg.get("model_type")
        if mt is not None and mt != "diffllama":
            raise ConfigError("config.json: model_type %r is not 'diffllama'" % (mt,))
        self.raw = cfg
        self.vocab_size = _int(cfg, "vocab_size", required=True)
        self.hidden_size = _int(cfg, "hidden_size", required=True)
        self.intermediate_size = _int(cfg, "intermediate_size", required=True)
        self.num_hidden_layers = _int(cfg, "num_hidden_layers", required=True)
        H = _int(cfg, "num_attention_heads", required=True)
        if H % 2:
            raise ConfigError("config.json: num_attention_heads must be even (heads are paired), "
                              "got %d" % H)
        Hkv = _int(cfg, "num_key_value_heads", default=H)
        if H % Hkv:
            raise ConfigError("config.json: num_key_value_heads (%d) must divide "
                              "num_attention_heads (%d)" % (Hkv, H))
        self.num_attention_heads, self.num_key_value_heads = H, Hkv
        d = _int(cfg, "head_dim", default=None)
        if d is None:
            d = self.hidden_size // H  # HF: hidden_size // num_attention_heads
            if d < 1:
                raise ConfigError("config.json: hidden_size // num_attention_heads is 0")
        if d % 2:
            raise ConfigError("config.json: head_dim must be even for RoPE, got %d" % d)
        self.head_dim = d
        act = cfg.get("hidden_act", "silu")
        if act is None:
            act = "silu"
        if not isinstance(act, str) or act not in SUPPORTED_ACTS:
            raise ConfigError("config.json: unsupported hidden_act %r (supported: silu, gelu)"
                              % (act,))
        self.hidden_act = act
        self.max_position_embeddings = _int(cfg, "max_position_embeddings", default=2048)
        self.rms_norm_eps = _float(cfg, "rms_norm_eps", default=1e-5)
        self.attention_bias = _bool(cfg, "attention_bias", False)
        self.tie_word_embeddings = _bool(cfg, "tie_word_embeddings", False)
        self._parse_rope(cfg)
        dt = cfg.get("dtype", cfg.get("torch_dtype"))
        self.dtype = dt if isinstance(dt, str) else None

    def _parse_rope(self, cfg):
        rp = cfg.get("rope_parameters")
        if rp is not None:  # transformers v5
            if not isinstance(rp, dict):
                raise ConfigError("config.json: rope_parameters must be an object")
            where = "config.json rope_parameters"
            theta_src = rp if "rope_theta" in rp else cfg
            scaling = rp
        else:  # transformers v4
            where = "config.json rope_scaling"
            theta_src = cfg
            scaling = cfg.get("rope_scaling")
            if scaling is not None and not isinstance(scaling, dict):
                raise ConfigError("config.json: rope_scaling must be an object or null")
        self.rope_theta = _float(theta_src, "rope_theta", default=10000.0, where=where)
        rtype = "default"
        if scaling is not None:
            rtype = scaling.get("rope_type", scaling.get("type", "default"))
            if ("type" in scaling and "rope_type" in scaling
                    and scaling["type"] != scaling["rope_type"]):
                # transformers v4 lets "type" win, v5 lets "rope_type" win: refuse to guess
                raise ConfigError("%s: conflicting type %r and rope_type %r"
                                  % (where, scaling["type"], scaling["rope_type"]))
            if rtype is None:
                rtype = "default"
        if not isinstance(rtype, str) or rtype not in SUPPORTED_ROPE:
            raise ConfigError("%s: unsupported rope_type %r (supported: %s)"
                              % (where, rtype, ", ".join(SUPPORTED_ROPE)))
        self.rope_type = rtype
        self.rope_factor = 1.0
        if rtype in ("linear", "llama3"):
            self.rope_factor = _float(scaling, "factor", required=True, where=where)
        if rtype == "llama3":
            self.low_freq_factor = _float(scaling, "low_freq_factor", required=True, where=where)
            self.high_freq_factor = _float(scaling, "high_freq_factor", required=True, where=where)
            if self.high_freq_factor <= self.low_freq_factor:
                raise ConfigError("%s: high_freq_factor must be greater than low_freq_factor"
                                  % where)
            omp = scaling.get("original_max_position_embeddings")
            if omp is None:
                omp = self.max_position_embeddings
            if type(omp) not in (int, float) or omp <= 0:
                raise ConfigError("%s: original_max_position_embeddings must be a positive "
                                  "number, got %r" % (where, omp))
            self.original_max_position_embeddings = omp


def load_config(model_dir):
    path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(path):
        raise ConfigError("config.json not found in %s" % model_dir)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        cfg = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError("config.json: invalid JSON (%s)" % e)
    return Config(cfg)


# ============================================================================ RoPE

def rope_inv_freq(c):
    """inv_freq in float32, computed with float32 arithmetic exactly as HF does."""
    d = c.head_dim
    f32 = np.float32
    exps = np.arange(0, d, 2, dtype=np.int64).astype(f32) / f32(d)  # f32 division, like HF
    # theta ** exps as a correctly rounded f32 (NumPy's own float32 pow is off by 1 ulp for some
    # inputs; torch's CPU pow is correctly rounded): evaluate in f64, round once to f32.
    powed = (np.float64(f32(c.rope_theta)) ** exps.astype(np.float64)).astype(f32)
    inv = (f32(1.0) / powed).astype(f32)
    if c.rope_type == "linear":
        inv = (inv / f32(c.rope_factor)).astype(f32)
    elif c.rope_type == "llama3":
        factor = f32(c.rope_factor)
        lo, hi = f32(c.low_freq_factor), f32(c.high_freq_factor)
        L = c.original_max_position_embeddings
        low_wl = f32(L / c.low_freq_factor)    # python float divisions, then compared in f32
        high_wl = f32(L / c.high_freq_factor)
        wavelen = (f32(2 * math.pi) / inv).astype(f32)
        inv_l = np.where(wavelen > low_wl, inv / factor, inv).astype(f32)
        smooth = ((f32(L) / wavelen - lo) / (hi - lo)).astype(f32)
        smoothed = ((f32(1) - smooth) * inv_l / factor + smooth * inv_l).astype(f32)
        medium = ~(wavelen < high_wl) & ~(wavelen > low_wl)
        inv = np.where(medium, smoothed, inv_l).astype(f32)
    return inv


def rope_cos_sin(c, T, dtype, start=0):
    """cos, sin of shape [T, d/2]; the angle pos*inv_freq is formed in float32 (like HF), the
    cos/sin are then evaluated in `dtype`."""
    inv = rope_inv_freq(c)
    pos = np.arange(start, start + T, dtype=np.int64).astype(np.float32)
    ang = (pos[:, None] * inv[None, :]).astype(np.float32)
    ang = ang.astype(dtype)
    return np.cos(ang), np.sin(ang)


def apply_rope(x, cos, sin):
    """x [T, n, d] rotate-half layout: x'_j = x_j cos - x_{j+d/2} sin, x'_{j+d/2} = x_{j+d/2} cos
    + x_j sin."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[:, None, :], sin[:, None, :]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)


# ============================================================================ weights

def _read_index(model_dir):
    ipath = os.path.join(model_dir, "model.safetensors.index.json")
    try:
        with open(ipath, "rb") as f:
            idx = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise WeightsError("model.safetensors.index.json: invalid JSON (%s)" % e)
    wm = idx.get("weight_map") if isinstance(idx, dict) else None
    if not isinstance(wm, dict) or not all(isinstance(v, str) for v in wm.values()):
        raise WeightsError("model.safetensors.index.json: missing or invalid weight_map")
    for v in wm.values():
        if os.path.basename(v) != v or v in ("", ".", ".."):
            raise WeightsError("model.safetensors.index.json: bad shard file name %r" % v)
    return wm


def load_tensors(model_dir):
    """All tensors of the checkpoint as float32 arrays (+ their on-disk dtypes)."""
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.isfile(single):
        return st_io.load_file(single)
    if not os.path.isfile(os.path.join(model_dir, "model.safetensors.index.json")):
        raise WeightsError("no model.safetensors or model.safetensors.index.json in %s"
                           % model_dir)
    wm = _read_index(model_dir)
    tensors, dtypes = {}, {}
    for shard in sorted(set(wm.values())):
        p = os.path.join(model_dir, shard)
        if not os.path.isfile(p):
            raise WeightsError("shard %s listed in model.safetensors.index.json is missing"
                               % shard)
        t, d = st_io.load_file(p)
        for name in t:
            if name in tensors:
                raise WeightsError("tensor %s appears in more than one shard" % name)
        tensors.update(t)
        dtypes.update(d)
    for name, shard in wm.items():
        if name not in tensors:
            raise WeightsError("tensor %s listed in weight_map is missing from shard %s"
                               % (name, shard))
    return tensors, dtypes


class Weights:
    """Checked, named weights for the causal LM (float32 as loaded; converted at forward)."""

    def __init__(self, c, tensors):
        if "model.embed_tokens.weight" in tensors:
            pre = "model."
        elif "embed_tokens.weight" in tensors:
            pre = ""
        else:
            raise WeightsError("missing tensor model.embed_tokens.weight (or embed_tokens.weight)")
        self.prefix = pre
        H, Hkv, d, D, I, V = (c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                              c.hidden_size, c.intermediate_size, c.vocab_size)

        def get(name, shape):
            if name not in tensors:
                raise WeightsError("missing tensor %s" % name)
            t = tensors[name]
            if tuple(t.shape) != tuple(shape):
                raise WeightsError("tensor %s has shape %s, expected %s from config.json"
                                   % (name, list(t.shape), list(shape)))
            return t

        self.embed = get(pre + "embed_tokens.weight", (V, D))
        self.norm = get(pre + "norm.weight", (D,))
        self.layers = []
        for l in range(c.num_hidden_layers):
            p = "%slayers.%d." % (pre, l)
            a = p + "self_attn."
            L = {
                "in_norm": get(p + "input_layernorm.weight", (D,)),
                "post_norm": get(p + "post_attention_layernorm.weight", (D,)),
                "wq": get(a + "q_proj.weight", (H * d, D)),
                "wk": get(a + "k_proj.weight", (Hkv * d, D)),
                "wv": get(a + "v_proj.weight", (Hkv * d, D)),
                "wo": get(a + "o_proj.weight", (D, H * d)),
                "lq1": get(a + "lambda_q1", (d,)),
                "lk1": get(a + "lambda_k1", (d,)),
                "lq2": get(a + "lambda_q2", (d,)),
                "lk2": get(a + "lambda_k2", (d,)),
                "gate": get(p + "mlp.gate_proj.weight", (I, D)),
                "up": get(p + "mlp.up_proj.weight", (I, D)),
                "down": get(p + "mlp.down_proj.weight", (D, I)),
            }
            if c.attention_bias:
                L["bq"] = get(a + "q_proj.bias", (H * d,))
                L["bk"] = get(a + "k_proj.bias", (Hkv * d,))
                L["bv"] = get(a + "v_proj.bias", (Hkv * d,))
                L["bo"] = get(a + "o_proj.bias", (D,))
            self.layers.append(L)
        if c.tie_word_embeddings or "lm_head.weight" not in tensors:
            self.lm_head = self.embed
            self.tied = True
        else:
            self.lm_head = get("lm_head.weight", (V, D))
            self.tied = False


# ============================================================================ model

def lambda_init(l):
    return 0.8 - 0.6 * math.exp(-0.3 * l)


class DiffLlamaRef:
    def __init__(self, model_dir, dtype=np.float64):
        self.config = load_config(model_dir)
        tensors, self.tensor_dtypes = load_tensors(model_dir)
        self.weights = Weights(self.config, tensors)
        self.dtype = np.dtype(dtype)
        dt = self.dtype
        cv = lambda a: np.asarray(a, dtype=dt)  # noqa: E731
        w = self.weights
        self.embed, self.norm, self.lm_head = cv(w.embed), cv(w.norm), cv(w.lm_head)
        self.layers = []
        self.lambdas = []
        for l, L in enumerate(w.layers):
            P = {k: cv(v) for k, v in L.items()}
            lam = (math.exp(float(np.dot(P["lq1"], P["lk1"])))
                   - math.exp(float(np.dot(P["lq2"], P["lk2"]))) + lambda_init(l))
            P["lambda"] = dt.type(lam)
            self.lambdas.append(float(P["lambda"]))
            self.layers.append(P)

    # ---------------------------------------------------------------- pieces
    def rmsnorm(self, x, w, eps):
        ms = np.mean(x * x, axis=-1, keepdims=True)
        return w * (x / np.sqrt(ms + eps))

    def act(self, x):
        if self.config.hidden_act == "silu":
            return x / (1.0 + np.exp(-x))
        erf = np.vectorize(math.erf, otypes=[np.float64])
        return (0.5 * x * (1.0 + erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(x.dtype)

    def attention(self, x, l, cos, sin):
        c, P = self.config, self.layers[l]
        T = x.shape[0]
        H, Hkv, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        q = x @ P["wq"].T
        k = x @ P["wk"].T
        v = x @ P["wv"].T
        if c.attention_bias:
            q, k, v = q + P["bq"], k + P["bk"], v + P["bv"]
        q = apply_rope(q.reshape(T, H, d), cos, sin)
        k = apply_rope(k.reshape(T, Hkv, d), cos, sin)
        v = v.reshape(T, Hkv, d)
        g = lambda h: h // (H // Hkv)  # noqa: E731
        scale = 1.0 / math.sqrt(d)
        causal = np.tril(np.ones((T, T), dtype=bool))

        def probs(h):
            s = (q[:, h, :] @ k[:, g(h), :].T) * self.dtype.type(scale)
            s = np.where(causal, s, -np.inf)
            s = s - s.max(axis=-1, keepdims=True)
            e = np.exp(s)
            return e / e.sum(axis=-1, keepdims=True)

        lam, li = P["lambda"], lambda_init(l)
        eps = c.rms_norm_eps
        out = np.empty((T, H * d), dtype=self.dtype)
        half = H // 2
        for i in range(half):
            vt = np.concatenate([v[:, g(i), :], v[:, g(i + half), :]], axis=-1)  # [S, 2d]
            o_pos = probs(i) @ vt
            o_neg = probs(i + half) @ vt
            D = o_pos - lam * o_neg
            Y = self.dtype.type(1.0 - li) * (D / np.sqrt(np.mean(D * D, axis=-1, keepdims=True)
                                                         + eps))
            out[:, i * 2 * d:(i + 1) * 2 * d] = Y
        o = out @ P["wo"].T
        if c.attention_bias:
            o = o + P["bo"]
        return o

    def mlp(self, x, l):
        P = self.layers[l]
        return (self.act(x @ P["gate"].T) * (x @ P["up"].T)) @ P["down"].T

    # ---------------------------------------------------------------- forward
    def forward(self, ids, return_hidden=False):
        c = self.config
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError("ids must be a non-empty 1-D list")
        if ids.min() < 0 or ids.max() >= c.vocab_size:
            raise ValueError("token id out of range [0, %d)" % c.vocab_size)
        T = ids.size
        cos, sin = rope_cos_sin(c, T, self.dtype)
        eps = c.rms_norm_eps
        x = self.embed[ids]
        hidden = [x]
        for l, P in enumerate(self.layers):
            x = x + self.attention(self.rmsnorm(x, P["in_norm"], eps), l, cos, sin)
            x = x + self.mlp(self.rmsnorm(x, P["post_norm"], eps), l)
            hidden.append(x)
        x = self.rmsnorm(x, self.norm, eps)
        logits = x @ self.lm_head.T
        if return_hidden:
            return logits, np.stack(hidden)
        return logits


def parse_ids(s):
    try:
        return [int(t) for t in s.replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise SystemExit("--ids must be comma-separated integers")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--model", required=True, help="checkpoint directory")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--ids", help="comma-separated token ids")
    g.add_argument("--ids-file", help="file holding comma-separated token ids")
    ap.add_argument("--out", required=True, help="output .npy (float32 [T, V])")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--hidden", help="also write residual stream after embedding and each layer "
                                     "(float32 [L+1, T, hidden])")
    a = ap.parse_args(argv)
    ids = parse_ids(a.ids if a.ids is not None else open(a.ids_file).read())
    try:
        m = DiffLlamaRef(a.model, dtype=np.float64 if a.dtype == "float64" else np.float32)
    except (ConfigError, WeightsError, st_io.SafetensorsError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    logits, hidden = m.forward(ids, return_hidden=True)
    np.save(a.out, logits.astype(np.float32))
    if a.hidden:
        np.save(a.hidden, hidden.astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
