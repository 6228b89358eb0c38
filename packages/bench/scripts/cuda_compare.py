#!/usr/bin/env python3
"""Joins tessera's CUDA benchmark JSON (packages/bench/src/cuda/cli.ts; optionally a second run with
TESSERA_CUBLAS_PATH set) with PyTorch's (torch_cuda_bench.py) on the case ids, and writes

  <out-dir>/<device>-<date>.json   everything, ready for bench/results/cuda/
  <out-dir>/comparison.md          the Markdown table, also printed

`tessera/torch` is PyTorch's time over tessera's (= tessera's throughput over PyTorch's): 1.00 is
parity, 0.50 means tessera takes twice as long.

  python3 packages/bench/scripts/cuda_compare.py --tessera T.json [--tessera-cublas C.json] \\
      --torch P.json --out-dir DIR
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys


def load(path: str | None) -> dict | None:
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"cuda_compare: cannot read {path}: {e}", file=sys.stderr)
        return None


def slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-") or "unknown"


def by_id(report: dict | None) -> dict:
    return {r["id"]: r for r in (report or {}).get("results", [])}


def cell(r: dict | None) -> tuple[str, str]:
    """(ms, TFLOP/s) of one result, or its status."""
    if r is None:
        return "-", ""
    if r.get("status") != "ok":
        return r.get("status", "?"), ""
    return f"{r['medianMs']:.3f}", f"{r['tflops']:.1f}"


def summary(r: dict | None) -> dict | None:
    if r is None:
        return None
    keep = ("status", "medianMs", "minMs", "tflops", "reason", "loss", "liveTensorsFlat", "liveTensorsPerStep",
            "peakMemoryBytes")
    return {k: r[k] for k in keep if k in r}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tessera", required=True)
    p.add_argument("--tessera-cublas")
    p.add_argument("--torch", required=True)
    p.add_argument("--out-dir", default=".")
    o = p.parse_args(argv)
    tess, cublas, torch = load(o.tessera), load(o.tessera_cublas), load(o.torch)
    if tess is None and torch is None:
        print("cuda_compare: neither result file could be read", file=sys.stderr)
        return 1
    t_ids, c_ids, p_ids = by_id(tess), by_id(cublas), by_id(torch)
    order = list(t_ids) + [i for i in p_ids if i not in t_ids] + [i for i in c_ids if i not in t_ids and i not in p_ids]
    device = (torch or {}).get("device") or (tess or {}).get("device") or "unknown"
    date = ((tess or torch or {}).get("date") or "")[:10] or "undated"

    head = ["case", "tessera ms", "TFLOP/s"]
    if cublas:
        head += ["+cuBLAS ms", "TFLOP/s"]
    head += ["torch ms", "TFLOP/s", "tessera/torch"]
    if cublas:
        head += ["+cuBLAS/torch"]
    head += ["note"]
    rows, merged = [], []
    for cid in order:
        t, c, q = t_ids.get(cid), c_ids.get(cid), p_ids.get(cid)
        label = (t or q or c)["label"]
        ratio = (q["medianMs"] / t["medianMs"]) if t and q and t.get("status") == "ok" and q.get("status") == "ok" else None
        cratio = (q["medianMs"] / c["medianMs"]) if c and q and c.get("status") == "ok" and q.get("status") == "ok" else None
        notes = []
        for who, r in (("tessera", t), ("+cuBLAS", c), ("torch", q)):
            if r and r.get("status") != "ok":
                notes.append(f"{who}: {r.get('reason', '').splitlines()[0][:80] if r.get('reason') else r.get('status')}")
        if t and t.get("liveTensorsFlat") is False:
            notes.append(f"tessera live tensors grow: {t.get('liveTensorsPerStep')}")
        row = [label, *cell(t)]
        if cublas:
            row += [*cell(c)]
        row += [*cell(q), f"{ratio:.2f}" if ratio else ""]
        if cublas:
            row += [f"{cratio:.2f}" if cratio else ""]
        row += ["; ".join(notes)]
        rows.append(row)
        merged.append(dict(id=cid, label=label, tessera=summary(t), tesseraCublas=summary(c), torch=summary(q),
                           tesseraOverTorch=ratio, tesseraCublasOverTorch=cratio))

    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(cells)) + " |"  # noqa: E731
    md = [f"CUDA benchmark on {device}, {date}: median per iteration; tessera/torch = torch ms / tessera ms "
          "(1.00 = parity)", "", line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    if tess:
        md += ["", f"tessera: node {tess.get('node')}, backend {tess.get('backend')}: "
               f"{(tess.get('deviceInfo') or {}).get('description', '')}"]
    if torch:
        md += [f"torch {torch.get('torch')} (CUDA {(torch.get('deviceInfo') or {}).get('cuda')}), "
               f"{torch.get('sdpa', '')}"]
    text = "\n".join(md) + "\n"
    print(text)

    os.makedirs(o.out_dir, exist_ok=True)
    name = f"{slug(device)}-{date}.json"
    with open(os.path.join(o.out_dir, name), "w") as f:
        json.dump(dict(device=device, date=date, cases=merged, tessera=tess, tesseraCublas=cublas, torch=torch), f,
                  indent=2)
        f.write("\n")
    with open(os.path.join(o.out_dir, "comparison.md"), "w") as f:
        f.write(text)
    print(f"wrote {os.path.join(o.out_dir, name)} and comparison.md (copy the JSON to bench/results/cuda/)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
