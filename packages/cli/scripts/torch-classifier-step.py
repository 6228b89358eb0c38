"""PyTorch CPU step times of the CLI's Fashion-MNIST classifiers, to set beside `tessera bench`.

  minivit-quick: MiniViT preset `quick` (1x28x28, patch 7, D 128, 6 pre-norm ReLU layers, 4 heads,
                 MLP 512), the README's main job, batch 64.
  vit-p7-d128:   VisionTransformer preset `p7-d128` (timm layout: patch 7, D 128, 6 pre-norm GELU
                 blocks, 4 heads, MLP 512, LayerNorm eps 1e-6), the full-set run, batch 128.

A step is forward, cross entropy, backward and an AdamW step, on random inputs of the right shape.
Warm-up steps, then the median of timed steps, on 2 threads. Prints JSON with the epoch time each
step time implies (steps per epoch x median step: 156 on the shipped subset at batch 64, 468 on the
full set at batch 128).

  env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
      /usr/bin/python3 packages/cli/scripts/torch-classifier-step.py [--steps 30]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "scripts"))
torch_models = __import__("torch-models")


class MiniViTPreNorm(torch_models.MiniViT):
    def __init__(self, patch, dim, depth, heads, mlp):
        super().__init__(img=28, chans=1, patch=patch, dim=dim, depth=depth, heads=heads, mlp=mlp)
        layer = nn.TransformerEncoderLayer(
            dim, heads, mlp, dropout=0.0, activation="relu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, depth)


MODELS = {
    "minivit-quick": (lambda: MiniViTPreNorm(7, 128, 6, 4, 512), 64, 156),
    "vit-p7-d128": (
        lambda: torch_models.ViT(img=28, chans=1, patch=7, dim=128, depth=6, heads=4, mlp=512, classes=10),
        128,
        468,
    ),
}


def step_times(build, batch, steps, warmup=5):
    torch.manual_seed(0)
    model = build()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for name, (build, batch, per_epoch) in MODELS.items():
        t = step_times(build, batch, args.steps)
        med = statistics.median(t)
        results.append(
            {
                "model": name,
                "batch": batch,
                "median_step_ms": round(med * 1e3, 2),
                "images_per_s": round(batch / med, 1),
                "steps_per_epoch": per_epoch,
                "epoch_s": round(per_epoch * med, 1),
            }
        )
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": args.threads,
                "machine": platform.processor() or platform.machine(),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
