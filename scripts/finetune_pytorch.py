#!/usr/bin/env python3
"""Plain PyTorch + timm side of scripts/finetune-vs-pytorch.ts.

Fine-tunes a randomly initialised timm ConvNeXt V2 classifier
(ConvNeXt(use_grn=True, ls_init_value=None), evaluation-spec §1) with the recipe the engine's
`fcmae finetune` ran (evaluation-spec §2), on the images and train / validation split the TS
script hands over, and writes the validation top-1 as JSON.

    python scripts/finetune_pytorch.py --job JOB.json --out RESULT.json

JOB.json (written by the TS script):
  pixels        raw uint8 file: every decoded image's (H, W, 3) bytes, one after another (the
                engine's own decode of the folder, so both sides start from the same pixels)
  images        [{path, label, width, height, offset}] in sorted relative-path order
  classes       class names (label k = classes[k])
  train, val    image indices of the stratified split (the engine's stratifiedSplit)
  model         {depths, dims}
  settings      the engine run's settings (report.json): inputSize, batchSize, totalSteps,
                weightDecay, layerDecay, labelSmoothing, dropPath, seed
  lrs           learning rate of each step (step k uses lrs[k-1]; learningRateAt(k-1))
  engine_groups {official name: [lr scale, weight decay]}: the engine's parameter groups,
                checked against the ones computed here
  engine_parameters  the engine classifier's parameter count, checked against timm's
  threads       torch threads (optional)

What is the same as the engine: architecture and init rule, split, images, lr per step,
AdamW (betas 0.9/0.999, eps 1e-8) with the official groups, label smoothing, weight decay,
drop path, batch size, steps, the augmentation's definition and the evaluation transform. What
is not: random draws (init, batch order, crops, flips, drop path come from torch's generator
here and from the engine's own streams there), and float summation order. So the numbers are
not bit-identical; what is compared is the accuracy reached.
"""
import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import timm
from timm.models.convnext import ConvNeXt

try:
    from torchvision import transforms as T
except Exception as e:  # pragma: no cover - the reference venv has torchvision
    sys.exit(f"finetune_pytorch.py: torchvision is needed for the transforms ({e})")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- timm names -> official dense names (evaluation-spec §1), for the parameter groups
def official_name(timm_name):
    n = timm_name
    m = re.match(r"^stem\.(\d+)\.(.*)$", n)
    if m:
        return f"downsample_layers.0.{m.group(1)}.{m.group(2)}"
    m = re.match(r"^stages\.(\d+)\.downsample\.(\d+)\.(.*)$", n)
    if m:
        return f"downsample_layers.{m.group(1)}.{m.group(2)}.{m.group(3)}"
    m = re.match(r"^stages\.(\d+)\.blocks\.(\d+)\.(.*)$", n)
    if m:
        rest = m.group(3)
        rest = {
            "mlp.grn.weight": "grn.gamma",
            "mlp.grn.bias": "grn.beta",
        }.get(rest, rest)
        rest = re.sub(r"^conv_dw\.", "dwconv.", rest)
        rest = re.sub(r"^mlp\.fc1\.", "pwconv1.", rest)
        rest = re.sub(r"^mlp\.fc2\.", "pwconv2.", rest)
        return f"stages.{m.group(1)}.{m.group(2)}.{rest}"
    m = re.match(r"^head\.norm\.(.*)$", n)
    if m:
        return f"norm.{m.group(1)}"
    m = re.match(r"^head\.fc\.(.*)$", n)
    if m:
        return f"head.{m.group(1)}"
    return n


def layer_id(name, depths):
    """Official "single" layer-decay id of an official name (evaluation-spec §2)."""
    m = re.match(r"^downsample_layers\.(\d+)\.", name)
    if m:
        return sum(depths[: int(m.group(1))]) + 1
    m = re.match(r"^stages\.(\d+)\.(\d+)\.", name)
    if m:
        return sum(depths[: int(m.group(1))]) + int(m.group(2)) + 1
    return sum(depths) + 1


def param_groups(model, depths, layer_decay, weight_decay, engine_groups):
    L = sum(depths)
    groups = {}
    mismatches = []
    seen = set()
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        off = official_name(name)
        seen.add(off)
        lid = layer_id(off, depths)
        scale = layer_decay ** (L + 1 - lid)
        # no decay on 1-D tensors, biases and GRN gamma/beta (timm's GRN tensors are 1-D anyway)
        no_decay = p.ndim == 1 or off.endswith(".bias") or re.search(r"\.(gamma|beta)$", off)
        wd = 0.0 if no_decay else weight_decay
        if engine_groups is not None:
            eg = engine_groups.get(off)
            if eg is None:
                mismatches.append(f"{name} -> {off}: not an engine tensor")
            elif abs(eg[0] - scale) > 1e-6 * max(1.0, scale) or abs(eg[1] - wd) > 1e-12:
                mismatches.append(f"{off}: here (lr scale {scale}, wd {wd}), engine ({eg[0]}, {eg[1]})")
        key = (lid, wd)
        g = groups.setdefault(key, {"params": [], "weight_decay": wd, "lr_scale": scale, "lr": 0.0})
        g["params"].append(p)
    if engine_groups is not None:
        for off in engine_groups:
            if off not in seen:
                mismatches.append(f"{off}: engine tensor absent from the timm model")
    if mismatches:
        raise SystemExit("parameter groups differ from the engine's:\n  " + "\n  ".join(mismatches[:20]))
    return list(groups.values())


