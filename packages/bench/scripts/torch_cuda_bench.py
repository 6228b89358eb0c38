#!/usr/bin/env python3
"""PyTorch on the same GPU as tessera's CUDA benchmark (issue 8): the cases of
packages/bench/src/cuda/workloads.ts, with the same ids, so cuda_compare.py joins the two JSON files.

  gemm       torch.matmul [n,n]x[n,n] (n 4096): float32 (allow_tf32 False), float32 with TF32,
             float16, bfloat16
  attention  F.scaled_dot_product_attention, q/k/v [B,H,S,D] (B 8, H 12, S 1024 and 4096, D 64),
             forward and forward + backward (torch.autograd.grad with a random output gradient),
             float32 and bfloat16
  vit        a ViT-B/16 training step, batch 64, built from plain torch.nn in timm's layout
             (conv patch embedding, cls token, learned positions, 12 pre-norm blocks with fused qkv,
             F.scaled_dot_product_attention, exact GELU, LayerNorm eps 1e-6, head): forward, cross
             entropy, backward, AdamW (torch's default implementation); eager float32 (TF32 off for
             matmul and cuDNN, as tessera's default) and bfloat16 autocast. --timm uses
             timm.create_model('vit_base_patch16_224') instead (full size only).

Timing: CUDA events around a loop of iterations (warm-up first; one calibration run picks how many
iterations a sample holds, so a sample lasts at least --min-sample-ms); the median per iteration of
--repeats samples is reported. FLOPs are counted as tessera counts them. Run by scripts/gpu/run.sh:

  python3 packages/bench/scripts/torch_cuda_bench.py --out $OUT/torch.json [--small] [--only gemm,vit]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPS = ("gemm", "attention", "vit")

if hasattr(F, "scaled_dot_product_attention"):
    sdpa = F.scaled_dot_product_attention
    SDPA = "F.scaled_dot_product_attention"
else:  # torch < 2.0 (Debian's 1.13 here): the math, so the script's paths can be tried on a CPU

    def sdpa(q, k, v):
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v

    SDPA = "math fallback (torch < 2.0 has no F.scaled_dot_product_attention)"
TAG = {"float32": "f32", "tf32": "tf32", "float16": "f16", "bfloat16": "bf16"}
TORCH_DTYPE = {"float32": torch.float32, "tf32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

VIT_B16 = dict(imgSize=224, inChannels=3, patchSize=16, dim=768, depth=12, heads=12, mlpDim=3072, numClasses=1000)
VIT_TINY = dict(imgSize=32, inChannels=3, patchSize=16, dim=64, depth=2, heads=2, mlpDim=128, numClasses=10)
FULL = dict(gemmN=4096, attention=dict(b=8, h=12, seqs=[1024, 4096], d=64), vitBatch=64, vit=VIT_B16)
SMALL = dict(gemmN=256, attention=dict(b=1, h=2, seqs=[64, 128], d=16), vitBatch=2, vit=VIT_TINY)


# ---- the cases (mirror of workloads.ts) -------------------------------------------------------------

def vit_forward_flops(s: dict) -> int:
    grid = (s["imgSize"] // s["patchSize"]) ** 2
    n = grid + 1
    patch = 2 * grid * s["inChannels"] * s["patchSize"] ** 2 * s["dim"]
    block = 2 * n * (4 * s["dim"] * s["dim"] + 2 * s["dim"] * s["mlpDim"]) + 4 * n * n * s["dim"]
    return patch + s["depth"] * block + 2 * s["dim"] * s["numClasses"]


def vit_name(s: dict) -> str:
    if s["imgSize"] == 224 and s["patchSize"] == 16 and s["dim"] == 768 and s["depth"] == 12 and s["heads"] == 12:
        return "vitb16"
    return f"vit{s['imgSize']}p{s['patchSize']}d{s['dim']}x{s['depth']}"


def cases(cfg: dict) -> list[dict]:
    out = []
    n = cfg["gemmN"]
    for dt in ("float32", "tf32", "float16", "bfloat16"):
        label = "f32 (TF32)" if dt == "tf32" else TAG[dt]
        out.append(dict(kind="gemm", id=f"gemm-{n}-{TAG[dt]}", label=f"GEMM {n}³ {label}", dtype=dt, n=n,
                        flops=2 * n**3))
    a = cfg["attention"]
    b, h, d = a["b"], a["h"], a["d"]
    for s in a["seqs"]:
        for dt in ("float32", "bfloat16"):
            for mode in ("fwd", "fwdbwd"):
                fwd = 4 * b * h * s * s * d
                out.append(dict(kind="attention", id=f"attn-b{b}h{h}s{s}d{d}-{TAG[dt]}-{mode}",
                                label=f"SDPA B{b} H{h} S{s} D{d} {TAG[dt]} {'fwd' if mode == 'fwd' else 'fwd+bwd'}",
                                dtype=dt, mode=mode, b=b, h=h, s=s, d=d,
                                flops=fwd if mode == "fwd" else fwd * 3.5))
    name = vit_name(cfg["vit"])
    for dt in ("float32", "bfloat16"):
        pretty = "ViT-B/16" if name == "vitb16" else name
        out.append(dict(kind="vit", id=f"{name}-train-b{cfg['vitBatch']}-{TAG[dt]}",
                        label=f"{pretty} train step B{cfg['vitBatch']} {'f32' if dt == 'float32' else 'bf16 autocast'}",
                        dtype=dt, batch=cfg["vitBatch"], model=cfg["vit"],
                        flops=3 * cfg["vitBatch"] * vit_forward_flops(cfg["vit"])))
    return out


# ---- the ViT (timm's vit_base_patch16_224 in plain torch.nn) ---------------------------------------

class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        x = sdpa(qkv[0], qkv[1], qkv[2])
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        dim = s["dim"]
        grid = (s["imgSize"] // s["patchSize"]) ** 2
        self.patch = nn.Conv2d(s["inChannels"], dim, s["patchSize"], stride=s["patchSize"])
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, grid + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, s["heads"], s["mlpDim"]) for _ in range(s["depth"])])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, s["numClasses"])

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


# ---- timing ------------------------------------------------------------------------------------------

class Timer:
    """CUDA events on a GPU, perf_counter elsewhere (the CPU fallback proves the script, nothing more)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def run(self, fn, iters: int) -> float:
        """Milliseconds per iteration of `iters` back-to-back calls."""
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iters):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / iters
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) * 1e3 / iters


