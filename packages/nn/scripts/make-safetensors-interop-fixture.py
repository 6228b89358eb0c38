"""Writes test/fixtures/safetensors/python-dtypes.safetensors with Python's own `safetensors` writer.

The file is the interop proof of test/safetensors.test.ts: the TypeScript reader must parse it and the
writer must reproduce it byte for byte. Every dtype Tessera reads, 0-d and empty tensors, NaN/±Inf/-0,
integer extremes, and names that sort differently in UTF-8 and UTF-16.

Run: /usr/bin/python3 -m pip install --target /tmp/pysafet safetensors
     PYTHONPATH=/tmp/pysafet /usr/bin/python3 packages/nn/scripts/make-safetensors-interop-fixture.py
(safetensors 0.8.0 and Debian's torch 1.13.1 wrote the committed file.)
"""

import os

import safetensors
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
special = torch.tensor([0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.5, -2.25, 1e-3])
tensors = {
    "f32": special.clone().reshape(2, 4),
    "f32.scalar": torch.tensor(-0.0),
    "f32.empty": torch.zeros(0, 3),
    "f64": special.double(),
    "f16": special.half(),
    "bf16": special.bfloat16().reshape(2, 2, 2),
    "i32": torch.tensor([-(2**31), 2**31 - 1, 0, -1], dtype=torch.int32),
    "i64": torch.tensor([[-(2**31), 2**31 - 1], [0, -7]], dtype=torch.int64),
    "i64.scalar": torch.tensor(12345, dtype=torch.int64),
    "i16": torch.tensor([-(2**15), 2**15 - 1], dtype=torch.int16),
    "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
    "u8": torch.tensor([0, 128, 255], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
    "bool.empty": torch.zeros(0, dtype=torch.bool),
    "w": torch.randn(3, 5),
    "\ue000": torch.ones(1),
    "\U00010000": torch.ones(1),
}
metadata = {"format": "pt", "writer": f"safetensors {safetensors.__version__}", "note": "ünïcode ✓"}
out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "safetensors", "python-dtypes.safetensors")
save_file(tensors, out, metadata=metadata)
print("wrote", os.path.normpath(out), os.path.getsize(out), "bytes")