def build_model(depths, dims, num_classes, drop_path):
    model = ConvNeXt(
        depths=tuple(depths),
        dims=tuple(dims),
        use_grn=True,
        ls_init_value=None,
        num_classes=num_classes,
        drop_path_rate=drop_path,
    )
    # The official fine-tuning head: trunc-normal std 0.02 scaled by head_init_scale 0.001, bias 0.
    # (The rest is timm's init: conv / linear trunc-normal std 0.02, bias 0; LN 1/0; GRN 0.)
    with torch.no_grad():
        torch.nn.init.trunc_normal_(model.head.fc.weight, std=0.02)
        model.head.fc.weight.mul_(0.001)
        model.head.fc.bias.zero_()
    return model


def load_images(job):
    raw = np.fromfile(job["pixels"], dtype=np.uint8)
    out = []
    for im in job["images"]:
        n = im["height"] * im["width"] * 3
        a = raw[im["offset"] : im["offset"] + n].reshape(im["height"], im["width"], 3)
        out.append(Image.fromarray(a.copy(), mode="RGB"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--job", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with open(args.job) as f:
        job = json.load(f)
    threads = job.get("threads") or os.cpu_count() or 1
    torch.set_num_threads(int(threads))

    s = job["settings"]
    S = int(s["inputSize"])
    B = int(s["batchSize"])
    steps = int(s["totalSteps"])
    seed = int(s["seed"])
    lrs = job["lrs"]
    if len(lrs) != steps:
        raise SystemExit(f"{len(lrs)} learning rates for {steps} steps")
    depths, dims = job["model"]["depths"], job["model"]["dims"]
    K = len(job["classes"])
    torch.manual_seed(seed)
    np.random.seed(seed)

    images = load_images(job)
    labels = [im["label"] for im in job["images"]]
    train_idx, val_idx = job["train"], job["val"]

    model = build_model(depths, dims, K, float(s["dropPath"]))
    n_params = sum(p.numel() for p in model.parameters())
    if job.get("engine_parameters") is not None and int(job["engine_parameters"]) != n_params:
        raise SystemExit(f"timm model has {n_params} parameters, the engine's {job['engine_parameters']}")
    groups = param_groups(model, depths, float(s["layerDecay"]), float(s["weightDecay"]), job.get("engine_groups"))
    opt = torch.optim.AdamW(groups, lr=0.0, betas=(0.9, 0.999), eps=1e-8)

    # timm's fine-tuning crop without the extras (RandAugment, mixup, random erasing), as the engine
    train_tf = T.Compose(
        [
            T.RandomResizedCrop(S, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation=T.InterpolationMode.BICUBIC),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    eval_tf = T.Compose(
        [
            T.Resize(int(S / 0.875), interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(S),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )

    # Batch order: epoch after epoch of shuffles of the training images, carried across epoch
    # ends (a shuffling DataLoader with drop_last=False whose batches run on into the next epoch).
    gen = torch.Generator().manual_seed(seed)
    order = []

    def batch_of(k):  # k 1-based
        need = k * B
        while len(order) < need:
            order.extend(torch.randperm(len(train_idx), generator=gen).tolist())
        return [train_idx[i] for i in order[(k - 1) * B : k * B]]

    log(f"pytorch: timm {timm.__version__}, torch {torch.__version__}, {threads} threads; {n_params} parameters; "
        f"{len(train_idx)} train / {len(val_idx)} val; {S} px, batch {B}, {steps} steps, seed {seed}")
    t_train = time.perf_counter()
    model.train()
    losses = []
    for k in range(1, steps + 1):
        picked = batch_of(k)
        x = torch.stack([train_tf(images[i]) for i in picked])
        y = torch.tensor([labels[i] for i in picked], dtype=torch.long)
        lr = float(lrs[k - 1])
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=float(s["labelSmoothing"]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lv = float(loss.item())
        if not math.isfinite(lv):
            raise SystemExit(f"loss became {lv} at step {k}")
        losses.append(lv)
        if k == 1 or k % max(1, steps // 10) == 0 or k == steps:
            log(f"pytorch: step {k}/{steps} loss {lv:.4f} lr {lr:.3e}")
    train_s = time.perf_counter() - t_train

    model.eval()
    correct = 0
    confusion = [[0] * K for _ in range(K)]
    loss_sum = 0.0
    with torch.no_grad():
        for start in range(0, len(val_idx), 64):
            chunk = val_idx[start : start + 64]
            x = torch.stack([eval_tf(images[i]) for i in chunk])
            y = torch.tensor([labels[i] for i in chunk], dtype=torch.long)
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, label_smoothing=float(s["labelSmoothing"]), reduction="sum"))
            pred = logits.argmax(dim=1)
            for t, p in zip(y.tolist(), pred.tolist()):
                confusion[t][p] += 1
                correct += int(t == p)
    n = len(val_idx)
    per_class = {c: (confusion[k][k] / sum(confusion[k]) if sum(confusion[k]) else None) for k, c in enumerate(job["classes"])}
    result = {
        "val_top1": correct / n,
        "val_loss": loss_sum / n,
        "val_images": n,
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion,
        "final_train_loss": losses[-1],
        "parameters": n_params,
        "train_seconds": train_s,
        "total_seconds": time.perf_counter() - t0,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "threads": int(threads),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    log(f"pytorch: val top-1 {100 * correct / n:.2f} % on {n} images")


if __name__ == "__main__":
    main()
