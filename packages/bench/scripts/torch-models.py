"""PyTorch CPU timings of the bench's whole-model workloads (issue 6), for comparison with `pnpm bench`.

  miniVitStep:  MiniViT (1x28x28, patch 4, D 128, 6 post-norm ReLU layers, 4 heads, MLP 512, dropout 0),
                batch 128: forward, cross entropy, backward, AdamW step.
  vitInference: ViT-B/16 in timm's layout (Conv2d patch 16, cls, pos, 12 pre-norm blocks with a fused
                qkv Linear and explicit softmax attention, GELU MLP 3072, LayerNorm eps 1e-6, head 1000),
                batch 8, forward under no_grad.

Each is timed on 1 and 2 threads: warm-up runs, then the median of timed runs. Prints JSON.
Run with OpenBLAS-OpenMP and OPENBLAS_CORETYPE unset (see DESIGN.md section 7):
  env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
      /usr/bin/python3 packages/bench/scripts/torch-models.py [--runs-minivit 10] [--runs-vit 5]
"""

import argparse
import json
import platform
import statistics
import time

import torch
from torch import nn


class MiniViT(nn.Module):
    def __init__(self, img=28, chans=1, patch=4, dim=128, depth=6, heads=4, mlp=512, classes=10):
        super().__init__()
        n = (img // patch) ** 2
        self.proj = nn.Conv2d(chans, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="relu", batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, depth)
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))

    def forward(self, x):
        t = self.proj(x).flatten(2).transpose(1, 2)  # [B,N,D]
        t = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], 1) + self.pos_embed
        return self.mlp_head(self.transformer(t)[:, 0])


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) * self.hd**-0.5).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, img=224, chans=3, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=1000):
        super().__init__()
        n = (img // patch) ** 2
        self.proj = nn.Conv2d(chans, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        t = self.proj(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(t))[:, 0])


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "runs": runs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-minivit", type=int, default=10)
    ap.add_argument("--runs-vit", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    torch.manual_seed(0)

    mini = MiniViT()
    opt = torch.optim.AdamW(mini.parameters(), lr=1e-3)
    x_mini = torch.randn(128, 1, 28, 28)
    y_mini = torch.randint(0, 10, (128,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(mini(x_mini), y_mini)
        loss.backward()
        opt.step()

    vit = ViT().eval()
    x_vit = torch.randn(8, 3, 224, 224)

    def infer():
        with torch.no_grad():
            vit(x_vit)

    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        results.append({"workload": "miniVitStep", "batch": 128, "threads": threads, **timed(step, 2, args.runs_minivit)})
        results.append({"workload": "vitInference", "batch": 8, "threads": threads, **timed(infer, 1, args.runs_vit)})
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "machine": platform.processor() or platform.machine(),
                "minivit_params": sum(p.numel() for p in mini.parameters()),
                "vit_params": sum(p.numel() for p in vit.parameters()),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
