"""Cross-entropy fixture: torch.nn.functional.cross_entropy with label smoothing, float64.

Run with Debian's torch: /usr/bin/python3 tests/reference/gen_cross_entropy.py
Writes tests/fixtures/ops/cross_entropy.json: per case the logits (N, K), the labels (N, as
float64 integers), loss (1) with reduction='mean', perSample (N) with reduction='none', and
dLogits (N, K), the autograd gradient of the mean loss. Cases cover ε = 0, 0.1, 0.2 and
K = 1, 3, 7, 1000, N = 1 … 5, and logits large and offset enough that a softmax without the
max subtraction would overflow.
"""
import torch
import torch.nn.functional as F

from fixture_io import write_fixture

DT = torch.float64

# name, N, K, smoothing, logit std, logit offset
CASES = [
    ("k7_eps0", 5, 7, 0.0, 2.0, 0.0),
    ("k3_eps01", 4, 3, 0.1, 1.0, 0.0),
    ("k7_eps02_large", 3, 7, 0.2, 30.0, 100.0),
    ("k1_eps02", 2, 1, 0.2, 1.0, 0.0),
    ("k1000_eps02", 3, 1000, 0.2, 3.0, -20.0),
    ("k1000_eps01_n1", 1, 1000, 0.1, 1.0, 0.0),
    ("k1000_eps0_large", 2, 1000, 0.0, 20.0, 500.0),
]


def main():
    torch.manual_seed(0)
    tensors = {}
    meta = []
    for name, N, K, eps, std, offset in CASES:
        logits0 = torch.randn(N, K, dtype=DT) * std + offset
        labels = torch.randint(0, K, (N,))
        logits = logits0.clone().requires_grad_(True)
        loss = F.cross_entropy(logits, labels, label_smoothing=eps)
        loss.backward()
        per_sample = F.cross_entropy(logits0, labels, label_smoothing=eps, reduction="none")
        tensors[name + ".logits"] = logits0
        tensors[name + ".labels"] = labels.to(DT)
        tensors[name + ".loss"] = loss.detach().reshape(1)
        tensors[name + ".perSample"] = per_sample
        tensors[name + ".dLogits"] = logits.grad
        meta.append({"name": name, "N": N, "K": K, "smoothing": eps})
    write_fixture("ops/cross_entropy", tensors, meta={
        "op": "torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps), float64; dLogits by autograd of the mean",
        "cases": meta,
    })


if __name__ == "__main__":
    main()
