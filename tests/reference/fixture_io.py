"""Shared writer for PyTorch reference fixtures (run with Debian's /usr/bin/python3 + python3-torch).

Each generator script in this folder writes JSON files into tests/fixtures/: tensors as
{"shape": [...], "data": [...flat float64 values...]}, read by tests/helpers/fixtures.ts.
Fixtures are committed, so the test suite never needs Python.
"""
import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")


def tensor_json(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.flatten().tolist()]}


def write_fixture(relpath, tensors, meta=None):
    """Write tests/fixtures/<relpath>.json with named tensors and free-form metadata."""
    path = os.path.join(FIXTURES, relpath + ".json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    doc = {
        "generator": "tests/reference (PyTorch %s)" % torch.__version__,
        "meta": meta or {},
        "tensors": {k: tensor_json(v) for k, v in tensors.items()},
    }
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print("wrote", os.path.relpath(path, ROOT))
