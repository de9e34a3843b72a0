"""AdamW fixture: torch.optim.AdamW with two param groups (decay / no decay), 3 steps.

Run with Debian's torch: /usr/bin/python3 tests/reference/gen_adamw.py
Writes tests/fixtures/ops/adamw.json: initial parameters, the gradients of each step, the
learning rate of each step (set on both groups before the step, as the per-iteration schedule
does) and the parameters / exp_avg / exp_avg_sq after every step. float64 throughout.
Some gradients are tiny (1e-9) so that where eps enters the denominator matters, and some
are exactly 0.
"""
import torch

from fixture_io import write_fixture

torch.manual_seed(0)
DT = torch.float64

BETAS = (0.9, 0.95)
EPS = 1e-8
WEIGHT_DECAY = 0.05
LRS = [1e-2, 3e-2, 5e-3]

# Decay group: weight matrices; no-decay group: biases and 1-D parameters (spec §5).
decay = {
    "w1": torch.randn(3, 4, dtype=DT),
    "w2": torch.randn(5, dtype=DT) * 3,
}
no_decay = {
    "b1": torch.randn(4, dtype=DT),
    "gamma": torch.randn(3, dtype=DT) * 0.1,
}
names = list(decay) + list(no_decay)
params = {k: torch.nn.Parameter(v.clone()) for k, v in {**decay, **no_decay}.items()}

opt = torch.optim.AdamW(
    [
        {"params": [params[k] for k in decay], "weight_decay": WEIGHT_DECAY},
        {"params": [params[k] for k in no_decay], "weight_decay": 0.0},
    ],
    lr=LRS[0],
    betas=BETAS,
    eps=EPS,
    foreach=False,
)

tensors = {f"init.{k}": params[k].detach().clone() for k in names}
for step, lr in enumerate(LRS, start=1):
    for group in opt.param_groups:
        group["lr"] = lr
    for k in names:
        g = torch.randn(params[k].shape, dtype=DT)
        flat = g.view(-1)
        flat[::5] *= 1e-9  # tiny: sqrt(v̂) comparable to eps
        flat[2::7] = 0.0
        if step == 2:
            flat[1::3] *= 50.0
        params[k].grad = g
        tensors[f"grad{step}.{k}"] = g.clone()
    opt.step()
    for k in names:
        state = opt.state[params[k]]
        tensors[f"param{step}.{k}"] = params[k].detach().clone()
        tensors[f"m{step}.{k}"] = state["exp_avg"].clone()
        tensors[f"v{step}.{k}"] = state["exp_avg_sq"].clone()

write_fixture(
    "ops/adamw",
    tensors,
    meta={
        "decay": list(decay),
        "no_decay": list(no_decay),
        "betas": list(BETAS),
        "eps": EPS,
        "weight_decay": WEIGHT_DECAY,
        "lrs": LRS,
        "steps": len(LRS),
    },
)