def measure(timer: Timer, fn, opts, repeats: int | None = None, calibrate: bool = True, warm: bool = True) -> dict:
    for _ in range(opts.warmup if warm else 0):
        fn()
    timer.sync()
    iters = 1
    if calibrate:
        once = timer.run(fn, 1)
        iters = max(1, min(1000, math.ceil(opts.min_sample_ms / max(once, 1e-3))))
    samples = []
    start = time.perf_counter()
    while len(samples) < (repeats or opts.repeats):
        samples.append(timer.run(fn, iters))
        if len(samples) >= 3 and (time.perf_counter() - start) * 1e3 > opts.case_budget_ms:
            break
    return dict(medianMs=statistics.median(samples), minMs=min(samples), maxMs=max(samples), samplesMs=samples,
                itersPerSample=iters)


def set_tf32(on: bool):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def run_gemm(c, dev, timer, opts):
    dt = TORCH_DTYPE[c["dtype"]]
    a = torch.randn(c["n"], c["n"], device=dev, dtype=dt)
    b = torch.randn(c["n"], c["n"], device=dev, dtype=dt)
    set_tf32(c["dtype"] == "tf32")
    try:
        return measure(timer, lambda: torch.matmul(a, b), opts), {}
    finally:
        set_tf32(False)


def run_attention(c, dev, timer, opts):
    dt = TORCH_DTYPE[c["dtype"]]
    shape = (c["b"], c["h"], c["s"], c["d"])
    q, k, v, dout = (torch.randn(shape, device=dev, dtype=dt) for _ in range(4))
    set_tf32(False)
    if c["mode"] == "fwd":
        def fn():
            with torch.no_grad():
                sdpa(q, k, v)
    else:
        for t in (q, k, v):
            t.requires_grad_(True)

        def fn():
            out = sdpa(q, k, v)
            torch.autograd.grad(out, (q, k, v), dout)
    return measure(timer, fn, opts), {}


