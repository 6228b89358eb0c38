"""Reference numbers for nn's attention and positional-encoding tests, from Debian's python3-torch 1.13.

Writes, next to the shared golden cases and in their format (torch-oracle-v1 safetensors, read by
test/support/torch-module.ts):
  test/fixtures/mha_kdim_vdim.safetensors          separate q/k/v projection weights (kdim, vdim)
  test/fixtures/mha_nobias_unbatched.safetensors   bias=False, 2-D (unbatched) inputs, per-head weights
  test/fixtures/mha_mask3d_kpm.safetensors         3-D bool attn_mask [B*heads, L, S] with a key padding mask
and test/fixtures/positional.json: the 1-D sinusoidal table, MAE's 2-D sin-cos table (square and
non-square grids, with and without a cls row) and timm's resample_abs_pos_embed (bilinear,
antialias=False) up and down, with and without a prefix token.

Run: /usr/bin/python3 packages/nn/scripts/gen-attention-positional-fixtures.py
"""

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "test", "fixtures")
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def write_safetensors(path, tensors, metadata):
    items = sorted(tensors.items(), key=lambda kv: (0 if kv[1].dtype == torch.int64 else 1, kv[0]))
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in items:
        t = t.detach().contiguous()
        if t.dtype == torch.bool:
            t = t.to(torch.int64)
        dtype = "I64" if t.dtype == torch.int64 else "F32"
        data = t.numpy().astype("<i8" if dtype == "I64" else "<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def round_up(x):
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10**e >= x * (1 - 1e-12):
            return float(f"{m}e{e}")


def tol(err, maxabs):
    return {"rtol": 1e-4, "atol": round_up(max(10 * err, 1e-6 * maxabs, 1e-7))}


def mha_case(name, seed, config, inputs, bool_inputs, call, fwd):
    """fwd(m, inputs) -> (y, weights). Runs float32 and float64, writes the case."""
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(**config)
    for mod in m.modules():
        if hasattr(mod, "_reset_parameters"):
            mod._reset_parameters()
    with torch.no_grad():
        if m.in_proj_bias is not None:
            m.in_proj_bias.add_(0.1 * torch.randn_like(m.in_proj_bias))
            m.out_proj.bias.add_(0.1 * torch.randn_like(m.out_proj.bias))
    ins = {k: v() for k, v in inputs.items()}
    g = torch.Generator().manual_seed(seed + 7919)
    params = {k: v.detach().clone() for k, v in m.state_dict().items()}
    grad_inputs = [k for k in ins if k not in bool_inputs]

    def run(dtype):
        mm = m.to(dtype)
        x = {k: (v.to(dtype).requires_grad_() if k in grad_inputs else v) for k, v in ins.items()}
        mm.zero_grad()
        y, w = fwd(mm, x)
        return mm, x, y, w

    m64, x64, y64, w64 = run(torch.float64)
    probe = torch.randn(y64.shape, generator=g)
    probe_w = torch.randn(w64.shape, generator=g)
    (y64 * probe.double()).sum().add((w64 * probe_w.double()).sum()).backward()
    g64 = {**{f"grad.input.{k}": x64[k].grad.clone() for k in grad_inputs},
           **{f"grad.param.{k}": p.grad.clone() for k, p in m64.named_parameters()}}
    m32, x32, y32, w32 = run(torch.float32)
    loss = (y32 * probe).sum() + (w32 * probe_w).sum()
    loss.backward()
    g32 = {**{f"grad.input.{k}": x32[k].grad for k in grad_inputs},
           **{f"grad.param.{k}": p.grad for k, p in m32.named_parameters()}}
    fe = max((y32.double() - y64).abs().max().item(), (w32.double() - w64).abs().max().item())
    fmax = max(y64.abs().max().item(), w64.abs().max().item())
    ge = max((g32[k].double() - g64[k]).abs().max().item() for k in g32)
    gmax = max(g64[k].abs().max().item() for k in g64)
    tensors = {f"input.{k}": v for k, v in ins.items()}
    tensors.update({"input.probe": probe, "input.probe.attn_weights": probe_w})
    tensors.update({f"param.{k}": v for k, v in params.items()})
    tensors.update({"output.y": y32, "output.attn_weights": w32})
    tensors.update(g32)
    meta = {
        "format": "torch-oracle-v1", "case": name, "set": "nn-local", "kind": "module",
        "description": f"nn.MultiheadAttention {name}", "call": call, "config": json.dumps(config),
        "mode": "eval", "seed": str(seed), "torch": torch.__version__,
        "loss": "sum(y*probe) + sum(attn_weights*probe.attn_weights)",
        "loss_terms": json.dumps([["output.y", "input.probe"], ["output.attn_weights", "input.probe.attn_weights"]]),
        "loss_value": repr(loss.item()), "grad_inputs": json.dumps(grad_inputs),
        "bool_inputs": json.dumps(bool_inputs),
        "tolerance": json.dumps({"forward": tol(fe, fmax), "grad": tol(ge, gmax)}),
        "fp32_vs_fp64": json.dumps({"forward": fe, "grad": ge}),
        "init": "reset_parameters, then in_proj_bias/out_proj.bias += 0.1*randn",
    }
    write_safetensors(os.path.join(OUT, f"{name}.safetensors"), tensors, meta)


def kpm():
    k = torch.zeros(2, 9, dtype=torch.bool)
    k[0, 6:] = True
    k[1, 2] = True
    return k


def mask3d():
    torch.manual_seed(99)
    m = torch.rand(2 * 4, 7, 9) < 0.3
    m[:, :, 0] = False  # every row keeps key 0
    return m


mha_case("mha_kdim_vdim", 501, {"embed_dim": 32, "num_heads": 4, "kdim": 24, "vdim": 20, "batch_first": True},
         {"query": lambda: torch.randn(2, 7, 32), "key": lambda: torch.randn(2, 9, 24), "value": lambda: torch.randn(2, 9, 20)},
         [], "y, attn_weights = m(query, key, value, need_weights=True)",
         lambda m, x: m(x["query"], x["key"], x["value"], need_weights=True))
mha_case("mha_nobias_unbatched", 502, {"embed_dim": 32, "num_heads": 4, "bias": False},
         {"query": lambda: torch.randn(7, 32), "key": lambda: torch.randn(9, 32)},
         [], "y, attn_weights = m(query, key, key, average_attn_weights=False)  # 2-D inputs, value=key",
         lambda m, x: m(x["query"], x["key"], x["key"], average_attn_weights=False))
mha_case("mha_mask3d_kpm", 503, {"embed_dim": 32, "num_heads": 4, "batch_first": True},
         {"query": lambda: torch.randn(2, 7, 32), "key": lambda: torch.randn(2, 9, 32), "value": lambda: torch.randn(2, 9, 32),
          "attn_mask": mask3d, "key_padding_mask": kpm},
         ["attn_mask", "key_padding_mask"],
         "y, attn_weights = m(query, key, value, attn_mask=attn_mask.bool(), key_padding_mask=key_padding_mask.bool(), average_attn_weights=False)",
         lambda m, x: m(x["query"], x["key"], x["value"], attn_mask=x["attn_mask"], key_padding_mask=x["key_padding_mask"], average_attn_weights=False))


# ---- positional encodings --------------------------------------------------------------------

def sinusoidal_1d(n, d):
    """Vaswani et al. in float64: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    pos = np.arange(n, dtype=np.float64)[:, None]
    i2 = np.arange(0, d, 2, dtype=np.float64)
    ang = pos / np.power(10000.0, i2 / d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(ang)
    pe[:, 1::2] = np.cos(ang[:, : d // 2])
    return pe


def mae_1d(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def mae_2d(embed_dim, gh, gw, cls_token=False):
    """MAE's get_2d_sincos_pos_embed, generalised to an [gh, gw] grid (the same for gh == gw)."""
    grid = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))  # w first
    grid = np.stack(grid, axis=0).reshape([2, 1, gh, gw])
    emb = np.concatenate([mae_1d(embed_dim // 2, grid[0]), mae_1d(embed_dim // 2, grid[1])], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros([1, embed_dim]), emb], axis=0)
    return emb


def resample(posemb, new_size, old_size, num_prefix_tokens):
    """timm's resample_abs_pos_embed with interpolation='bilinear', antialias=False."""
    prefix, pe = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    d = pe.shape[-1]
    pe = pe.reshape(1, old_size[0], old_size[1], -1).permute(0, 3, 1, 2)
    pe = F.interpolate(pe, size=new_size, mode="bilinear", antialias=False, align_corners=False)
    pe = pe.permute(0, 2, 3, 1).reshape(1, -1, d)
    return torch.cat([prefix, pe], dim=1)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


torch.manual_seed(504)
src_cls = torch.randn(1, 1 + 3 * 4, 8)
src_plain = torch.randn(1, 4 * 4, 6)
pos = {
    "sinusoidal1d": [{"n": 50, "d": 16, "table": flat(sinusoidal_1d(50, 16))},
                     {"n": 7, "d": 7, "table": flat(sinusoidal_1d(7, 7))}],
    "sincos2d": [
        {"grid": [4, 4], "d": 16, "clsToken": False, "table": flat(mae_2d(16, 4, 4))},
        {"grid": [3, 5], "d": 8, "clsToken": True, "table": flat(mae_2d(8, 3, 5, True))},
    ],
    "resample": [
        {"from": [3, 4], "to": [5, 6], "numPrefixTokens": 1, "dim": 8, "input": flat(src_cls),
         "output": flat(resample(src_cls, (5, 6), (3, 4), 1))},
        {"from": [4, 4], "to": [2, 3], "numPrefixTokens": 0, "dim": 6, "input": flat(src_plain),
         "output": flat(resample(src_plain, (2, 3), (4, 4), 0))},
    ],
}
with open(os.path.join(OUT, "positional.json"), "w") as f:
    json.dump(pos, f)
print("wrote mha_kdim_vdim, mha_nobias_unbatched, mha_mask3d_kpm, positional.json")
