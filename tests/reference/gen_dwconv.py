"""Depthwise 7x7 conv fixture for the submanifold-sparse dwconv (src/reference/dwconv.ts).

Run with Debian's torch: /usr/bin/python3 tests/reference/gen_dwconv.py
Writes tests/fixtures/ops/dwconv.json. Each case is the dense equivalent of spec section 4:
masked sites zeroed before and after torch conv2d(groups=C, padding=3, bias); the gradients
come from autograd of sum(y * dy). float64 throughout. Per case "<name>.":
  mask (N, L) 1 = masked; x, y, dy, dx (N, C, H, W) with zeros at masked sites;
  weight, dweight (C, 1, 7, 7) PyTorch layout; bias, dbias (C).
meta.cases lists {name, N, C, gridH, gridW, r}.
"""
import torch
import torch.nn.functional as F

from fixture_io import write_fixture

torch.manual_seed(0)
DT = torch.float64

CASES = [
    # name, N, C, gridH, gridW, r, visible patches per sample
    ("sparse_r2", 2, 3, 2, 3, 2, [[0, 4], [2, 3]]),  # non-square grid, border patches
    ("isolated_r4", 1, 2, 3, 3, 4, [[0, 8]]),  # two visible corners with no visible neighbour
    ("dense_r1", 2, 4, 3, 3, 1, None),  # the decoder's dense grid
    ("sparse_r8", 1, 2, 2, 2, 8, [[1, 2]]),  # diagonal patches: halo crosses a masked corner
]

tensors = {}
meta_cases = []
for name, N, C, gh, gw, r, visible in CASES:
    L = gh * gw
    mask = torch.ones(N, L, dtype=DT)
    for n in range(N):
        for p in visible[n] if visible else range(L):
            mask[n, p] = 0
    H, W = gh * r, gw * r
    # keep (N, 1, H, W): 1 at visible sites (each patch upsampled by nearest repetition)
    keep = (1 - mask).reshape(N, 1, gh, gw).repeat_interleave(r, 2).repeat_interleave(r, 3)
    x = (torch.rand(N, C, H, W, dtype=DT) * 2 - 1) * keep
    weight = torch.rand(C, 1, 7, 7, dtype=DT) * 2 - 1
    bias = torch.rand(C, dtype=DT) * 2 - 1
    dy = (torch.rand(N, C, H, W, dtype=DT) * 2 - 1) * keep
    x.requires_grad_(True)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    y = F.conv2d(x * keep, weight, bias, padding=3, groups=C) * keep
    (y * dy).sum().backward()
    tensors.update(
        {
            f"{name}.mask": mask,
            f"{name}.x": x.detach(),
            f"{name}.weight": weight.detach(),
            f"{name}.bias": bias.detach(),
            f"{name}.y": y.detach(),
            f"{name}.dy": dy,
            f"{name}.dx": x.grad,
            f"{name}.dweight": weight.grad,
            f"{name}.dbias": bias.grad,
        }
    )
    meta_cases.append({"name": name, "N": N, "C": C, "gridH": gh, "gridW": gw, "r": r})

write_fixture("ops/dwconv", tensors, {"cases": meta_cases})
