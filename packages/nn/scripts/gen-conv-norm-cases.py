"""Reference numbers for the nn conv/norm tests that the shared golden cases do not cover.

Run with Debian's PyTorch 1.13 (no GPU needed) from packages/nn:
    /usr/bin/python3 scripts/gen-conv-norm-cases.py > test/fixtures/conv-norm-cases.json

Each case: the module (PyTorch kwargs in `config`), its state dict before the forward (`params`),
the inputs, the outputs, and the gradients of L = sum(y * probe). Tolerances follow the shared
fixtures' rule: rtol 1e-4 and atol = 10 x torch's own float32-vs-float64 error on the case (at
least 1e-6 x the largest value, at least 1e-7), rounded up to 1/2/5 x 10^k.
"""
import json
import math
import zlib

import torch
import torch.nn as nn

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def listify(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1).tolist()]}


def round_up(x):
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10**e >= x * (1 - 1e-12):
            return float(f"{m}e{e}")


def tolerance(err, peak):
    return {"rtol": 1e-4, "atol": round_up(max(10 * err, 1e-6 * peak, 1e-7))}


def run(make, inputs, forward, double):
    """One forward/backward; returns outputs, input grads, param grads, state dict after."""
    torch.manual_seed(1234)
    m = make()
    if double:
        m = m.double()
    m.load_state_dict(STATE[0])
    xs = {k: (v.double() if double else v.clone()).requires_grad_(True) for k, v in inputs.items()}
    out = forward(m, xs)
    loss = sum((y * (PROBES[k].double() if double else PROBES[k])).sum() for k, y in out.items())
    loss.backward()
    grads = {f"input.{k}": x.grad for k, x in xs.items()}
    grads.update({f"param.{k}": p.grad for k, p in m.named_parameters()})
    return out, grads


STATE = [None]
PROBES = {}


def case(name, call, config, make, inputs, forward, mode="eval", perturb=True):
    torch.manual_seed(zlib.crc32(name.encode()) % 10000)
    m = make()
    if perturb:
        with torch.no_grad():
            for k, p in m.named_parameters():
                p.add_(0.1 * torch.randn_like(p))
    m.train(mode == "train")
    STATE[0] = {k: v.clone() for k, v in m.state_dict().items()}
    wrapped = lambda: make().train(mode == "train")  # noqa: E731
    with torch.no_grad():
        shapes = {k: v.shape for k, v in forward(wrapped().double().requires_grad_(False), {k: v.double() for k, v in inputs.items()}).items()}
    g = torch.Generator().manual_seed(7919)
    PROBES.clear()
    PROBES.update({k: torch.randn(s, generator=g, dtype=torch.float32) for k, s in shapes.items()})
    out, grads = run(wrapped, inputs, forward, False)
    out64, grads64 = run(wrapped, inputs, forward, True)
    ferr = max((out[k].double() - out64[k]).abs().max().item() for k in out)
    fpeak = max(out64[k].abs().max().item() for k in out)
    gerr = max(((grads[k].double() - grads64[k]).abs().max().item() for k in grads), default=0)
    gpeak = max((grads64[k].abs().max().item() for k in grads), default=1)
    return name, {
        "call": call,
        "config": config,
        "mode": mode,
        "params": {k: listify(v) for k, v in STATE[0].items() if v.is_floating_point()},
        "int_params": {k: int(v) for k, v in STATE[0].items() if not v.is_floating_point()},
        "inputs": {k: listify(v) for k, v in inputs.items()},
        "probes": {k: listify(v) for k, v in PROBES.items()},
        "outputs": {k: listify(v) for k, v in out.items()},
        "grads": {k: listify(v) for k, v in grads.items()},
        "tolerance": {"forward": tolerance(ferr, fpeak), "grad": tolerance(gerr, gpeak)},
    }


