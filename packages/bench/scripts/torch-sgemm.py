#!/usr/bin/env python3
"""PyTorch's SGEMM on this CPU, for the native GEMM's target (issue 4 quotes PyTorch 1.13 CPU).

Debian's python3-torch links the reference BLAS; the figures that matter use OpenBLAS:

  env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
      /usr/bin/python3 packages/bench/scripts/torch-sgemm.py > bench/results/torch-sgemm.json

Median of 9 timed runs after 3 warm-ups, for N = 256..2048 on 1 and 2 threads, as JSON.
"""
import json
import platform
import time

import torch


def gflops(n: int) -> float:
    a = torch.rand(n, n)
    b = torch.rand(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(9):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    times.sort()
    return 2 * n**3 / times[len(times) // 2] / 1e9


result = {"torch": torch.__version__, "cpu": platform.processor() or platform.machine(), "gflops": {}}
for threads in (1, 2):
    torch.set_num_threads(threads)
    result["gflops"][f"{threads}t"] = {n: round(gflops(n), 1) for n in (256, 512, 1024, 2048)}
print(json.dumps(result, indent=2))
