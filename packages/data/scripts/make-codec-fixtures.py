"""Writes test/fixtures/codecs/codecs.json, the reference outputs the codec and transform tests compare with.

- "resize": torch.nn.functional.interpolate(mode="bilinear", align_corners=False) (PyTorch's
  default, no antialias) of a seeded random float32 [3, 13, 17] image to several sizes, down and up.
- "jpeg": small JPEGs written by PIL/libjpeg (gray, colour 4:4:4, colour 4:2:0, progressive) as
  base64, with the pixels libjpeg decodes them to, so jpeg-js is checked against an independent decoder.

Needs torch and PIL (Debian's python3-torch 1.13 and python3-pil):

    /usr/bin/python3 packages/data/scripts/make-codec-fixtures.py
"""
import base64
import io
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "codecs", "codecs.json")


def resize_cases():
    g = torch.Generator().manual_seed(7)
    x = torch.rand(3, 13, 17, generator=g, dtype=torch.float32)
    cases = []
    for size in [(7, 9), (26, 31), (13, 17), (5, 40), (1, 1), (4, 17)]:
        y = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]
        cases.append({"size": list(size), "output": y.flatten().tolist()})
    return {"shape": [3, 13, 17], "input": x.flatten().tolist(), "cases": cases}


def card(w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    d = np.hypot(xx - w / 2, yy - h / 2) / (w / 2)
    r = 255 * xx / (w - 1)
    g = 255 * yy / (h - 1)
    b = 255 * np.clip(1 - d, 0, 1)
    return np.stack([r, g, b], axis=-1).round().astype(np.uint8)


def jpeg_cases():
    rgb = card(40, 24)
    gray = rgb[:, :, 2].copy()
    specs = [
        ("gray", Image.fromarray(gray, "L"), {"quality": 90}),
        ("rgb444", Image.fromarray(rgb, "RGB"), {"quality": 95, "subsampling": 0}),
        ("rgb420", Image.fromarray(rgb, "RGB"), {"quality": 95, "subsampling": 2}),
        ("progressive", Image.fromarray(rgb, "RGB"), {"quality": 95, "subsampling": 0, "progressive": True}),
    ]
    cases = []
    for name, im, opts in specs:
        buf = io.BytesIO()
        im.save(buf, "JPEG", **opts)
        data = buf.getvalue()
        decoded = np.asarray(Image.open(io.BytesIO(data)))
        channels = 1 if decoded.ndim == 2 else decoded.shape[2]
        cases.append({
            "name": name,
            "width": im.width,
            "height": im.height,
            "channels": channels,
            "base64": base64.b64encode(data).decode("ascii"),
            "libjpeg": decoded.flatten().tolist(),
        })
    return cases


def main():
    fixture = {
        "generator": "packages/data/scripts/make-codec-fixtures.py",
        "torch": torch.__version__,
        "resize": resize_cases(),
        "jpeg": jpeg_cases(),
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f)
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