def run_vit(c, dev, timer, opts):
    set_tf32(False)
    torch.manual_seed(1234)
    s = c["model"]
    if opts.timm and vit_name(s) == "vitb16":
        import timm  # noqa: PLC0415 (optional)

        model = timm.create_model("vit_base_patch16_224", num_classes=s["numClasses"]).to(dev)
        built = f"timm {timm.__version__} vit_base_patch16_224"
    else:
        model = ViT(s).to(dev)
        built = "plain torch.nn (timm layout)"
    model.train()
    x = torch.randn(c["batch"], s["inChannels"], s["imgSize"], s["imgSize"], device=dev)
    y = torch.randint(0, s["numClasses"], (c["batch"],), device=dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    bf16 = c["dtype"] == "bfloat16"
    last = {}

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        last["loss"] = loss.detach()

    for _ in range(opts.warmup):
        step()
    timer.sync()
    first = float(last["loss"])
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    timing = measure(timer, step, opts, repeats=opts.vit_repeats, calibrate=False, warm=False)
    extra = dict(loss=dict(first=first, last=float(last["loss"])), model=built,
                 optimizer="torch.optim.AdamW (default foreach)")
    if dev.type == "cuda":
        extra["peakMemoryBytes"] = torch.cuda.max_memory_allocated()
    return timing, extra


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out")
    p.add_argument("--small", action="store_true")
    p.add_argument("--only", default=",".join(GROUPS))
    p.add_argument("--cases", help="ids or id prefixes, comma-separated")
    p.add_argument("--device", default="cuda")
    p.add_argument("--repeats", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--vit-batch", type=int)
    p.add_argument("--attn-seqs")
    p.add_argument("--gemm-n", type=int)
    p.add_argument("--min-sample-ms", type=float)
    p.add_argument("--timm", action="store_true", help="the ViT from timm.create_model instead of plain torch.nn")
    opts = p.parse_args(argv)

    cfg = json.loads(json.dumps(SMALL if opts.small else FULL))
    if opts.gemm_n:
        cfg["gemmN"] = opts.gemm_n
    if opts.attn_seqs:
        cfg["attention"]["seqs"] = [int(s) for s in opts.attn_seqs.split(",")]
    if opts.vit_batch:
        cfg["vitBatch"] = opts.vit_batch
    # Same defaults as run.ts's FULL_MEASURE / SMALL_MEASURE.
    defaults = (dict(warmup=1, repeats=3, min_sample_ms=5, case_budget_ms=5000) if opts.small
                else dict(warmup=3, repeats=10, min_sample_ms=50, case_budget_ms=30000))
    opts.warmup = opts.warmup if opts.warmup is not None else defaults["warmup"]
    opts.repeats = opts.repeats or defaults["repeats"]
    opts.vit_repeats = opts.repeats
    opts.min_sample_ms = opts.min_sample_ms or defaults["min_sample_ms"]
    opts.case_budget_ms = defaults["case_budget_ms"]
    groups = opts.only.split(",")
    wanted = opts.cases.split(",") if opts.cases else None

    dev = torch.device(opts.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("torch_cuda_bench: torch sees no CUDA device", file=sys.stderr)
        return 2
    timer = Timer(dev)
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        device = torch.cuda.get_device_name(dev)
        device_info = dict(name=device, capability=f"{props.major}.{props.minor}",
                           multiprocessors=props.multi_processor_count, totalMemory=props.total_memory,
                           cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    else:
        device, device_info = "cpu", dict(name="cpu", threads=torch.get_num_threads())
    report = dict(tool="torch", torch=torch.__version__, backend=str(dev), device=device, deviceInfo=device_info,
                  python=sys.version.split()[0], sdpa=SDPA, date=datetime.now(timezone.utc).isoformat(), small=opts.small,
                  config=cfg, measure=dict(warmup=opts.warmup, repeats=opts.repeats,
                                           minSampleMs=opts.min_sample_ms, caseBudgetMs=opts.case_budget_ms),
                  results=[])

    def save():
        if opts.out:
            with open(opts.out, "w") as f:
                json.dump(report, f, indent=2)
                f.write("\n")

    print(f"torch {torch.__version__} on {device}", flush=True)
    save()
    runners = dict(gemm=run_gemm, attention=run_attention, vit=run_vit)
    failed = False
    for c in cases(cfg):
        if c["kind"] not in groups or (wanted and not any(c["id"] == w or c["id"].startswith(w) for w in wanted)):
            continue
        t0 = time.perf_counter()
        base = dict(id=c["id"], kind=c["kind"], label=c["label"])
        try:
            timing, extra = runners[c["kind"]](c, dev, timer, opts)
            r = dict(base, status="ok", flops=c["flops"], tflops=c["flops"] / timing["medianMs"] / 1e9, **timing,
                     **extra)
            what = f"{r['medianMs']:.3f} ms, {r['tflops']:.2f} TFLOP/s ({len(r['samplesMs'])}x{r['itersPerSample']})"
        except Exception as e:  # noqa: BLE001 (a failed case is reported, the others still run)
            failed = True
            r = dict(base, status="error", reason=f"{type(e).__name__}: {e}")
            what = r["reason"]
        finally:
            if dev.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
        report["results"].append(r)
        save()
        print(f"  {c['label']}: {what} [{time.perf_counter() - t0:.1f} s]", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
