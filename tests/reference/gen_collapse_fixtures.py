"""Feature-collapse references (evaluation-spec §4) computed with timm's ConvNeXt in float64:
per block, the activations pwconv2 reads (the input of mlp.fc2: after GRN in a V2 block, after
GELU without GRN) of each image, each channel normalised, and the mean over all channel pairs of
(1 − cos) / 2. For the fine-tuning fixtures' GRN model (timm_96_k7) and no-GRN model
(timm_nogrn_k3), on their own batches. Run with the reference venv:
  /work/.refvenv/bin/python tests/reference/gen_collapse_fixtures.py
Writes tests/fixtures/train/collapse.json; deterministic.
"""
import json
import os

import torch
from safetensors.torch import load_file
from timm.models.convnext import ConvNeXt

from fixture_io import write_fixture

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
torch.set_default_dtype(torch.float64)


def distances(X):
    """X (sites, C') → the spec's distance."""
    n = X.norm(dim=0).clamp_min(1e-12)
    Xh = X / n
    G = Xh.T @ Xh
    C = X.shape[1]
    return float(((1 - G) / 2).sum() / (C * C))


tensors, meta = {}, {}
for case in ["timm_96_k7", "timm_nogrn_k3"]:
    d = os.path.join(ROOT, "fixtures", "finetune", case)
    cfg = json.load(open(os.path.join(d, "expected.json")))["config"]
    model = ConvNeXt(depths=tuple(cfg["depths"]), dims=tuple(cfg["dims"]), use_grn=cfg["use_grn"], ls_init_value=None,
                     conv_mlp=cfg.get("conv_mlp", False), num_classes=cfg["num_classes"], drop_path_rate=0.0).double().eval()
    model.load_state_dict({k: v.double() for k, v in load_file(os.path.join(d, "weights.safetensors")).items()}, strict=True)
    imgs = load_file(os.path.join(d, "batch.safetensors"))["imgs"].double()
    captured = []
    hooks = []
    for stage in model.stages:
        for block in stage.blocks:
            hooks.append(block.mlp.fc2.register_forward_pre_hook(lambda m, inp: captured.append(inp[0].detach())))
    per_image = []
    for i in range(imgs.shape[0]):
        captured.clear()
        with torch.no_grad():
            model(imgs[i : i + 1])
        if case == "timm_96_k7" and i == 0:
            # the activation grid's input (the paper's Fig. 3): stage 1 block 0 of image 0, (H, W, C')
            a = captured[1]
            tensors[f"{case}.activation_1_0"] = a[0] if not cfg.get("conv_mlp", False) else a[0].permute(1, 2, 0)
        row = []
        for a in captured:
            # conv_mlp=False: (1, H, W, C'); conv_mlp=True: (1, C', H, W)
            X = a[0].reshape(-1, a.shape[-1]) if not cfg.get("conv_mlp", False) else a[0].reshape(a.shape[1], -1).T
            row.append(distances(X))
        per_image.append(row)
    for h in hooks:
        h.remove()
    tensors[f"{case}.per_image"] = torch.tensor(per_image)
    meta[case] = {"blocks": len(per_image[0]), "images": len(per_image), "grn": cfg["use_grn"]}
    print(case, "mean distance per block", [round(sum(c) / len(c), 6) for c in zip(*per_image)])
write_fixture("train/collapse", tensors, meta)
