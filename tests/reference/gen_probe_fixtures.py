"""Probe references (evaluation-spec §3) on fixed random features, written with PyTorch:
DINO's weighted kNN (topk of cosine similarities, votes exp(s/T), argmax) and MAE's linear-probe
head (BatchNorm1d(affine=False, eps=1e-6) + Linear, zero init) trained full-batch with SGD
momentum 0.9 under a cosine lr, in float64. Run with Debian's /usr/bin/python3 (python3-torch)
or the reference venv. Writes tests/fixtures/train/probes.json; deterministic.
"""
import math

import torch

from fixture_io import write_fixture

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
K, D, NT, NV = 4, 16, 40, 15
centres = torch.randn(K, D) * 0.45
train_y = torch.arange(NT) % K
val_y = torch.arange(NV) % K
# features rounded to float32, so the TS side reads exactly these values
train_x = (centres[train_y] + torch.randn(NT, D)).float().double()
val_x = (centres[val_y] + torch.randn(NV, D) * 1.3).float().double()


def knn(k, T):
    a = torch.nn.functional.normalize(train_x, dim=1)
    b = torch.nn.functional.normalize(val_x, dim=1)
    sims = b @ a.T
    s, idx = sims.topk(min(k, NT), dim=1)
    votes = torch.zeros(NV, K)
    votes.scatter_add_(1, train_y[idx], torch.exp(s / T))
    return votes.argmax(dim=1)


def linear_probe(epochs, lr, momentum):
    bn = torch.nn.BatchNorm1d(D, affine=False, eps=1e-6)
    head = torch.nn.Linear(D, K)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    model = torch.nn.Sequential(bn, head)
    opt = torch.optim.SGD(head.parameters(), lr=lr, momentum=momentum)
    losses = []
    for e in range(epochs):
        for g in opt.param_groups:
            g["lr"] = lr * (1 + math.cos(math.pi * e / epochs)) / 2
        model.train()
        loss = torch.nn.functional.cross_entropy(model(train_x), train_y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(val_x)
    return torch.tensor(losses), logits


knn20 = knn(20, 0.07)
knn5 = knn(5, 0.5)
losses, logits = linear_probe(30, 0.1, 0.9)
write_fixture(
    "train/probes",
    {
        "train_x": train_x, "train_y": train_y.double(), "val_x": val_x, "val_y": val_y.double(),
        "knn_k20_t0.07": knn20.double(), "knn_k5_t0.5": knn5.double(),
        "linear_losses": losses, "linear_val_logits": logits,
    },
    {"K": K, "linear": {"epochs": 30, "lr": 0.1, "momentum": 0.9}},
)
print("knn k=20 acc", (knn20 == val_y).double().mean().item(), "k=5", (knn5 == val_y).double().mean().item(),
      "linear acc", (logits.argmax(1) == val_y).double().mean().item(), "final loss", losses[-1].item())
