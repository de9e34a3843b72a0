"""PyTorch float64 reference for GELU, exact (approximate='none') and tanh forms.

Writes tests/fixtures/ops/gelu.json: x on a grid over [-8, 8] plus random points, an upstream
gradient dY, and per form y = gelu(x) and the autograd gradient dX = dY·gelu'(x).
Run: /usr/bin/python3 tests/reference/gen_gelu.py
"""
import torch
import torch.nn.functional as F

from fixture_io import write_fixture


def main():
    torch.manual_seed(0)
    x0 = torch.cat([
        torch.linspace(-8, 8, 321, dtype=torch.float64),
        torch.randn(200, dtype=torch.float64) * 3,
        torch.tensor([0.0, 1e-8, -1e-8, 30.0, -30.0], dtype=torch.float64),
    ])
    dy = torch.rand(x0.shape, dtype=torch.float64) * 2 - 1
    tensors = {"x": x0, "dY": dy}
    for form, approximate in (("erf", "none"), ("tanh", "tanh")):
        x = x0.clone().requires_grad_(True)
        y = F.gelu(x, approximate=approximate)
        y.backward(dy)
        tensors[form + "/y"] = y
        tensors[form + "/dX"] = x.grad
    write_fixture("ops/gelu", tensors, meta={
        "op": "torch.nn.functional.gelu, approximate='none' (erf) and 'tanh', float64, autograd grads",
    })


if __name__ == "__main__":
    main()
