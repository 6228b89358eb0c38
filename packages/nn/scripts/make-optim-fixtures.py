"""Reference trajectories for @tessera/nn's optimizers, gradient clipping and LR schedulers.

Run with Debian's torch 1.13 (`/usr/bin/python3 packages/nn/scripts/make-optim-fixtures.py`);
writes packages/nn/test/fixtures/optim.json. Everything is float32 on the CPU, one thread.

* optimizers: two parameters ([3,4] and [4]) with fixed per-step gradients (stored, so the test
  feeds exactly the same ones); `null` marks a step where that parameter has no gradient (torch
  skips it). Stored: initial params, grads per step, params after every step.
* clip: gradients, the returned total norm and the gradients after clip_grad_norm_/clip_grad_value_.
* schedulers: the learning rate of every group after construction and after each of 30 steps
  (plus the momentum / beta1 for OneCycleLR).
"""
import json
import math
import os
import warnings

import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

STEPS = 10
SHAPES = [[3, 4], [4]]


def f32list(t):
    return t.detach().reshape(-1).tolist()


def make_problem(seed, none_at=()):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=g) for s in SHAPES]
    grads = []
    for step in range(STEPS):
        row = []
        for i, s in enumerate(SHAPES):
            gr = torch.randn(s, generator=g)
            row.append(None if (step, i) in none_at else gr)
        grads.append(row)
    return params, grads


def run_optimizer(name, cls, options, seed, groups=None, none_at=()):
    """`options` and `groups` are torch's kwargs; the test maps them to Tessera's option names."""
    params0, grads = make_problem(seed, none_at)
    params = [p.clone().requires_grad_(True) for p in params0]
    if groups is None:
        opt = getattr(torch.optim, cls)(params, **options)
    else:
        opt = getattr(torch.optim, cls)([dict(g, params=[params[i] for i in g["params"]]) for g in groups], **options)
    traj = []
    for row in grads:
        for p, gr in zip(params, row):
            p.grad = None if gr is None else gr.clone()
        opt.step()
        traj.append([f32list(p) for p in params])
    return {
        "name": name,
        "optimizer": cls,
        "options": options,
        "groups": groups,
        "shapes": SHAPES,
        "params": [f32list(p) for p in params0],
        "grads": [[None if gr is None else f32list(gr) for gr in row] for row in grads],
        "trajectory": traj,
    }


