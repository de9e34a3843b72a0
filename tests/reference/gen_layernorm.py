"""PyTorch float64 reference for LayerNorm over channels (rows, C), eps 1e-6.

Writes tests/fixtures/ops/layernorm.json: per case the inputs x, weight, bias, upstream
gradient dY, and PyTorch's y, mean, rstd (torch.native_layer_norm) and autograd gradients
dX, dWeight, dBias. Run: /usr/bin/python3 tests/reference/gen_layernorm.py
"""
import torch
import torch.nn.functional as F

from fixture_io import write_fixture

EPS = 1e-6
# (rows, C, offset): C = 1 (zero variance), small and odd widths, model widths; one case with a
# large mean relative to the spread.
CASES = [(1, 1, 0.0), (4, 3, 0.0), (5, 7, 0.0), (6, 40, 0.0), (3, 67, 0.0), (2, 320, 0.0), (4, 24, 50.0)]


def main():
    torch.manual_seed(0)
    tensors = {}
    for i, (rows, C, offset) in enumerate(CASES):
        x = (torch.rand(rows, C, dtype=torch.float64) * 2 - 1 + offset).requires_grad_(True)
        w = (torch.rand(C, dtype=torch.float64) + 0.5).requires_grad_(True)
        b = (torch.rand(C, dtype=torch.float64) * 2 - 1).requires_grad_(True)
        dy = torch.rand(rows, C, dtype=torch.float64) * 2 - 1
        y = F.layer_norm(x, (C,), w, b, eps=EPS)
        y.backward(dy)
        _, mean, rstd = torch.native_layer_norm(x.detach(), (C,), w.detach(), b.detach(), EPS)
        p = "case%d/" % i
        tensors.update({
            p + "x": x, p + "weight": w, p + "bias": b, p + "dY": dy,
            p + "y": y, p + "mean": mean.reshape(rows), p + "rstd": rstd.reshape(rows),
            p + "dX": x.grad, p + "dWeight": w.grad, p + "dBias": b.grad,
        })
    write_fixture("ops/layernorm", tensors, meta={
        "eps": EPS,
        "cases": [{"rows": r, "C": c, "offset": o} for r, c, o in CASES],
        "op": "torch.nn.functional.layer_norm over the last dim, float64, autograd grads",
    })


if __name__ == "__main__":
    main()
