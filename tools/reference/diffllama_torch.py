#!/usr/bin/python3
"""Second, independently written DiffLlama forward in PyTorch (float64), laid out like Hugging
Face's modeling_diffllama.py (batched [B, heads, T, d] tensors, repeat_kv, chunk/cat/repeat of the
values, chunk of the attention output). It has its own safetensors reader and config handling and
shares no code with diffllama_ref.py; it exists only to cross-check that implementation
(selftest.py).

`mutation` deliberately introduces one classic mistake, to show the golden data catches it:
    interleaved_pairs  pair heads (2i, 2i+1) instead of (i, i+H/2)
    vconcat_swapped    value of pair i = concat(v_g(i+H/2), v_g(i)) instead of (v_g(i), v_g(i+H/2))
    gqa_modulo         query head h reads KV head h % Hkv instead of h // (H/Hkv)
    eps_1e6            rms_norm_eps default 1e-6 (Llama's) instead of 1e-5
    no_out_scale       drop the (1 - lambda_init) factor
    lambda_init_1based lambda_init evaluated at l+1
    rope_interleaved   GPT-J style rotation of pairs (2j, 2j+1) instead of rotate-half
    rope_no_scaling    ignore linear/llama3 rope scaling
    angle_f64          RoPE angle pos*inv_freq formed in float64 instead of float32 (tiny effect)

Usage: /usr/bin/python3 tools/reference/diffllama_torch.py --model DIR --ids 1,2,3 --out x.npy
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

MUTATIONS = ("interleaved_pairs", "vconcat_swapped", "gqa_modulo", "eps_1e6", "no_out_scale",
             "lambda_init_1based", "rope_interleaved", "rope_no_scaling", "angle_f64")

_DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = bytearray(blob[base + b:base + e])
        t = torch.frombuffer(raw, dtype=_DT[info["dtype"]]) if raw else \
            torch.empty(0, dtype=_DT[info["dtype"]])
        out[name] = t.reshape(info["shape"]).to(torch.float64)
    return out


def read_checkpoint(d):
    if os.path.exists(os.path.join(d, "model.safetensors")):
        sd = read_safetensors(os.path.join(d, "model.safetensors"))
    else:
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        sd = {}
        for fn in files:
            sd.update(read_safetensors(os.path.join(d, fn)))
    # normalize to "bare" DiffLlamaModel names + lm_head
    return {(k[len("model."):] if k.startswith("model.") else k): v for k, v in sd.items()}


class Cfg:
    def __init__(self, d):
        self.__dict__.update(d)
        self._raw = d
        g = d.get
        self.num_key_value_heads = g("num_key_value_heads") or d["num_attention_heads"]
        self.head_dim = g("head_dim") or d["hidden_size"] // d["num_attention_heads"]
        self.rms_norm_eps = g("rms_norm_eps", 1e-5)
        self.hidden_act = g("hidden_act", "silu")
        self.attention_bias = g("attention_bias", False)
        self.tie_word_embeddings = g("tie_word_embeddings", False)
        self.max_position_embeddings = g("max_position_embeddings", 2048)
        # v5: rope_parameters; v4: rope_theta + rope_scaling
        rp = dict(g("rope_parameters") or g("rope_scaling") or {})
        if "type" in rp and "rope_type" not in rp:
            rp["rope_type"] = rp["type"]
        rp.setdefault("rope_type", "default")
        rp.setdefault("rope_theta", g("rope_theta", 10000.0))
        self.rope = rp


# ----------------------------------------------------------------------------- rope (HF style)

def compute_default_rope(cfg):
    base, dim = cfg.rope["rope_theta"], cfg.head_dim
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float) / dim))


def compute_rope_inv_freq(cfg, mutation=None):
    rp, inv_freq = cfg.rope, compute_default_rope(cfg)
    kind = rp["rope_type"]
    if kind == "default" or mutation == "rope_no_scaling":
        return inv_freq
    if kind == "linear":
        return inv_freq / rp["factor"]
    if kind == "llama3":
        factor = rp["factor"]
        low_freq_factor = rp["low_freq_factor"]
        high_freq_factor = rp["high_freq_factor"]
        old_context_len = rp.get("original_max_position_embeddings") or \
            cfg.max_position_embeddings
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / \
            (high_freq_factor - low_freq_factor)
        smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_freq_llama)
    raise ValueError("unsupported rope_type %r" % kind)


def rotary(cfg, position_ids, mutation=None):
    inv_freq = compute_rope_inv_freq(cfg, mutation)  # float32
    inv_e = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
    pos_e = position_ids[:, None, :].float()
    if mutation == "angle_f64":
        freqs = (inv_e.double() @ position_ids[:, None, :].double()).transpose(1, 2)
    else:
        freqs = (inv_e @ pos_e).transpose(1, 2)  # float32 angles, like HF
    emb = torch.cat((freqs, freqs), dim=-1).double()
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_interleaved(x):  # GPT-J layout (wrong for DiffLlama)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def apply_rotary_pos_emb(q, k, cos, sin, mutation=None):
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    if mutation == "rope_interleaved":
        d = cos.shape[-1]
        cos = cos[..., : d // 2].repeat_interleave(2, dim=-1)
        sin = sin[..., : d // 2].repeat_interleave(2, dim=-1)
        return q * cos + rotate_interleaved(q) * sin, k * cos + rotate_interleaved(k) * sin
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(h, n_rep):
    b, nkv, s, d = h.shape
    if n_rep == 1:
        return h
    return h[:, :, None, :, :].expand(b, nkv, n_rep, s, d).reshape(b, nkv * n_rep, s, d)


def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(var + eps)
    return x if weight is None else weight * x


def linear(x, sd, name, bias):
    y = x @ sd[name + ".weight"].T
    if bias:
        y = y + sd[name + ".bias"]
    return y


# ----------------------------------------------------------------------------- model

class DiffLlamaTorch:
    def __init__(self, model_dir, mutation=None):
        assert mutation is None or mutation in MUTATIONS, mutation
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = Cfg(json.load(f))
        self.sd = read_checkpoint(model_dir)
        self.mutation = mutation
        if self.cfg.tie_word_embeddings or "lm_head.weight" not in self.sd:
            self.sd["lm_head.weight"] = self.sd["embed_tokens.weight"]
        self.eps = self.cfg.rms_norm_eps
        if mutation == "eps_1e6" and "rms_norm_eps" not in self.cfg._raw:
            self.eps = 1e-6

    def lambda_init(self, layer_idx):
        if self.mutation == "lambda_init_1based":
            layer_idx += 1
        return 0.8 - 0.6 * math.exp(-0.3 * layer_idx)

    def attn(self, hs, layer_idx, cos, sin, mask):
        cfg, sd, mut = self.cfg, self.sd, self.mutation
        p = "layers.%d.self_attn." % layer_idx
        bsz, q_len, _ = hs.shape
        H, Hkv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        groups = H // Hkv
        q = linear(hs, sd, p + "q_proj", cfg.attention_bias)
        k = linear(hs, sd, p + "k_proj", cfg.attention_bias)
        v = linear(hs, sd, p + "v_proj", cfg.attention_bias)
        q = q.view(bsz, q_len, -1, hd).transpose(1, 2)
        k = k.view(bsz, q_len, -1, hd).transpose(1, 2)
        v = v.view(bsz, q_len, -1, hd).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin, mut)
        if mut == "gqa_modulo":
            k, v = k.repeat(1, groups, 1, 1), v.repeat(1, groups, 1, 1)
        else:
            k, v = repeat_kv(k, groups), repeat_kv(v, groups)
        if mut == "interleaved_pairs":
            perm = list(range(0, H, 2)) + list(range(1, H, 2))
            q, k, v = q[:, perm], k[:, perm], v[:, perm]
        v1, v2 = torch.chunk(v, 2, dim=1)
        v = torch.cat((v2, v1) if mut == "vconcat_swapped" else (v1, v2), dim=-1)
        v = v.repeat(1, 2, 1, 1)  # [B, H, S, 2d]
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd)
        w = w.masked_fill(mask, float("-inf"))
        w = torch.softmax(w, dim=-1)
        lam1 = torch.exp(torch.sum(sd[p + "lambda_q1"] * sd[p + "lambda_k1"], dim=-1))
        lam2 = torch.exp(torch.sum(sd[p + "lambda_q2"] * sd[p + "lambda_k2"], dim=-1))
        li = self.lambda_init(layer_idx)
        lambda_full = lam1 - lam2 + li
        out = torch.matmul(w, v)
        o1, o2 = torch.chunk(out, 2, dim=1)
        out = o1 - lambda_full * o2
        out = rms_norm(out, None, self.eps)  # groupnorm: RMSNorm(2d), no weight
        if mut != "no_out_scale":
            out = (1 - li) * out
        out = out.transpose(1, 2).reshape(bsz, q_len, -1)
        return linear(out, sd, p + "o_proj", cfg.attention_bias)

    def mlp(self, x, layer_idx):
        sd = self.sd
        p = "layers.%d.mlp." % layer_idx
        g = x @ sd[p + "gate_proj.weight"].T
        if self.cfg.hidden_act == "silu":
            g = torch.nn.functional.silu(g)
        elif self.cfg.hidden_act == "gelu":
            g = torch.nn.functional.gelu(g)
        else:
            raise ValueError(self.cfg.hidden_act)
        return (g * (x @ sd[p + "up_proj.weight"].T)) @ sd[p + "down_proj.weight"].T

    @torch.no_grad()
    def forward(self, ids):
        sd = self.sd
        input_ids = torch.tensor([list(ids)], dtype=torch.int64)
        T = input_ids.shape[1]
        pos = torch.arange(T)[None, :]
        cos, sin = rotary(self.cfg, pos, self.mutation)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)[None, None]
        h = torch.nn.functional.embedding(input_ids, sd["embed_tokens.weight"])
        for i in range(self.cfg.num_hidden_layers):
            p = "layers.%d." % i
            r = h
            h = rms_norm(h, sd[p + "input_layernorm.weight"], self.eps)
            h = r + self.attn(h, i, cos, sin, mask)
            r = h
            h = rms_norm(h, sd[p + "post_attention_layernorm.weight"], self.eps)
            h = r + self.mlp(h, i)
        h = rms_norm(h, sd["norm.weight"], self.eps)
        return (h @ sd["lm_head.weight"].T)[0].numpy()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mutation", choices=MUTATIONS)
    a = ap.parse_args(argv)
    m = DiffLlamaTorch(a.model, a.mutation)
    np.save(a.out, m.forward([int(t) for t in a.ids.split(",")]).astype(np.float32))


if __name__ == "__main__":
    sys.exit(main())