optim_cases = [
    run_optimizer("sgd", "SGD", {"lr": 0.1}, 1),
    run_optimizer("sgd_momentum", "SGD", {"lr": 0.05, "momentum": 0.9}, 2),
    run_optimizer("sgd_nesterov", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, 3),
    run_optimizer("sgd_weight_decay", "SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}, 4),
    run_optimizer("sgd_dampening", "SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}, 5),
    run_optimizer("sgd_maximize", "SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1, "maximize": True}, 6),
    run_optimizer("adam", "Adam", {"lr": 1e-2}, 7),
    run_optimizer("adam_weight_decay", "Adam", {"lr": 1e-2, "betas": [0.8, 0.99], "weight_decay": 0.1}, 8),
    run_optimizer("adam_amsgrad", "Adam", {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.05}, 9),
    run_optimizer("adam_maximize", "Adam", {"lr": 1e-2, "maximize": True}, 10),
    run_optimizer("adamw", "AdamW", {"lr": 1e-2}, 11),
    run_optimizer("adamw_wd", "AdamW", {"lr": 3e-2, "betas": [0.85, 0.995], "eps": 1e-6, "weight_decay": 0.5}, 12),
    run_optimizer("adamw_amsgrad", "AdamW", {"lr": 1e-2, "amsgrad": True}, 13),
    run_optimizer(
        "sgd_groups", "SGD", {"lr": 0.1, "momentum": 0.9}, 14,
        groups=[{"params": [0]}, {"params": [1], "lr": 0.01, "momentum": 0.5, "weight_decay": 0.1}],
        none_at={(2, 1), (3, 1), (6, 0)},
    ),
    run_optimizer(
        "adamw_groups", "AdamW", {"lr": 1e-2}, 15,
        groups=[{"params": [0], "weight_decay": 0.0}, {"params": [1], "lr": 0.05, "betas": [0.5, 0.9]}],
        none_at={(0, 1), (4, 0), (5, 0)},
    ),
]

# ---- gradient clipping ---------------------------------------------------------------------------
clip_cases = []
g = torch.Generator().manual_seed(100)
base = [torch.randn(s, generator=g) * 3 for s in SHAPES]
for norm_type, max_norm in [(2.0, 1.0), (2.0, 100.0), (1.0, 2.5), (3.0, 0.5), (math.inf, 0.7), (math.inf, 50.0)]:
    ps = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, b in zip(ps, base):
        p.grad = b.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    clip_cases.append({
        "kind": "norm",
        "normType": "inf" if norm_type == math.inf else norm_type,
        "maxNorm": max_norm,
        "total": float(total),
        "grads": [f32list(b) for b in base],
        "clipped": [f32list(p.grad) for p in ps],
    })
for clip_value in [0.5, 2.0]:
    ps = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, b in zip(ps, base):
        p.grad = b.clone()
    torch.nn.utils.clip_grad_value_(ps, clip_value)
    clip_cases.append({
        "kind": "value",
        "clipValue": clip_value,
        "grads": [f32list(b) for b in base],
        "clipped": [f32list(p.grad) for p in ps],
    })

# ---- LR schedulers -------------------------------------------------------------------------------
SCHED_STEPS = 30
O = torch.optim
S = O.lr_scheduler


def two_groups(kind="sgd"):
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    if kind == "sgd":
        return O.SGD([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1, momentum=0.9)
    return O.Adam([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1, betas=(0.9, 0.999))


def record(name, config, make_sched, kind="sgd", metrics=None, steps=SCHED_STEPS, momentum=False):
    opt = two_groups(kind)
    sched = make_sched(opt)

    def mom():
        return [grp["betas"][0] if kind == "adam" else grp["momentum"] for grp in opt.param_groups]

    lrs = [[grp["lr"] for grp in opt.param_groups]]
    moms = [mom()]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        lrs.append([grp["lr"] for grp in opt.param_groups])
        moms.append(mom())
    out = {"name": name, "optimizer": kind, "config": config, "lrs": lrs}
    if metrics is not None:
        out["metrics"] = metrics
    if momentum:
        out["momentum"] = moms
    return out


plateau_metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.8499, 0.85, 0.85, 0.85, 0.5,
                   0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
rising_metrics = [0.1, 0.2, 0.2, 0.2, 0.25, 0.25, 0.25, 0.25, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
                  0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]

sched_cases = [
    record("step_lr", {"stepSize": 7, "gamma": 0.5}, lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
    record("cosine", {"tMax": 12, "etaMin": 0.001}, lambda o: S.CosineAnnealingLR(o, T_max=12, eta_min=0.001)),
    record("cosine_zero_min", {"tMax": 30, "etaMin": 0}, lambda o: S.CosineAnnealingLR(o, T_max=30)),
    record(
        "warmup_cosine",
        {"warmupSteps": 5, "totalSteps": 30, "minLr": 0.001, "warmupStartFactor": 0.1},
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                     S.CosineAnnealingLR(o, T_max=25, eta_min=0.001)], milestones=[5]),
    ),
    record("lambda", {"lambda": "0.95 ** epoch"}, lambda o: S.LambdaLR(o, lambda e: 0.95 ** e)),
    record("onecycle_cos", {"maxLr": [1.0, 0.5], "totalSteps": 30}, lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30), momentum=True),
    record(
        "onecycle_linear_three_phase",
        {"maxLr": 0.8, "totalSteps": 30, "pctStart": 0.25, "annealStrategy": "linear", "threePhase": True,
         "divFactor": 10, "finalDivFactor": 100, "baseMomentum": 0.8, "maxMomentum": 0.9},
        lambda o: S.OneCycleLR(o, max_lr=0.8, total_steps=30, pct_start=0.25, anneal_strategy="linear",
                               three_phase=True, div_factor=10, final_div_factor=100,
                               base_momentum=0.8, max_momentum=0.9),
        momentum=True,
    ),
    record("onecycle_adam", {"maxLr": 0.01, "totalSteps": 30}, lambda o: S.OneCycleLR(o, max_lr=0.01, total_steps=30),
           kind="adam", momentum=True),
    record("onecycle_no_momentum", {"maxLr": 0.3, "totalSteps": 30, "cycleMomentum": False, "pctStart": 0.5},
           lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=30, cycle_momentum=False, pct_start=0.5), momentum=True),
    record("plateau_min_rel", {"patience": 2}, lambda o: S.ReduceLROnPlateau(o, patience=2), metrics=plateau_metrics),
    record(
        "plateau_min_abs_cooldown",
        {"patience": 1, "factor": 0.5, "threshold": 0.01, "thresholdMode": "abs", "cooldown": 2, "minLr": [0.01, 0.005]},
        lambda o: S.ReduceLROnPlateau(o, patience=1, factor=0.5, threshold=0.01, threshold_mode="abs",
                                      cooldown=2, min_lr=[0.01, 0.005]),
        metrics=plateau_metrics,
    ),
    record(
        "plateau_max_rel",
        {"mode": "max", "patience": 0, "factor": 0.3, "threshold": 0.1, "minLr": 0.001, "eps": 0.002},
        lambda o: S.ReduceLROnPlateau(o, mode="max", patience=0, factor=0.3, threshold=0.1, min_lr=0.001, eps=0.002),
        metrics=rising_metrics,
    ),
]

out = {
    "format": "tessera-optim-v1",
    "torch": torch.__version__,
    "note": "generated by packages/nn/scripts/make-optim-fixtures.py; float32 CPU",
    "optimizers": optim_cases,
    "clip": clip_cases,
    "schedulers": sched_cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "optim.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")
