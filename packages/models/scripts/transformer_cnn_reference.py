"""PyTorch reference for TransformerCNN (packages/models/src/transformer-cnn.ts).

Writes test/fixtures/transformer_cnn_<name>.safetensors in the golden-case format of
shared/fixtures/torch (README "Models"): param.* (state before the forward, incl. buffers),
input.*, output.*, grad.param.* of L = sum(output.y * input.probe), step1.param.* after one AdamW
step, and metadata (config with the TypeScript option names, tolerance, optimizer). The pip
safetensors package is not installed, so the file is written by hand (json + struct).

Run from packages/models:  /usr/bin/python3 scripts/transformer_cnn_reference.py   (torch 1.13, CPU)
"""
import copy
import json
import math
import struct
from pathlib import Path

import torch
import torch.nn as nn

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures"


def sinusoidal(n, d):  # nn's sinusoidalEncoding1d: float64 angles, rounded once
    inv = torch.tensor([10000.0 ** (-(2 * (c // 2)) / d) for c in range(d)], dtype=torch.float64)
    a = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    pe = torch.where(torch.arange(d) % 2 == 1, torch.cos(a), torch.sin(a))
    return pe.float()


def sparse_mask(n, kind, window, stride, prefix):  # True = NOT allowed (MHA convention)
    i = torch.arange(n)
    d = (i[:, None] - i[None, :]).abs()
    allowed = d <= window
    if kind == "strided":
        allowed |= d % stride == 0
    p = i < prefix
    return ~(allowed | p[:, None] | p[None, :])


class TransformerCNNRef(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        D = c["dim"]
        prefix = 1 if c["pool"] == "cls" else 0
        if c["input"] == "sequence":
            self.embed = nn.Linear(c["inFeatures"], D)
            n = c["maxLen"]
        else:
            layers, ch, h = [], c["inChannels"], c["imageSize"]
            for out in c["stemChannels"]:
                layers += [nn.Conv2d(ch, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
                ch, h = out, h // 2
            self.stem = nn.Sequential(*layers)
            self.embed = nn.Conv2d(ch, D, c["patchSize"], stride=c["patchSize"])
            n = (h // c["patchSize"]) ** 2
        if prefix:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        if c["positional"] == "learnable":
            self.pos_embed = nn.Parameter(torch.zeros(1, n + prefix, D))
        else:
            self.register_buffer("pe", sinusoidal(n + prefix, D)[None], persistent=False)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(D, c["numHeads"], c["dimFeedforward"], dropout=0.0, batch_first=True)
            for _ in range(c["depth"])
        )
        if c["recurrent"] != "none":
            rnn = nn.LSTM if c["recurrent"] == "lstm" else nn.GRU
            self.recurrent = nn.ModuleList(rnn(D, D, batch_first=True) for _ in range(c["depth"]))
        out = c["numOutputs"] if c["task"] == "regression" else c["numClasses"]
        self.head = nn.Linear(D, out)

    def forward(self, x):
        c = self.c
        if c["input"] == "sequence":
            t = self.embed(x)
        else:
            t = self.embed(self.stem(x)).flatten(2).transpose(1, 2)
        if c["pool"] == "cls":
            t = torch.cat([self.cls_token.expand(t.shape[0], 1, -1), t], 1)
        pos = self.pos_embed if c["positional"] == "learnable" else self.pe
        t = t + pos[:, : t.shape[1]]
        mask = sparse_mask(t.shape[1], c["attention"], c["window"], c["stride"], 1 if c["pool"] == "cls" else 0)
        for i, block in enumerate(self.blocks):
            t = block(t, src_mask=mask)
            if c["recurrent"] != "none":
                y, _ = self.recurrent[i](t)
                t = t + y if c["recurrentMode"] == "residual" else y
        pooled = t[:, 0] if c["pool"] == "cls" else t.mean(1)
        return self.head(pooled)


CASES = {
    # conv stem (BatchNorm in training mode), cls token, learned positions, local attention, LSTM residual
    "hybrid": dict(
        input="image", inChannels=3, imageSize=16, stemChannels=[8, 16], patchSize=1, dim=32, depth=2,
        numHeads=4, dimFeedforward=64, dropout=0.0, positional="learnable", recurrent="lstm",
        recurrentMode="residual", attention="local", window=2, stride=4, pool="cls", task="classification",
        numClasses=5, numOutputs=1, batch=3, mode="train",
    ),
    # sequence tokenizer, sinusoidal positions, strided sparse attention, GRU replacing, mean pool, regression
    "sequence": dict(
        input="sequence", inFeatures=5, maxLen=10, dim=24, depth=2, numHeads=3, dimFeedforward=48, dropout=0.0,
        positional="sinusoidal", recurrent="gru", recurrentMode="replace", attention="strided", window=1,
        stride=3, pool="mean", task="regression", numClasses=10, numOutputs=2, batch=3, mode="eval",
    ),
}


def run(model, x, probe):
    model.zero_grad()
    y = model(x)
    (y * probe).sum().backward()
    return y


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        b = t.numpy().tobytes()
        header[k] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make(name, c, seed):
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    m = TransformerCNNRef(c)
    with torch.no_grad():  # make the constant-initialised parameters and BN statistics informative
        for k, p in m.named_parameters():
            if k.endswith(("cls_token", "pos_embed")) or "norm" in k or k.endswith("in_proj_bias") or (
                "stem" in k and p.dim() == 1
            ) or k.endswith("out_proj.bias"):
                p.add_(0.1 * torch.randn_like(p))
        for k, b in m.named_buffers():
            if k.endswith("running_mean"):
                b.copy_(0.1 * torch.randn_like(b))
            elif k.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
    train = c["mode"] == "train"
    m.train(train)
    if c["input"] == "sequence":
        x = torch.randn(c["batch"], c["maxLen"], c["inFeatures"])
    else:
        x = torch.randn(c["batch"], c["inChannels"], c["imageSize"], c["imageSize"])
    out = c["numOutputs"] if c["task"] == "regression" else c["numClasses"]
    probe = torch.randn(c["batch"], out)
    params = {f"param.{k}": v.clone() for k, v in m.state_dict().items()}

    ref = copy.deepcopy(m).double()  # fp64 twin for the error budget
    ref.train(train)
    y64 = run(ref, x.double(), probe.double())
    y = run(m, x, probe)
    outputs = {"output.y": y}
    if c["input"] == "image":
        outputs["output.running_mean_0"] = m.stem[1].running_mean
    grads = {f"grad.param.{k}": p.grad.clone() for k, p in m.named_parameters()}
    g64 = dict(ref.named_parameters())
    fwd_err = (y.double() - y64).abs().max().item()
    grad_err = max((p.grad.double() - g64[k].grad).abs().max().item() for k, p in m.named_parameters())

    opt = dict(type="AdamW", steps=1, lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01)
    torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01).step()
    step1 = {f"step1.param.{k}": p.detach().clone() for k, p in m.named_parameters()}

    tolerance = {
        "forward": {"rtol": 1e-4, "atol": max(1e-6, 20 * fwd_err)},
        "grad": {"rtol": 1e-3, "atol": max(1e-5, 20 * grad_err)},
        "step1": {"end_to_end": {"rtol": 0.0, "atol": 1e-4}},
    }
    config = {k: v for k, v in c.items() if k != "mode"}
    metadata = {
        "format": "torch-oracle-v1",
        "case": f"transformer_cnn_{name}",
        "set": "models-local",
        "kind": "model",
        "description": f"TransformerCNN reference ({name}): see packages/models/scripts/transformer_cnn_reference.py",
        "config": json.dumps(config),
        "mode": c["mode"],
        "seed": str(seed),
        "torch": torch.__version__,
        "loss": "L = sum(output.y * input.probe)",
        "loss_terms": json.dumps([["output.y", "input.probe"]]),
        "grad_inputs": "[]",
        "bool_inputs": "[]",
        "tolerance": json.dumps(tolerance),
        "fp32_vs_fp64": json.dumps({"forward_max_abs_err": fwd_err, "grad_max_abs_err": grad_err}),
        "optimizer": json.dumps(opt),
    }
    tensors = {"input.x": x, "input.probe": probe, **outputs, **params, **grads, **step1}
    path = OUT / f"transformer_cnn_{name}.safetensors"
    write_safetensors(path, tensors, metadata)
    print(f"{path.name}: {len(tensors)} tensors, {path.stat().st_size} bytes, fp64 err {fwd_err:.2e} / {grad_err:.2e}")


if __name__ == "__main__":
    for i, (name, c) in enumerate(CASES.items()):
        make(name, c, 1000 + i)
