"""Reference numbers for the loss modules and functions of src/loss.ts, from local PyTorch 1.13.

Writes test/fixtures/loss-cases.json. Run from packages/nn with /usr/bin/python3.

Each case stores float32 inputs (int32 class targets, bool masks), the option values under their
Tessera names, a random probe shaped like the output, the output and the gradient of
L = sum(output * probe) for each floating input, computed in float64 from the float32 inputs.
klNormal and scaleInvariantLogLoss have no torch function: they are written out here from their
definitions (the SI-log one image at a time with boolean indexing, independently of the TS code).
Tolerances: rtol 1e-5 forward / 1e-4 grad; atol = max(10 x torch's own float32-vs-float64 error,
1e-6 x max|value|, 1e-7), rounded up to 1/2/5*10^k (shared/fixtures/torch/README.md's rule).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "loss-cases.json")
REDUCTIONS = ("none", "mean", "sum")


def enc(t, dtype="float32"):
    # 9 significant digits: float32 inputs round-trip exactly, float64 references keep ~1e-9 relative.
    vals = t.detach().double().reshape(-1).tolist()
    data = [int(v) for v in vals] if dtype != "float32" else [float(f"{v:.9g}") for v in vals]
    return {"shape": list(t.shape), "dtype": dtype, "data": data}


def round_up(x):
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10.0**e >= x * (1 - 1e-12):
            return float(f"{m * 10.0**e:.0e}")
    raise AssertionError


def tolerance(ref, f32, rtol):
    err = max((a.double() - b.double()).abs().max().item() for a, b in zip(ref, f32))
    big = max(a.abs().max().item() for a in ref)
    return {"rtol": rtol, "atol": round_up(max(10 * err, 1e-6 * big, 1e-7))}


def kl_normal(mu, logvar, reduction):
    per = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=-1)
    return {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction]


def si_log(pred, target, reduction, lam=0.5, eps=1e-6, mask=None):
    per, used = [], 0
    for b in range(pred.shape[0]):
        m = mask[b] if mask is not None else torch.ones_like(pred[b], dtype=torch.bool)
        d = torch.log(pred[b][m] + eps) - torch.log(target[b][m] + eps)
        if d.numel() == 0:
            per.append(pred[b].sum() * 0)
            continue
        used += 1
        per.append((d**2).mean() - lam * d.mean() ** 2)
    per = torch.stack(per)
    return {"none": per, "mean": per.sum() / max(used, 1), "sum": per.sum()}[reduction]


def call(fn, t, opts):
    r = opts.get("reduction", "mean")
    if fn == "CrossEntropyLoss":
        return F.cross_entropy(t["input"], t["target"], weight=t.get("weight"), ignore_index=opts.get("ignoreIndex", -100),
                               label_smoothing=opts.get("labelSmoothing", 0.0), reduction=r)
    if fn == "MSELoss":
        return F.mse_loss(t["input"], t["target"], reduction=r)
    if fn == "L1Loss":
        return F.l1_loss(t["input"], t["target"], reduction=r)
    if fn == "SmoothL1Loss":
        return F.smooth_l1_loss(t["input"], t["target"], beta=opts.get("beta", 1.0), reduction=r)
    if fn == "BCEWithLogitsLoss":
        return F.binary_cross_entropy_with_logits(t["input"], t["target"], weight=t.get("weight"),
                                                  pos_weight=t.get("posWeight"), reduction=r)
    if fn == "KLNormalLoss":
        return kl_normal(t["mu"], t["logvar"], r)
    if fn == "ScaleInvariantLogLoss":
        return si_log(t["pred"], t["target"], r, opts.get("lambda", 0.5), opts.get("eps", 1e-6), t.get("mask"))
    raise ValueError(fn)


def case(name, fn, inputs, opts, seed):
    """inputs: name -> float32 / int64 / bool tensor; floating ones other than weights get gradients."""
    no_grad = {"weight", "posWeight", "target"} if fn != "ScaleInvariantLogLoss" else {"target"}
    if fn == "CrossEntropyLoss" and inputs["target"].is_floating_point():
        no_grad = {"weight"}  # probability targets are differentiable in torch; check them too
    grad_names = sorted(k for k, v in inputs.items() if v.is_floating_point() and k not in no_grad)
    gen = torch.Generator().manual_seed(seed + 7919)
    results = {}
    for dtype in (torch.float64, torch.float32):
        t = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in inputs.items()}
        for k in grad_names:
            t[k] = t[k].clone().requires_grad_()
        out = call(fn, t, opts)
        if dtype == torch.float64:
            probe = torch.randn(out.shape, generator=gen, dtype=torch.float32)
        (out * probe.to(dtype)).sum().backward()
        results[dtype] = (out, {k: t[k].grad for k in grad_names})
    (o64, g64), (o32, g32) = results[torch.float64], results[torch.float32]
    kind = lambda v: "float32" if v.is_floating_point() else ("bool" if v.dtype == torch.bool else "int32")
    return {
        "name": name,
        "module": fn,
        "options": opts,
        "inputs": {k: enc(v, kind(v)) for k, v in inputs.items()},
        "probe": enc(probe),
        "output": enc(o64),
        "grads": {k: enc(g64[k]) for k in grad_names},
        "tolerance": {
            "forward": tolerance([o64], [o32], 1e-5),
            "grad": tolerance([g64[k] for k in grad_names], [g32[k] for k in grad_names], 1e-4),
        },
    }


def main():
    torch.set_num_threads(1)
    cases = []
    torch.manual_seed(0)
    logits = torch.randn(7, 5) * 2
    target = torch.randint(0, 5, (7,))
    ignored = target.clone()
    ignored[[1, 4]] = -100
    weight = torch.rand(5) + 0.5
    logits3 = torch.randn(2, 5, 4) * 2
    target3 = torch.randint(0, 5, (2, 4))
    target3[0, 2] = -100
    probs = torch.softmax(torch.randn(7, 5), dim=1)
    for r in REDUCTIONS:
        cases.append(case(f"ce_plain_{r}", "CrossEntropyLoss", {"input": logits, "target": target}, {"reduction": r}, 1))
        cases.append(case(f"ce_weight_ignore_{r}", "CrossEntropyLoss",
                          {"input": logits, "target": ignored, "weight": weight}, {"reduction": r}, 2))
        cases.append(case(f"ce_weight_ignore_smoothing_{r}", "CrossEntropyLoss",
                          {"input": logits, "target": ignored, "weight": weight}, {"reduction": r, "labelSmoothing": 0.15}, 3))
        cases.append(case(f"ce_3d_weight_ignore_smoothing_{r}", "CrossEntropyLoss",
                          {"input": logits3, "target": target3, "weight": weight}, {"reduction": r, "labelSmoothing": 0.1}, 4))
        cases.append(case(f"ce_probability_target_weight_smoothing_{r}", "CrossEntropyLoss",
                          {"input": logits, "target": probs, "weight": weight}, {"reduction": r, "labelSmoothing": 0.1}, 5))
    cases.append(case("ce_custom_ignore_index_smoothing", "CrossEntropyLoss", {"input": logits, "target": target},
                      {"ignoreIndex": int(target[0]), "labelSmoothing": 0.2}, 6))
    cases.append(case("ce_unbatched_weight_smoothing", "CrossEntropyLoss",
                      {"input": logits[0], "target": target[0], "weight": weight}, {"labelSmoothing": 0.1}, 7))

    x, y = torch.randn(2, 3, 4) * 1.5, torch.randn(2, 3, 4)
    bx, by = torch.randn(4, 3) * 2, torch.rand(4, 3)
    bw, bpw = torch.rand(4, 1) + 0.5, torch.rand(3) * 3 + 0.5
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6) * 0.5
    mu3, logvar3 = torch.randn(2, 3, 6), torch.randn(2, 3, 6) * 0.5
    pred = torch.exp(torch.randn(3, 1, 4, 5) * 0.3) * 2
    depth = torch.exp(torch.randn(3, 1, 4, 5) * 0.3) * 2
    mask = torch.rand(3, 1, 4, 5) < 0.7
    mask[1] = False  # an image without valid pixels
    depth_holes = torch.where(mask, depth, torch.zeros(()))  # missing depth is 0, as in datasets
    for r in REDUCTIONS:
        cases.append(case(f"mse_{r}", "MSELoss", {"input": x, "target": y}, {"reduction": r}, 10))
        cases.append(case(f"l1_{r}", "L1Loss", {"input": x, "target": y}, {"reduction": r}, 11))
        cases.append(case(f"smooth_l1_{r}", "SmoothL1Loss", {"input": x, "target": y}, {"reduction": r}, 12))
        cases.append(case(f"smooth_l1_beta05_{r}", "SmoothL1Loss", {"input": x, "target": y}, {"reduction": r, "beta": 0.5}, 13))
        cases.append(case(f"bce_with_logits_weight_pos_weight_{r}", "BCEWithLogitsLoss",
                          {"input": bx, "target": by, "weight": bw, "posWeight": bpw}, {"reduction": r}, 14))
        cases.append(case(f"kl_normal_{r}", "KLNormalLoss", {"mu": mu, "logvar": logvar}, {"reduction": r}, 15))
        cases.append(case(f"si_log_mask_{r}", "ScaleInvariantLogLoss",
                          {"pred": pred, "target": depth_holes, "mask": mask}, {"reduction": r}, 16))
        cases.append(case(f"si_log_lambda085_eps0_{r}", "ScaleInvariantLogLoss",
                          {"pred": pred, "target": depth}, {"reduction": r, "lambda": 0.85, "eps": 0.0}, 17))
    cases.append(case("bce_with_logits_plain", "BCEWithLogitsLoss", {"input": bx, "target": by}, {}, 18))
    cases.append(case("kl_normal_3d", "KLNormalLoss", {"mu": mu3, "logvar": logvar3}, {}, 19))

    doc = {
        "format": "tessera-nn-loss-v1",
        "torch": torch.__version__,
        "generator": "packages/nn/scripts/make-loss-fixtures.py",
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main()
