"""PyTorch DiffLlama (Hugging Face `diffllama` semantics, shared/spec/diffllama.md) for training
the dlvk default model, plus config / safetensors import and export.

Parameter names are exactly the checkpoint names (spec section 2) minus the `model.` prefix, so
export is a rename-free dump of state_dict().
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))
import st_io  # noqa: E402


def lambda_init_fn(l):
    return 0.8 - 0.6 * math.exp(-0.3 * l)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return self.weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_cos_sin(d, theta, T, start=0, device=None):
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))   # f32, as HF
    pos = torch.arange(start, start + T, dtype=torch.float32)
    ang = torch.outer(pos, inv)
    emb = torch.cat([ang, ang], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class DiffAttention(nn.Module):
    def __init__(self, c, layer_idx):
        super().__init__()
        self.H, self.Hkv, self.d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        hid, d = c["hidden_size"], self.d
        self.q_proj = nn.Linear(hid, self.H * d, bias=False)
        self.k_proj = nn.Linear(hid, self.Hkv * d, bias=False)
        self.v_proj = nn.Linear(hid, self.Hkv * d, bias=False)
        self.o_proj = nn.Linear(self.H * d, hid, bias=False)
        self.lambda_init = lambda_init_fn(layer_idx)
        self.lambda_q1 = nn.Parameter(torch.zeros(d))
        self.lambda_k1 = nn.Parameter(torch.zeros(d))
        self.lambda_q2 = nn.Parameter(torch.zeros(d))
        self.lambda_k2 = nn.Parameter(torch.zeros(d))
        self.eps = c["rms_norm_eps"]

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        H, Hkv, d = self.H, self.Hkv, self.d
        q = self.q_proj(x).view(B, T, H, d).transpose(1, 2)           # [B,H,T,d]
        k = self.k_proj(x).view(B, T, Hkv, d).transpose(1, 2)         # [B,Hkv,T,d]
        v = self.v_proj(x).view(B, T, Hkv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep, half = H // Hkv, H // 2
        q = q * (1.0 / math.sqrt(d))
        mask = torch.full((T, T), float("-inf")).triu(1)
        if Hkv % 2 == 0:
            # fast path without copying K/V per query head (g(h) = h // rep): the rep query
            # heads of one KV head are consecutive, so fold them into the row dimension.
            s = q.reshape(B, Hkv, rep * T, d) @ k.transpose(-1, -2)    # [B,Hkv,rep*T,T]
            s = s.view(B, H, T, T) + mask
            p = torch.softmax(s, dim=-1)
            # pair i (< H/2) reads V~ = [v_g(i) | v_g(i+H/2)], and g(i+H/2) = g(i) + Hkv/2
            vt = torch.cat([v[:, :Hkv // 2], v[:, Hkv // 2:]], dim=-1)  # [B,Hkv/2,T,2d]
            o = p.view(B, 2, Hkv // 2, rep * T, T) @ vt.unsqueeze(1)   # [B,2,Hkv/2,rep*T,2d]
            o = o.view(B, 2, half, T, 2 * d)
            o_pos, o_neg = o[:, 0], o[:, 1]
        else:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            p = torch.softmax(q @ k.transpose(-1, -2) + mask, dim=-1)  # [B,H,T,T]
            vt = torch.cat([v[:, :half], v[:, half:]], dim=-1)        # [B,H/2,T,2d]: V~_i
            o = p.view(B, 2, half, T, T) @ vt.unsqueeze(1)
            o_pos, o_neg = o[:, 0], o[:, 1]
        lam = (torch.exp(torch.dot(self.lambda_q1, self.lambda_k1))
               - torch.exp(torch.dot(self.lambda_q2, self.lambda_k2)) + self.lambda_init)
        D = o_pos - lam * o_neg
        Y = D * torch.rsqrt(D.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 - self.lambda_init)
        Y = Y.transpose(1, 2).reshape(B, T, H * d)                    # pairs in order, 2d each
        return self.o_proj(Y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], c["hidden_size"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c, l):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = DiffAttention(c, l)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class DiffLlama(nn.Module):
    """DiffLlamaForCausalLM with tied embeddings (state_dict names = checkpoint names minus
    `model.`)."""

    def __init__(self, c):
        super().__init__()
        assert c["num_attention_heads"] % 2 == 0
        assert c["num_attention_heads"] % c["num_key_value_heads"] == 0
        assert c.get("tie_word_embeddings", True)
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c, l) for l in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def init_weights(self, seed, std=0.02, lambda_std=0.1):
        g = torch.Generator().manual_seed(seed)
        L = self.c["num_hidden_layers"]
        for name, p in self.named_parameters():
            with torch.no_grad():
                if name.endswith("layernorm.weight") or name == "norm.weight":
                    p.fill_(1.0)
                elif ".lambda_" in name:
                    p.normal_(0.0, lambda_std, generator=g)          # as HF: N(0, lambda_std_dev)
                elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                    p.normal_(0.0, std / math.sqrt(2 * L), generator=g)   # GPT-2 residual scaling
                else:
                    p.normal_(0.0, std, generator=g)

    def forward(self, ids, start=0):
        T = ids.shape[1]
        cos, sin = rope_cos_sin(self.c["head_dim"], self.c["rope_theta"], T, start)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        x = self.norm(x)
        return x @ self.embed_tokens.weight.t()

    def lambdas(self):
        out = []
        for layer in self.layers:
            a = layer.self_attn
            out.append(float(torch.exp(torch.dot(a.lambda_q1, a.lambda_k1))
                             - torch.exp(torch.dot(a.lambda_q2, a.lambda_k2)) + a.lambda_init))
        return out


def make_config(vocab_size, hidden=256, layers=6, heads=8, kv_heads=4, head_dim=32,
                intermediate=704, ctx=256, bos=None, eos=None, rope_theta=10000.0):
    return {
        "architectures": ["DiffLlamaForCausalLM"],
        "model_type": "diffllama",
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": ctx,
        "rms_norm_eps": 1e-5,
        "rope_theta": rope_theta,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "lambda_std_dev": 0.1,
        "initializer_range": 0.02,
        "tie_word_embeddings": True,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "torch_dtype": "float16",
    }


def export(model, out_dir, dtype="F16"):
    """config.json, generation_config.json, model.safetensors (tied: no lm_head.weight)."""
    os.makedirs(out_dir, exist_ok=True)
    c = model.c
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": c["bos_token_id"], "eos_token_id": c["eos_token_id"],
                   "do_sample": True, "temperature": 0.8, "top_k": 40, "top_p": 0.95,
                   "max_length": c["max_position_embeddings"]}, f, indent=2)
        f.write("\n")
    tensors = {"model." + k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    st_io.save_file(os.path.join(out_dir, "model.safetensors"), tensors, dtype=dtype,
                    metadata={"format": "pt"})


def load(model_dir):
    """models/default -> DiffLlama in f32 holding exactly the stored (f16-rounded) weights."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    m = DiffLlama(c)
    tensors, _ = st_io.load_file(os.path.join(model_dir, "model.safetensors"))
    sd = {k[len("model."):]: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}
    m.load_state_dict(sd, strict=True)
    m.eval()
    return m
