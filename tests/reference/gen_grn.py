"""PyTorch float64 reference for GRN (spec section 2) -> tests/fixtures/ops/grn.json.

GRN is written the way the official code writes it, on (N, S, C) tensors (S = rows of one
sample in the sparse row layout): G = torch.norm(X, p=2, dim=<sites>), Nx = G / (mean_c G + 1e-6),
Y = gamma * (X * Nx) + beta + X. 'per-sample' reduces over dim 1, 'batch' (the official sparse
code) over dims (0, 1). Gradients come from autograd of loss = sum(Y * dY).

All-zero channels: torch.norm's backward defines d||x||/dx = 0 at x = 0, which is exactly the
project's 0/0 := 0 rule, so those cases are compared directly. Writing G as
sqrt(sum(X**2)) instead gives NaN gradients there (sqrt'(0) = inf times 0); the script checks
that and records it in each case's meta as sqrt_form_nan, to document why torch.norm is used.

Run: /usr/bin/python3 tests/reference/gen_grn.py
"""
import torch

from fixture_io import write_fixture

torch.manual_seed(1234)
EPS = 1e-6


def grn(x, gamma, beta, mode, sqrt_form=False):
    dims = (1,) if mode == "per-sample" else (0, 1)
    if sqrt_form:
        g = torch.sqrt((x * x).sum(dim=dims, keepdim=True))
    else:
        g = torch.norm(x, p=2, dim=dims, keepdim=True)
    nx = g / (g.mean(dim=-1, keepdim=True) + EPS)
    return gamma * (x * nx) + beta + x, nx, g


def make_case(name, N, S, C, mode, zero=None, zero_params=False):
    """zero: list of (n, c) pairs whose channel c is zeroed over all rows of sample n."""
    x = torch.randn(N, S, C, dtype=torch.float64)
    for n, c in zero or []:
        x[n, :, c] = 0.0
    if zero_params:
        gamma = torch.zeros(C, dtype=torch.float64)
        beta = torch.zeros(C, dtype=torch.float64)
    else:
        gamma = torch.randn(C, dtype=torch.float64)
        beta = torch.randn(C, dtype=torch.float64)
    dy = torch.randn(N, S, C, dtype=torch.float64)

    xs, gs, bs = (t.clone().requires_grad_() for t in (x, gamma, beta))
    y, nx, g = grn(xs, gs, bs, mode)
    (y * dy).sum().backward()
    groups = N if mode == "per-sample" else 1
    tensors = {
        "x": x.reshape(N * S, C),
        "gamma": gamma,
        "beta": beta,
        "dY": dy.reshape(N * S, C),
        "y": y.reshape(N * S, C),
        "norm": nx.reshape(groups, C),
        "gnorm": g.reshape(groups, C),
        "dX": xs.grad.reshape(N * S, C),
        "dGamma": gs.grad,
        "dBeta": bs.grad,
    }
    for k, t in tensors.items():
        assert torch.isfinite(t).all(), (name, k)

    xq = x.clone().requires_grad_()
    yq, _, _ = grn(xq, gamma, beta, mode, sqrt_form=True)
    (yq * dy).sum().backward()
    sqrt_form_nan = bool(torch.isnan(xq.grad).any())
    meta = {"name": name, "N": N, "rowsPerSample": S, "C": C, "mode": mode, "sqrt_form_nan": sqrt_form_nan}
    return meta, tensors


cases = [
    make_case("per-sample basic", 2, 5, 6, "per-sample"),
    make_case("batch basic", 2, 5, 6, "batch"),
    make_case("per-sample one row, N=1", 1, 1, 3, "per-sample"),
    make_case("batch C=1", 3, 4, 1, "batch"),
    make_case("per-sample zero channel", 3, 4, 5, "per-sample", zero=[(1, 2)]),
    # zero in one sample only: the batch G of that channel is not zero
    make_case("batch zero channel in one sample", 3, 4, 5, "batch", zero=[(1, 2)]),
    make_case("batch zero channel everywhere", 3, 4, 5, "batch", zero=[(0, 3), (1, 3), (2, 3)]),
    make_case("per-sample gamma = beta = 0", 2, 7, 4, "per-sample", zero_params=True),
]

tensors = {}
for i, (meta, ts) in enumerate(cases):
    for k, t in ts.items():
        tensors["case%d.%s" % (i, k)] = t
write_fixture("ops/grn", tensors, {"eps": EPS, "cases": [m for m, _ in cases]})
for m, _ in cases:
    print(m)
