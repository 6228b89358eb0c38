"""Writes the stratified Fashion-MNIST subset that ships in packages/data/datasets/fashion-mnist/.

Source: Debian's dataset-fashion-mnist (IDX gzip under /usr/share/datasets/fashion-mnist/), or any
directory holding the four original files (first argument). From the training set it keeps the first
1,000 images of each class in a seeded random order (10,000 in all), from the test set 200 per class
(2,000); each split is then shuffled with the same seed so classes are interleaved. Output is IDX,
gzip with mtime 0, so the files are byte-for-byte reproducible.

    python3 packages/data/scripts/make-fashion-mnist-subset.py [SRC_DIR]
"""
import gzip
import os
import struct
import sys

import numpy as np

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
DST = os.path.join(os.path.dirname(__file__), "..", "datasets", "fashion-mnist")
SEED = 20261122


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header + arr.astype(np.uint8).tobytes())


def subset(images, labels, per_class, rng):
    order = rng.permutation(len(labels))
    keep = np.concatenate([order[labels[order] == c][:per_class] for c in range(10)])
    keep = keep[rng.permutation(len(keep))]
    return images[keep], labels[keep]


rng = np.random.default_rng(SEED)
os.makedirs(DST, exist_ok=True)
for split, prefix, per_class in (("train", "train", 1000), ("test", "t10k", 200)):
    images = read_idx(os.path.join(SRC, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(SRC, f"{prefix}-labels-idx1-ubyte.gz"))
    x, y = subset(images, labels, per_class, rng)
    write_idx(os.path.join(DST, f"{prefix}-images-idx3-ubyte.gz"), x)
    write_idx(os.path.join(DST, f"{prefix}-labels-idx1-ubyte.gz"), y)
    print(split, x.shape, np.bincount(y, minlength=10).tolist())
