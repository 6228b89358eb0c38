#!/usr/bin/env python3
"""Writes test/fixtures/timm_vit_tiny.safetensors: a tiny ViT with timm's parameter names.

timm is not installed, so the model below is a minimal copy of timm's VisionTransformer
(class-token pooling, pre-norm blocks with fused qkv, LayerNorm eps 1e-6, exact GELU). The file is a
timm-format checkpoint (its tensors are the state dict, nothing else), written by hand with json +
struct because the `safetensors` package is not installed either. The test vectors ride in the
`__metadata__` (JSON float lists, exact float32 values), so a loader sees only the weights:

  test_x            [2, 3, 16, 24] input at the checkpoint's size (grid 2×3)
  test_logits       the torch forward of test_x                                [2, 5]
  test_features     forward_features(test_x) (after the final norm)            [2, 7, 32]
  test_x_large      [2, 3, 24, 32] input at a larger size (grid 3×4)
  test_logits_large torch forward of test_x_large with pos_embed resampled bilinearly
                    (align_corners=False, no antialias: timm's resample_abs_pos_embed with
                    interpolation='bilinear', antialias=False)
  tolerance         {"rtol", "atol"}: atol = max(10 × the float32-vs-float64 error, 1e-6 × max|value|,
                    1e-7), rounded up to 1/2/5·10^k (the shared fixtures' rule)

Run: /usr/bin/python3 packages/models/scripts/make-timm-vit.py   (torch 1.13, CPU)
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

IMG = (16, 24)
PATCH = 8
IN_CH = 3
DIM = 32
DEPTH = 2
HEADS = 4
MLP = 128
CLASSES = 5
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "timm_vit_tiny.safetensors")


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(IN_CH, DIM, kernel_size=PATCH, stride=PATCH)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        b, n, c = x.shape
        hd = c // HEADS
        qkv = self.qkv(x).reshape(b, n, 3, HEADS, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) / math.sqrt(hd)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(DIM, MLP)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(MLP, DIM)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.mlp = Mlp()

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyTimmViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.grid = (IMG[0] // PATCH, IMG[1] // PATCH)
        self.cls_token = nn.Parameter(torch.randn(1, 1, DIM) * 0.5)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + self.grid[0] * self.grid[1], DIM) * 0.5)
        self.patch_embed = PatchEmbed()
        self.blocks = nn.Sequential(*[Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)
        self.head = nn.Linear(DIM, CLASSES)

    def forward_features(self, x, grid=None):
        x = self.patch_embed(x)
        pos = self.pos_embed
        if grid is not None and tuple(grid) != self.grid:
            d = pos.shape[-1]
            g = pos[:, 1:].reshape(1, self.grid[0], self.grid[1], d).permute(0, 3, 1, 2)
            g = F.interpolate(g, size=tuple(grid), mode="bilinear", align_corners=False)
            pos = torch.cat([pos[:, :1], g.permute(0, 2, 3, 1).reshape(1, -1, d)], dim=1)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + pos
        return self.norm(self.blocks(x))

    def forward(self, x, grid=None):
        return self.head(self.forward_features(x, grid)[:, 0])


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = struct.pack(f"<{t.numel()}f", *t.view(-1).tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def floats(t):
    return json.dumps([float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()])


def nice_up(x):
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10**e >= x:
            return float(f"{m}e{e}")
    return float(f"1e{e + 1}")


def main():
    torch.manual_seed(20240611)
    torch.set_num_threads(1)
    m = TinyTimmViT().eval()
    with torch.no_grad():  # perturb LayerNorm and bias constants so every parameter is tested
        for name, p in m.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, IN_CH, *IMG)
    x_large = torch.randn(2, IN_CH, 24, 32)
    grid_large = (24 // PATCH, 32 // PATCH)
    m64 = TinyTimmViT().double().eval()
    m64.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    with torch.no_grad():
        logits, feats, logits_large = m(x), m.forward_features(x), m(x_large, grid_large)
        r = (m64(x.double()), m64.forward_features(x.double()), m64(x_large.double(), grid_large))
    err = max((a.double() - b).abs().max().item() for a, b in zip((logits, feats, logits_large), r))
    ref = max(b.abs().max().item() for b in r)
    atol = nice_up(max(10 * err, 1e-6 * ref, 1e-7))
    meta = {
        "format": "pt",
        "description": "tiny timm-format ViT (timm names, class-token pooling, LN eps 1e-6) for loadPretrained tests",
        "generator": "packages/models/scripts/make-timm-vit.py",
        "torch": torch.__version__,
        "config": json.dumps({"img_size": list(IMG), "patch_size": PATCH, "in_chans": IN_CH, "embed_dim": DIM,
                              "depth": DEPTH, "num_heads": HEADS, "mlp_dim": MLP, "num_classes": CLASSES}),
        "img_size": json.dumps(list(IMG)),
        "patch_size": str(PATCH),
        "test_x": floats(x),
        "test_logits": floats(logits),
        "test_features": floats(feats),
        "test_x_large": floats(x_large),
        "test_logits_large": floats(logits_large),
        "fp32_vs_fp64": json.dumps({"max_abs_err": err, "max_abs_ref": ref}),
        "tolerance": json.dumps({"rtol": 1e-4, "atol": atol}),
    }
    write_safetensors(OUT, m.state_dict(), meta)
    print(f"wrote {OUT}: {sum(p.numel() for p in m.parameters())} parameters, atol {atol} (err {err:.3g})")


if __name__ == "__main__":
    main()
