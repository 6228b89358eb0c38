"""Reference numbers for LSTM/GRU configurations the shared golden cases do not cover
(bidirectional, no bias, unbatched input, dropout between layers), from local PyTorch 1.13.

Writes test/fixtures/recurrent-cases.json. Run from packages/nn with /usr/bin/python3.

Each case stores float32 inputs, parameters and probes, and outputs / gradients computed in
float64 from those same float32 values. The loss is sum(y*probe) + sum(h_n*probe.h_n)
(+ sum(c_n*probe.c_n)), like the shared fixtures. Tolerances follow shared/fixtures/torch/README.md:
rtol 1e-4, atol = max(10 x torch's own float32-vs-float64 error, 1e-6 x max|value|, 1e-7), rounded
up to 1/2/5*10^k.

Dropout between layers cannot be matched mask for mask (Tessera draws from its own Philox stream),
so the training-mode cases use dropout=1.0: every layer after the first then reads zeros in both
libraries, which pins down where the dropout sits (between layers, not after the last one).
"""
import copy
import json
import math
import os

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "recurrent-cases.json")

CASES = [
    # name, class, config, mode, x shape, state shape (or None), seed
    ("lstm_bidir_2layer_h0c0", "LSTM", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True), "eval", [5, 2, 3], [4, 2, 4], 1),
    ("lstm_bidir_batch_first_nobias", "LSTM", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True, bias=False), "eval", [2, 5, 3], None, 2),
    ("lstm_unbatched_bidir_h0c0", "LSTM", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True), "eval", [5, 3], [4, 4], 3),
    ("lstm_dropout1_train_bidir", "LSTM", dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True, dropout=1.0), "train", [5, 2, 3], None, 4),
    ("gru_bidir_batch_first_h0", "GRU", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True), "eval", [2, 5, 3], [4, 2, 4], 5),
    ("gru_unbatched_bidir_h0", "GRU", dict(input_size=3, hidden_size=4, bidirectional=True), "eval", [5, 3], [2, 4], 6),
    ("gru_dropout1_train", "GRU", dict(input_size=3, hidden_size=4, num_layers=3, dropout=1.0), "train", [5, 2, 3], None, 7),
    ("gru_dropout_eval_nobias", "GRU", dict(input_size=3, hidden_size=4, num_layers=2, dropout=0.5, bias=False), "eval", [5, 2, 3], None, 8),
]


def enc(t):
    # 9 significant digits: float32 inputs round-trip exactly, float64 references keep ~1e-9 relative.
    return {"shape": list(t.shape), "data": [float(f"{v:.9g}") for v in t.detach().double().reshape(-1).tolist()]}


def round_up(x):
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10.0**e >= x * (1 - 1e-12):
            return float(f"{m * 10.0**e:.0e}")
    raise AssertionError


def tolerance(ref, f32):
    err = max(((a.double() - b.double()).abs().max().item() for a, b in zip(ref, f32)), default=0.0)
    big = max((a.abs().max().item() for a in ref), default=0.0)
    return {"rtol": 1e-4, "atol": round_up(max(10 * err, 1e-6 * big, 1e-7))}


def run(cls, module, inputs, probes, has_state):
    x = inputs["x"]
    if cls == "LSTM":
        args = (x, (inputs["h0"], inputs["c0"])) if has_state else (x,)
        y, (h, c) = module(*args)
        outs = {"y": y, "h_n": h, "c_n": c}
    else:
        args = (x, inputs["h0"]) if has_state else (x,)
        y, h = module(*args)
        outs = {"y": y, "h_n": h}
    loss = sum((outs[k] * probes[k]).sum() for k in outs)
    loss.backward()
    grads_in = {k: v.grad for k, v in inputs.items()}
    grads_p = {k: p.grad for k, p in module.named_parameters()}
    return outs, grads_in, grads_p


def make(name, cls, config, mode, xshape, sshape, seed):
    torch.manual_seed(seed)
    m32 = getattr(nn, cls)(**config)
    m32.train(mode == "train")
    inputs = {"x": torch.randn(*xshape)}
    if sshape:
        inputs["h0"] = torch.randn(*sshape)
        if cls == "LSTM":
            inputs["c0"] = torch.randn(*sshape)
    gen = torch.Generator().manual_seed(seed + 7919)
    batch_first_3d = config.get("batch_first") and len(xshape) == 3
    out_shape = list(xshape[:-1]) + [config["hidden_size"] * (2 if config.get("bidirectional") else 1)]
    dirs_layers = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    batch = [xshape[0] if batch_first_3d else xshape[1]] if len(xshape) == 3 else []
    state_shape = [dirs_layers] + batch + [config["hidden_size"]]
    probes = {"y": torch.randn(*out_shape, generator=gen), "h_n": torch.randn(*state_shape, generator=gen)}
    if cls == "LSTM":
        probes["c_n"] = torch.randn(*state_shape, generator=gen)
    params = {k: v.detach().clone() for k, v in m32.state_dict().items()}

    results = {}
    for dtype in (torch.float64, torch.float32):
        m = copy.deepcopy(m32).to(dtype)
        ins = {k: v.clone().to(dtype).requires_grad_() for k, v in inputs.items()}
        prs = {k: v.to(dtype) for k, v in probes.items()}
        results[dtype] = run(cls, m, ins, prs, sshape is not None)
    (o64, gi64, gp64), (o32, gi32, gp32) = results[torch.float64], results[torch.float32]
    keys_g_in, keys_g_p = sorted(gi64), sorted(gp64)
    return {
        "name": name,
        "module": cls,
        "config": config,
        "mode": mode,
        "call": f"m = nn.{cls}(**config); m.train({mode == 'train'}); "
        + ("y, (h_n, c_n) = m(x" if cls == "LSTM" else "y, h_n = m(x")
        + ((", (h0, c0))" if cls == "LSTM" else ", h0)") if sshape else ")"),
        "inputs": {k: enc(v) for k, v in inputs.items()},
        "params": {k: enc(v) for k, v in params.items()},
        "probes": {k: enc(v) for k, v in probes.items()},
        "outputs": {k: enc(v) for k, v in o64.items()},
        "grads": {
            "input": {k: enc(gi64[k]) for k in keys_g_in},
            "param": {k: enc(gp64[k]) for k in keys_g_p},
        },
        "tolerance": {
            "forward": tolerance(list(o64.values()), [o32[k] for k in o64]),
            "grad": tolerance(
                [gi64[k] for k in keys_g_in] + [gp64[k] for k in keys_g_p],
                [gi32[k] for k in keys_g_in] + [gp32[k] for k in keys_g_p],
            ),
        },
    }


def main():
    torch.set_num_threads(1)
    doc = {
        "format": "tessera-nn-recurrent-v1",
        "torch": torch.__version__,
        "generator": "packages/nn/scripts/make-recurrent-fixtures.py",
        "cases": [make(*c) for c in CASES],
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