def main():
    torch.manual_seed(0)
    cases = dict(
        [
            case(
                "groupnorm_affine",
                "nn.GroupNorm(3, 6)(x)",
                {"num_groups": 3, "num_channels": 6},
                lambda: nn.GroupNorm(3, 6),
                {"x": torch.randn(2, 6, 4, 5)},
                lambda m, x: {"y": m(x["x"])},
            ),
            case(
                "groupnorm_noaffine_eps_3d",
                "nn.GroupNorm(2, 4, eps=1e-3, affine=False)(x)",
                {"num_groups": 2, "num_channels": 4, "eps": 1e-3, "affine": False},
                lambda: nn.GroupNorm(2, 4, eps=1e-3, affine=False),
                {"x": torch.randn(3, 4, 7) * 2 + 3},
                lambda m, x: {"y": m(x["x"])},
            ),
            case(
                "conv2d_same_even_dilated_groups",
                "nn.Conv2d(4, 6, (4, 3), padding='same', dilation=(1, 2), groups=2)(x)",
                {"in_channels": 4, "out_channels": 6, "kernel_size": [4, 3], "padding": "same", "dilation": [1, 2], "groups": 2},
                lambda: nn.Conv2d(4, 6, (4, 3), padding="same", dilation=(1, 2), groups=2),
                {"x": torch.randn(2, 4, 7, 6)},
                lambda m, x: {"y": m(x["x"])},
            ),
            case(
                "conv2d_strided_depthwise_nobias",
                "nn.Conv2d(4, 8, 3, stride=(2, 1), padding=(0, 2), dilation=(2, 1), groups=4, bias=False)(x)",
                {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "stride": [2, 1], "padding": [0, 2], "dilation": [2, 1], "groups": 4, "bias": False},
                lambda: nn.Conv2d(4, 8, 3, stride=(2, 1), padding=(0, 2), dilation=(2, 1), groups=4, bias=False),
                {"x": torch.randn(2, 4, 9, 8)},
                lambda m, x: {"y": m(x["x"])},
            ),
            case(
                "conv_transpose2d_groups_dilation_output_size",
                "nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dilation=2)(x, output_size=[8, 10])",
                {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "groups": 2, "dilation": 2, "output_size": [8, 10]},
                lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dilation=2),
                {"x": torch.randn(2, 4, 3, 4)},
                lambda m, x: {"y": m(x["x"], output_size=[8, 10])},
            ),
            case(
                "batchnorm2d_untracked_eval",
                "nn.BatchNorm2d(3, track_running_stats=False).eval()(x)",
                {"num_features": 3, "track_running_stats": False},
                lambda: nn.BatchNorm2d(3, track_running_stats=False),
                {"x": torch.randn(4, 3, 2, 3) * 3 - 1},
                lambda m, x: {"y": m(x["x"])},
            ),
        ]
    )

    # Cumulative moving average (momentum=None) over three training batches, then eval.
    torch.manual_seed(42)
    bn = nn.BatchNorm2d(3, momentum=None, affine=False)
    steps = []
    for i in range(3):
        x = torch.randn(4, 3, 2, 3) * (i + 1) + i
        y = bn(x)
        steps.append({
            "x": listify(x), "y": listify(y),
            "running_mean": listify(bn.running_mean), "running_var": listify(bn.running_var),
            "num_batches_tracked": int(bn.num_batches_tracked),
        })
    bn.eval()
    xe = torch.randn(2, 3, 2, 3)
    cma = {
        "call": "nn.BatchNorm2d(3, momentum=None, affine=False): 3 train steps, then eval",
        "config": {"num_features": 3, "momentum": None, "affine": False},
        "steps": steps,
        "eval": {"x": listify(xe), "y": listify(bn(xe))},
        "tolerance": {"forward": {"rtol": 1e-4, "atol": 1e-5}},
    }
    print(json.dumps({
        "generator": "packages/nn/scripts/gen-conv-norm-cases.py",
        "torch": torch.__version__,
        "cases": cases,
        "batchnorm2d_cma": cma,
    }))


main()
