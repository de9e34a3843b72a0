"""Fine-tuning fixtures from the real libraries: timm's ConvNeXt and transformers' ConvNextV2.

Run: /work/.refvenv/bin/python tests/reference/gen_finetune_fixtures.py [--out DIR] [CASE ...]
     → tests/fixtures/finetune/<case>/* (see tests/fixtures/finetune/README.md for every file).
The reference venv (torch 2.13 CPU, timm 1.0, transformers 5, safetensors) is built by
`/work/shared/scripts/reference-venv.sh /work/.refvenv`. Deterministic: fixed seeds, one CPU
thread, deterministic algorithms; rerunning gives identical bytes. With case names only those
cases are written. `--out DIR` writes under DIR instead (used to check determinism).

Models are built directly (no downloads), every parameter is redrawn at random (so no gradient
hides behind a zero init), rounded to float32, then the model runs in float64
(`model.double()`): the files hold float32-representable weights and images and float64
expectations, so a float64 reference can match to ~1e-12 and a float32 engine is compared with
tolerances of its own (expected.json gives each tensor's max |value| to scale them).

Cases (evaluation-spec §1, §2):
  timm_grn_ls       timm ConvNeXt, half atto widths, GRN, no layer scale, conv_mlp=True, K=5
  timm_96_k7        timm ConvNeXt, GRN, conv_mlp=False, 96×96 input, K=7, no smoothing
  timm_nogrn_k3     timm ConvNeXt without GRN (V1-style ablation, no layer scale), K=3
  hf_k4             transformers ConvNextV2ForImageClassification, K=4
  adamw_layer_decay 5 AdamW steps over the official fine-tuning parameter groups
                    (layer-wise lr decay "single", no decay on 1-D / bias / GRN)
  hf_export_keys    key lists + shapes, save_pretrained config.json, timm key lists, the
                    timm → HF name map, and what from_pretrained accepts (JSON only)

Before writing, the script checks (and fails rather than write a bad fixture):
- an independent functional float64 ConvNeXt V2 classifier (spec §1, official dense names,
  GRN written out as sqrt(sum x²)) reproduces each library's logits, features, loss and every
  gradient (through the name/shape maps timm → official and HF → official);
- timm's own `checkpoint_filter_fn` maps the official-name state dict back to timm's exactly
  (so the official names in groups.json are the ones timm itself understands);
- `.backward()` equals `torch.autograd.grad`; central finite differences agree with autograd on
  3 elements of every parameter tensor; train and eval mode give identical outputs;
- F.cross_entropy(label_smoothing) equals the spec §1 formula and timm's
  LabelSmoothingCrossEntropy (the criterion of the official main_finetune.py);
- GRN matters (γ = β = 0 moves the gradients by > 1e-2) and the no-GRN model equals the GRN
  model with γ = β = 0 exactly; no layer-scale `gamma` tensor exists anywhere;
- timm and transformers agree: the hf_k4 weights moved into timm (strict load) give the same
  logits and gradients; case a's timm weights moved into HF give the same logits;
- torch.optim.AdamW over the parameter groups equals the AdamW formula written in the README;
- every written safetensors file reads back to the same tensors and metadata.
"""
import argparse
import hashlib
import io
import json
import math
import os
import re
import sys
import tempfile
import contextlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import timm
import transformers
from timm.layers.grn import GlobalResponseNorm
from timm.loss import LabelSmoothingCrossEntropy
from timm.models.convnext import ConvNeXt, checkpoint_filter_fn
from transformers import ConvNextV2Config, ConvNextV2ForImageClassification, ConvNextV2Model
from transformers.models.convnextv2.modeling_convnextv2 import ConvNextV2GRN
from transformers.utils import logging as hf_logging

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_safetensors import read_safetensors, write_safetensors  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "fixtures", "finetune")
GENERATOR = "tests/reference/gen_finetune_fixtures.py"

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
F64 = torch.float64

# ---- the cases --------------------------------------------------------------------------------

# timm kwargs / HF config kwargs exactly as passed to the constructors.
CLASSIFIER_CASES = [
    dict(
        name="timm_grn_ls", library="timm", seed=11, H=64, W=64, N=3, smoothing=0.1,
        kwargs=dict(depths=[1, 1, 2, 1], dims=[20, 40, 80, 160], use_grn=True, ls_init_value=None,
                    conv_mlp=True, num_classes=5, drop_path_rate=0.0),
    ),
    dict(
        name="timm_96_k7", library="timm", seed=12, H=96, W=96, N=2, smoothing=0.0,
        kwargs=dict(depths=[1, 1, 3, 1], dims=[16, 32, 48, 64], use_grn=True, ls_init_value=None,
                    conv_mlp=False, num_classes=7, drop_path_rate=0.0),
    ),
    dict(
        name="timm_nogrn_k3", library="timm", seed=13, H=64, W=64, N=3, smoothing=0.2,
        kwargs=dict(depths=[1, 1, 2, 1], dims=[8, 16, 24, 32], use_grn=False, ls_init_value=None,
                    num_classes=3, drop_path_rate=0.0),
    ),
    dict(
        name="hf_k4", library="transformers", seed=14, H=64, W=64, N=2, smoothing=0.1,
        kwargs=dict(depths=[1, 1, 2, 1], hidden_sizes=[8, 16, 24, 32], num_labels=4, layer_norm_eps=1e-6,
                    drop_path_rate=0.0),
    ),
]
ADAMW_CASE = dict(
    name="adamw_layer_decay", library="timm", seed=15, H=64, W=64, N=2, smoothing=0.1, steps=5,
    kwargs=dict(depths=[1, 1, 2, 1], dims=[8, 16, 24, 32], use_grn=True, ls_init_value=None, num_classes=3,
                drop_path_rate=0.0),
    adamw=dict(betas=[0.9, 0.999], eps=1e-8, weight_decay=0.05, layer_decay=0.75, peak_lr=1e-3, warmup_steps=2,
               min_lr=0.0),
)
EXPORT_CASE = "hf_export_keys"
ALL_CASES = [c["name"] for c in CLASSIFIER_CASES] + [ADAMW_CASE["name"], EXPORT_CASE]


def build(case):
    """The library model in float32 (randomised afterwards)."""
    if case["library"] == "timm":
        return ConvNeXt(**case["kwargs"])
    return ConvNextV2ForImageClassification(ConvNextV2Config(**case["kwargs"]))


def config_json(case):
    cls = "timm.models.convnext.ConvNeXt" if case["library"] == "timm" else "transformers.ConvNextV2ForImageClassification"
    return {"library": case["library"], "class": cls, **case["kwargs"]}


def depths_of(case):
    return list(case["kwargs"]["depths"])


def dims_of(case):
    k = case["kwargs"]
    return list(k["dims"] if "dims" in k else k["hidden_sizes"])


def grn_of(case):
    return case["kwargs"].get("use_grn", True)  # HF ConvNextV2 always has GRN


# ---- random parameters ------------------------------------------------------------------------


def randomize(model, gen):
    """Redraw every parameter (in named_parameters order), rounded to float32:
    conv / linear weights N(0, σ²), σ = clamp(1/√fan_in, 0.02, 0.2) (activations stay O(1));
    their biases N(0, 0.1²); LayerNorm weights U(0.8, 1.2), biases N(0, 0.1²);
    GRN weight (γ) and bias (β) N(0, 0.1²)."""
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, p in model.named_parameters():
            owner, leaf = name.rsplit(".", 1)
            mod = modules[owner]
            shape = tuple(p.shape)
            if isinstance(mod, (GlobalResponseNorm, ConvNextV2GRN)):
                v = 0.1 * torch.randn(shape, generator=gen, dtype=F64)
            elif isinstance(mod, nn.LayerNorm):  # timm LayerNorm / LayerNorm2d, HF ConvNextV2LayerNorm, nn.LayerNorm
                if leaf == "weight":
                    v = 0.8 + 0.4 * torch.rand(shape, generator=gen, dtype=F64)
                else:
                    v = 0.1 * torch.randn(shape, generator=gen, dtype=F64)
            elif isinstance(mod, (nn.Conv2d, nn.Linear)):
                if leaf == "weight":
                    fan_in = p[0].numel()
                    std = min(0.2, max(0.02, 1.0 / math.sqrt(fan_in)))
                    v = std * torch.randn(shape, generator=gen, dtype=F64)
                else:
                    v = 0.1 * torch.randn(shape, generator=gen, dtype=F64)
            else:
                raise AssertionError(f"no init rule for {name} ({type(mod).__name__})")
            p.copy_(v.to(torch.float32))
    return model


def make_images(n, h, w, gen):
    """Smooth random pictures in [0, 1] (a few low-frequency waves + a little noise), then
    ImageNet-normalised and rounded to float32 values (as gen_model_fixtures.make_images,
    in float64 explicitly)."""
    yy = torch.linspace(0, 1, h, dtype=F64).reshape(1, h, 1)
    xx = torch.linspace(0, 1, w, dtype=F64).reshape(1, 1, w)
    imgs = torch.zeros(n, 3, h, w, dtype=F64)
    for i in range(n):
        for c in range(3):
            img = torch.full((1, h, w), 0.5, dtype=F64)
            for _ in range(4):
                fy, fx, ph = (torch.rand(3, generator=gen, dtype=F64) * torch.tensor([6.0, 6.0, 6.28], dtype=F64)).tolist()
                amp = float(torch.rand(1, generator=gen, dtype=F64)) * 0.25
                img = img + amp * torch.cos(2 * math.pi * (fy * yy + fx * xx) + ph)
            img = img + 0.05 * torch.randn(1, h, w, generator=gen, dtype=F64)
            imgs[i, c] = ((img.clamp(0, 1) - IMAGENET_MEAN[c]) / IMAGENET_STD[c])[0]
    return imgs.to(torch.float32).to(F64)


def make_labels(n, k, gen, repeat=True):
    labels = torch.randint(0, k, (n,), generator=gen, dtype=torch.int64)
    if repeat:
        labels[-1] = labels[0]  # a repeated class in every batch
    return labels


# ---- name maps --------------------------------------------------------------------------------


def timm_to_official(name):
    """timm ConvNeXt name → official ConvNeXt-V2 dense name (models/convnextv2.py)."""
    n = name
    n = re.sub(r"^stem\.", "downsample_layers.0.", n)
    n = re.sub(r"^stages\.(\d+)\.downsample\.", r"downsample_layers.\1.", n)
    n = re.sub(r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2.", n)
    n = n.replace(".conv_dw.", ".dwconv.").replace(".mlp.fc1.", ".pwconv1.").replace(".mlp.fc2.", ".pwconv2.")
    n = n.replace(".mlp.grn.weight", ".grn.gamma").replace(".mlp.grn.bias", ".grn.beta")
    n = re.sub(r"^head\.norm\.", "norm.", n)
    n = re.sub(r"^head\.fc\.", "head.", n)
    return n


def hf_to_official(name):
    """transformers ConvNextV2(ForImageClassification) name → official dense name."""
    n = name
    if n.startswith("classifier."):
        return "head." + n[len("classifier."):]
    if n.startswith("convnextv2.layernorm."):
        return "norm." + n[len("convnextv2.layernorm."):]
    n = re.sub(r"^convnextv2\.embeddings\.patch_embeddings\.", "downsample_layers.0.0.", n)
    n = re.sub(r"^convnextv2\.embeddings\.layernorm\.", "downsample_layers.0.1.", n)
    n = re.sub(r"^convnextv2\.encoder\.stages\.(\d+)\.downsampling_layer\.(\d+)\.", r"downsample_layers.\1.\2.", n)
    m = re.match(r"^convnextv2\.encoder\.stages\.(\d+)\.layers\.(\d+)\.(.*)$", n)
    if m:
        rest = m.group(3).replace("layernorm.", "norm.").replace("grn.weight", "grn.gamma").replace("grn.bias", "grn.beta")
        n = f"stages.{m.group(1)}.{m.group(2)}.{rest}"
    return n


def official_keys(depths, dims, grn, head=True):
    """The official dense classifier's state-dict names and shapes (spec §1)."""
    keys = [("downsample_layers.0.0.weight", (dims[0], 3, 4, 4)), ("downsample_layers.0.0.bias", (dims[0],)),
            ("downsample_layers.0.1.weight", (dims[0],)), ("downsample_layers.0.1.bias", (dims[0],))]
    for s in range(1, 4):
        keys += [(f"downsample_layers.{s}.0.weight", (dims[s - 1],)), (f"downsample_layers.{s}.0.bias", (dims[s - 1],)),
                 (f"downsample_layers.{s}.1.weight", (dims[s], dims[s - 1], 2, 2)), (f"downsample_layers.{s}.1.bias", (dims[s],))]
    for s, d in enumerate(depths):
        c = dims[s]
        for b in range(d):
            p = f"stages.{s}.{b}."
            keys += [(p + "dwconv.weight", (c, 1, 7, 7)), (p + "dwconv.bias", (c,)), (p + "norm.weight", (c,)),
                     (p + "norm.bias", (c,)), (p + "pwconv1.weight", (4 * c, c)), (p + "pwconv1.bias", (4 * c,))]
            if grn:
                keys += [(p + "grn.gamma", (1, 1, 1, 4 * c)), (p + "grn.beta", (1, 1, 1, 4 * c))]
            keys += [(p + "pwconv2.weight", (c, 4 * c)), (p + "pwconv2.bias", (c,))]
    keys += [("norm.weight", (dims[-1],)), ("norm.bias", (dims[-1],))]
    return keys


def to_official(case, tensors):
    """A library state dict (or gradient dict) → official names and official shapes."""
    out = {}
    for k, v in tensors.items():
        name = timm_to_official(k) if case["library"] == "timm" else hf_to_official(k)
        if ".grn." in name:
            v = v.reshape(1, 1, 1, -1)
        elif ".pwconv" in name and name.endswith(".weight"):
            v = v.reshape(v.shape[0], v.shape[1])  # timm conv_mlp: (out, in, 1, 1)
        assert name not in out, f"two names map to {name}"
        out[name] = v
    return out


# ---- an independent functional reference of the classifier (spec §1) ---------------------------


def reference_forward(sd, depths, x, eps=1e-6):
    """ConvNeXt V2 classifier in plain torch ops from official dense names: stem conv 4×4/4 + LN;
    per stage S > 0 LN + conv 2×2/2; blocks dwconv 7×7 (pad 3) → LN → pwconv1 → GELU (erf) →
    GRN → pwconv2 → + residual; global mean over H, W → LN → head. Every LN has eps 1e-6 over
    channels; GRN: G = sqrt(Σ_sites x²), N = G / (mean_channels G + 1e-6), γ·(x·N) + β + x."""

    def ln_channels(t, w, b):
        return F.layer_norm(t.permute(0, 2, 3, 1), (t.shape[1],), w, b, eps).permute(0, 3, 1, 2)

    x = F.conv2d(x, sd["downsample_layers.0.0.weight"], sd["downsample_layers.0.0.bias"], stride=4)
    x = ln_channels(x, sd["downsample_layers.0.1.weight"], sd["downsample_layers.0.1.bias"])
    for s, d in enumerate(depths):
        if s > 0:
            x = ln_channels(x, sd[f"downsample_layers.{s}.0.weight"], sd[f"downsample_layers.{s}.0.bias"])
            x = F.conv2d(x, sd[f"downsample_layers.{s}.1.weight"], sd[f"downsample_layers.{s}.1.bias"], stride=2)
        for b in range(d):
            p = f"stages.{s}.{b}."
            c = x.shape[1]
            y = F.conv2d(x, sd[p + "dwconv.weight"], sd[p + "dwconv.bias"], padding=3, groups=c)
            y = y.permute(0, 2, 3, 1)
            y = F.layer_norm(y, (c,), sd[p + "norm.weight"], sd[p + "norm.bias"], eps)
            y = y @ sd[p + "pwconv1.weight"].T + sd[p + "pwconv1.bias"]
            y = 0.5 * y * (1 + torch.erf(y / math.sqrt(2.0)))
            if p + "grn.gamma" in sd:
                g = (y * y).sum(dim=(1, 2), keepdim=True).sqrt()
                nx = g / (g.mean(dim=-1, keepdim=True) + 1e-6)
                y = sd[p + "grn.gamma"] * (y * nx) + sd[p + "grn.beta"] + y
            y = y @ sd[p + "pwconv2.weight"].T + sd[p + "pwconv2.bias"]
            x = x + y.permute(0, 3, 1, 2)
    feats = F.layer_norm(x.mean(dim=(2, 3)), (x.shape[1],), sd["norm.weight"], sd["norm.bias"], eps)
    logits = feats @ sd["head.weight"].T + sd["head.bias"]
    return logits, feats


def smoothed_ce_formula(logits, labels, eps):
    """Spec §1: mean over the batch of (1 − ε)·(−log p_y) + ε·mean_k(−log p_k)."""
    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(1, labels[:, None])[:, 0]
    return ((1 - eps) * nll + eps * (-logp.mean(dim=-1))).mean()


# ---- forward / gradients through the library ----------------------------------------------------


def library_forward(case, model, x):
    """(logits, features) exactly as a user of the library gets them."""
    if case["library"] == "timm":
        logits = model(x)
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
    else:
        logits = model(pixel_values=x).logits
        feats = model.convnextv2(pixel_values=x).pooler_output
    return logits, feats


def loss_and_grads(case, model, x, labels):
    model.zero_grad(set_to_none=True)
    logits, feats = library_forward(case, model, x)
    loss = F.cross_entropy(logits, labels, label_smoothing=case["smoothing"])
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return loss.detach(), logits.detach(), feats.detach(), grads


def rel_err(a, b):
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-300))


# ---- checks -----------------------------------------------------------------------------------


def check_names_and_shapes(case, model):
    sd = model.state_dict()
    assert set(sd) == {n for n, _ in model.named_parameters()}, "state_dict holds non-parameters"
    assert not any(re.search(r"(^|\.)gamma$", k) for k in sd), "a layer-scale gamma exists (ls_init_value must be None)"
    off = to_official(case, sd)
    want = dict(official_keys(depths_of(case), dims_of(case), grn_of(case)))
    want["head.weight"] = (case["K"], dims_of(case)[-1])
    want["head.bias"] = (case["K"],)
    assert set(off) == set(want), f"official names differ: {sorted(set(off) ^ set(want))}"
    for k, v in off.items():
        assert tuple(v.shape) == tuple(want[k]), f"{k}: shape {tuple(v.shape)} vs official {want[k]}"
    if case["library"] == "timm":
        # timm's own FB → timm conversion must give back timm's names, shapes and values exactly
        back = checkpoint_filter_fn({k: v.clone() for k, v in off.items()}, model)
        assert set(back) == set(sd), f"checkpoint_filter_fn names differ: {sorted(set(back) ^ set(sd))}"
        for k, v in sd.items():
            assert back[k].shape == v.shape and torch.equal(back[k], v), f"checkpoint_filter_fn changes {k}"
    return off


def check_reference(case, model, x, labels, loss, logits, feats, grads):
    """The functional reference (official names) gives the library's outputs and gradients."""
    off = {k: v.detach().clone().requires_grad_(True) for k, v in to_official(case, model.state_dict()).items()}
    r_logits, r_feats = reference_forward(off, depths_of(case), x)
    r_loss = F.cross_entropy(r_logits, labels, label_smoothing=case["smoothing"])
    names = list(off)
    r_grads = dict(zip(names, torch.autograd.grad(r_loss, [off[n] for n in names])))
    errs = {"logits": rel_err(r_logits.detach(), logits), "features": rel_err(r_feats.detach(), feats),
            "loss": abs(float(r_loss.detach()) - float(loss)) / abs(float(loss))}
    g_off = to_official(case, grads)
    errs["grads"] = max(rel_err(r_grads[n], g_off[n]) for n in names)
    for key, e in errs.items():
        assert e < 1e-10, f"functional reference differs from the library in {key}: {e:.2e}"
    return max(errs.values())


def check_losses(logits, labels, eps, loss):
    f = smoothed_ce_formula(logits, labels, eps)
    assert abs(float(f) - float(loss)) < 1e-14 * max(1.0, abs(float(loss))), "CE label smoothing formula differs"
    if eps > 0:
        t = LabelSmoothingCrossEntropy(smoothing=eps)(logits, labels)
        assert abs(float(t) - float(loss)) < 1e-14 * max(1.0, abs(float(loss))), "timm LabelSmoothingCrossEntropy differs"
    else:
        assert torch.equal(F.cross_entropy(logits, labels), loss), "smoothing 0 must be plain CE"


def check_autograd_harvest(case, model, x, labels, grads):
    logits, _ = library_forward(case, model, x)
    loss = F.cross_entropy(logits, labels, label_smoothing=case["smoothing"])
    names = [n for n, _ in model.named_parameters()]
    direct = torch.autograd.grad(loss, [p for _, p in model.named_parameters()])
    for n, g in zip(names, direct):
        assert torch.equal(g, grads[n]), f"autograd mismatch for {n}"


def check_train_eval(case, model, x, logits, feats):
    model.train()
    with torch.no_grad():
        l2, f2 = library_forward(case, model, x)
    model.eval()
    assert torch.equal(l2, logits) and torch.equal(f2, feats), "train and eval mode differ (dropout / drop path?)"


def check_finite_differences(case, model, x, labels, grads, gen, per_tensor=2):
    h = 1e-6
    worst, count = 0.0, 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            g = grads[name].reshape(-1)
            flat = p.view(-1)
            picks = [int(g.abs().argmax())] + torch.randint(0, flat.numel(), (per_tensor,), generator=gen).tolist()
            for idx in picks:
                orig = float(flat[idx])
                flat[idx] = orig + h
                lp = float(F.cross_entropy(library_forward(case, model, x)[0], labels, label_smoothing=case["smoothing"]))
                flat[idx] = orig - h
                lm = float(F.cross_entropy(library_forward(case, model, x)[0], labels, label_smoothing=case["smoothing"]))
                flat[idx] = orig
                fd = (lp - lm) / (2 * h)
                an = float(g[idx])
                err = abs(fd - an)
                assert err <= 1e-8 + 1e-6 * abs(an), f"finite differences: {name}[{idx}] fd {fd} vs autograd {an}"
                worst = max(worst, err / (1e-8 + abs(an)))
                count += 1
    return count, worst


def check_grn(case, model, x, labels, loss, grads):
    """GRN on: zeroing γ, β moves the gradients. GRN off: equals the GRN model with γ = β = 0."""
    if case["library"] == "timm" and not grn_of(case):
        other = ConvNeXt(**{**case["kwargs"], "use_grn": True}).double()
        state = dict(model.state_dict())
        for n, p in other.named_parameters():
            if ".grn." in n:
                state[n] = torch.zeros_like(p)
        other.load_state_dict(state, strict=True)
        other.eval()
        loss0, _, _, grads0 = loss_and_grads(case, other, x, labels)
        assert torch.equal(loss0, loss), "no GRN differs from GRN with γ = β = 0"
        for n, g in grads.items():
            assert torch.allclose(grads0[n], g, rtol=1e-12, atol=1e-16), f"GRN γ = β = 0 changes the gradient of {n}"
        return "no-GRN == GRN(γ=β=0) exactly"
    clone = build(case).double()
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        for n, p in clone.named_parameters():
            if ".grn." in n:
                p.zero_()
    clone.eval()
    _, _, _, grads0 = loss_and_grads(case, clone, x, labels)
    moved = max(float((grads0[k] - g).norm() / g.norm()) for k, g in grads.items() if ".grn." not in k)
    assert moved > 1e-2, f"GRN γ, β move the gradients by only {moved:.1e}"
    return f"GRN γ=β=0 moves grads {moved:.1e}"


# ---- timm ⇄ transformers ------------------------------------------------------------------------


def official_to_timm(off, timm_model):
    return checkpoint_filter_fn({k: v.clone() for k, v in off.items()}, timm_model)


def official_to_hf(off, hf_model):
    sd = hf_model.state_dict()
    out = {}
    for k, v in sd.items():
        out[k] = off[hf_to_official(k)].reshape(v.shape)
    assert len(out) == len(off)
    return out


def check_hf_vs_timm(case, model, x, labels, logits, grads):
    """hf_k4's weights in timm (conv_mlp=False, GRN, strict load): same logits and gradients."""
    k = case["kwargs"]
    tm = ConvNeXt(depths=k["depths"], dims=k["hidden_sizes"], use_grn=True, ls_init_value=None,
                  num_classes=k["num_labels"], drop_path_rate=0.0).double()
    off = to_official(case, model.state_dict())
    tm.load_state_dict(official_to_timm(off, tm), strict=True)
    tm.eval()
    tcase = {**case, "library": "timm"}
    t_loss, t_logits, _, t_grads = loss_and_grads(tcase, tm, x, labels)
    e_logits = rel_err(t_logits, logits)
    g_hf = to_official(case, grads)
    g_tm = to_official(tcase, t_grads)
    e_grads = max(rel_err(g_tm[n], g_hf[n]) for n in g_hf)
    assert e_logits < 1e-12 and e_grads < 1e-10, f"timm and HF differ: logits {e_logits:.1e}, grads {e_grads:.1e}"
    # HF's default final-LN eps (1e-12) against 1e-6
    hf12 = ConvNextV2ForImageClassification(ConvNextV2Config(**{**k, "layer_norm_eps": 1e-12})).double()
    hf12.load_state_dict(model.state_dict())
    hf12.eval()
    with torch.no_grad():
        l12 = hf12(pixel_values=x).logits
    return e_logits, e_grads, float((l12 - logits).abs().max())


# ---- writing helpers ----------------------------------------------------------------------------


def f32(t):
    return ("F32", t.detach().to(torch.float32))


def f64(t):
    return ("F64", t.detach().to(F64))


def i64(t):
    return ("I64", t.detach().to(torch.int64))


class Writer:
    def __init__(self, root):
        self.root = root
        self.files = []

    def safetensors(self, case, fname, tensors, meta):
        path = os.path.join(self.root, case, fname)
        write_safetensors(path, tensors, meta)
        back, back_meta = read_safetensors(path)
        assert back_meta == meta and set(back) == set(tensors), f"{path} does not read back"
        for k, (dt, v) in tensors.items():
            arr = v.detach().cpu().numpy()
            assert np.array_equal(back[k].astype(arr.dtype), arr) and list(back[k].shape) == list(arr.shape), f"{path}: {k}"
        self.files.append(path)

    def json(self, case, fname, obj, raw=None):
        path = os.path.join(self.root, case, fname)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            if raw is not None:
                f.write(raw)
            else:
                text = dump_json(obj)
                assert json.loads(text) == obj, f"{path}: compact JSON does not read back"
                f.write(text)
        self.files.append(path)


def dump_json(obj):
    """json.dumps(indent=1) with every array of plain numbers (shapes, lr lists) kept on one line."""
    text = json.dumps(obj, indent=1)
    text = re.sub(r"\[\s*((?:-?[\d.eE+-]+|null|true|false)(?:,\s*(?:-?[\d.eE+-]+|null|true|false))*)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    # [name, [shape]] pairs (the key lists) on one line each
    text = re.sub(r'\[\s*("(?:[^"\\]|\\.)*"),\s*(\[[^\[\]"]*\])\s*\]', r"[\1, \2]", text)
    return text + "\n"


def max_abs(tensors):
    return {k: float(v.detach().abs().max()) for k, v in tensors.items()}


# ---- cases a–d ----------------------------------------------------------------------------------


def classifier_case(case, writer):
    name = case["name"]
    k = case["kwargs"]
    case["K"] = k["num_classes"] if case["library"] == "timm" else k["num_labels"]
    gen = torch.Generator().manual_seed(case["seed"])
    model = randomize(build(case), gen).double()
    model.eval()
    x = make_images(case["N"], case["H"], case["W"], gen)
    labels = make_labels(case["N"], case["K"], gen)

    check_names_and_shapes(case, model)
    loss, logits, feats, grads = loss_and_grads(case, model, x, labels)
    assert math.isfinite(float(loss))
    check_losses(logits, labels, case["smoothing"], loss)
    if case["library"] == "timm":
        with torch.no_grad():
            assert torch.equal(model.head.fc(feats), logits), "logits are not head.fc(pre_logits)"
    else:
        with torch.no_grad():
            assert torch.equal(model.classifier(feats), logits), "logits are not classifier(pooler_output)"
    ref_err = check_reference(case, model, x, labels, loss, logits, feats, grads)
    check_autograd_harvest(case, model, x, labels, grads)
    check_train_eval(case, model, x, logits, feats)
    fd_count, fd_worst = check_finite_differences(case, model, x, labels, grads, gen)
    grn_note = check_grn(case, model, x, labels, loss, grads)
    extra = {}
    if case["library"] == "transformers":
        e_l, e_g, d12 = check_hf_vs_timm(case, model, x, labels, logits, grads)
        extra = {"timm_equivalence": {"logits_rel_err": e_l, "grads_rel_err": e_g},
                 "hf_default_eps_1e-12_logits_max_abs_diff": d12}
        grn_note += f"; timm == HF (logits {e_l:.0e}, grads {e_g:.0e}); eps 1e-12 would move logits by {d12:.1e}"

    meta = {"config": json.dumps(config_json(case), sort_keys=True), "library": case["library"], "generator": GENERATOR}
    state = model.state_dict()
    writer.safetensors(name, "weights.safetensors", {n: f32(v) for n, v in state.items()}, meta)
    writer.safetensors(name, "batch.safetensors", {"imgs": f32(x), "labels": i64(labels)}, meta)
    outputs = {"logits": f64(logits), "features": f64(feats), "loss": f64(loss.reshape(1))}
    writer.safetensors(name, "outputs.safetensors", outputs, meta)
    # float32: the engine computes in float32, and float64 gradients would double the fixture's
    # size for a rounding (6e-8 relative) far below the tolerances.
    writer.safetensors(name, "grads.safetensors", {n: f32(g) for n, g in grads.items()}, meta)
    g_max_name = max(grads, key=lambda n: float(grads[n].abs().max()))
    expected = {
        "name": name,
        "config": config_json(case),
        "library": case["library"],
        "versions": {"torch": torch.__version__, "timm": timm.__version__, "transformers": transformers.__version__},
        "smoothing": case["smoothing"],
        "N": case["N"], "H": case["H"], "W": case["W"], "K": case["K"],
        "labels": labels.tolist(),
        "seed": case["seed"],
        "loss": float(loss),
        "param_count": sum(v.numel() for v in state.values()),
        "max_abs": {
            "imgs": float(x.abs().max()),
            "outputs": max_abs({"logits": logits, "features": feats, "loss": loss}),
            "weights": max_abs(state),
            "grads": max_abs(grads),
        },
        "max_abs_grad": {"value": float(grads[g_max_name].abs().max()), "tensor": g_max_name},
        **extra,
    }
    writer.json(name, "expected.json", expected)
    print(f"{name}: loss {float(loss):.6f}, max |grad| {expected['max_abs_grad']['value']:.4e} ({g_max_name}); "
          f"{expected['param_count']} params; reference rel err {ref_err:.1e}; FD {fd_count} ok (worst {fd_worst:.1e}); {grn_note}")


# ---- case e: AdamW with the official parameter groups ----------------------------------------------


def layer_id_single(official_name, depths):
    """Official optim_factory.get_num_layer_for_convnext_single."""
    L = sum(depths)
    if official_name.startswith("downsample_layers"):
        return sum(depths[: int(official_name.split(".")[1])]) + 1
    if official_name.startswith("stages"):
        s, b = int(official_name.split(".")[1]), int(official_name.split(".")[2])
        return sum(depths[:s]) + b + 1
    return L + 1


def official_no_decay(official_name, official_shape):
    """Official optim_factory.get_parameter_groups (skip_list empty)."""
    return (len(official_shape) == 1 or official_name.endswith(".bias") or official_name.endswith(".gamma")
            or official_name.endswith(".beta"))


def lr_schedule(cfg, steps):
    """Linear warmup to the peak over `warmup_steps` steps, lr_t = peak·(t+1)/W for t < W (0-based
    t, so the first step already moves the weights), then half-cosine to min_lr over the rest:
    lr_t = min + (peak − min)·½(1 + cos(π·(t − W)/(T − W)))."""
    peak, w, lo = cfg["peak_lr"], cfg["warmup_steps"], cfg["min_lr"]
    out = []
    for t in range(steps):
        if t < w:
            out.append(peak * (t + 1) / w)
        else:
            out.append(lo + (peak - lo) * 0.5 * (1 + math.cos(math.pi * (t - w) / (steps - w))))
    return out


def param_groups(case, model):
    """One group per (layer id, decay / no_decay), in order of first appearance, as the
    official get_parameter_groups builds them; lr_scale = ld^(L + 1 − id)."""
    cfg = case["adamw"]
    depths = depths_of(case)
    L = sum(depths)
    info = {}
    groups = {}
    state = model.state_dict()
    off_state = to_official(case, state)
    for name, p in model.named_parameters():
        off = timm_to_official(name)
        lid = layer_id_single(off, depths)
        no_decay = official_no_decay(off, tuple(off_state[off].shape))
        timm_rule = p.ndim == 1 or name.endswith(".bias") or ".grn." in name
        assert no_decay == timm_rule, f"decay rules disagree for {name}"
        wd = 0.0 if no_decay else cfg["weight_decay"]
        scale = cfg["layer_decay"] ** (L + 1 - lid)
        key = f"layer_{lid}_{'no_decay' if no_decay else 'decay'}"
        info[name] = {"official": off, "layer_id": lid, "lr_scale": scale, "weight_decay": wd, "group": key}
        if key not in groups:
            groups[key] = {"name": key, "layer_id": lid, "lr_scale": scale, "weight_decay": wd, "params": []}
        groups[key]["params"].append(name)
    return info, list(groups.values())


def manual_adamw(case, params0, info, batches, lrs):
    """AdamW as the README states it, per parameter with its group's lr scale and decay."""
    cfg = case["adamw"]
    b1, b2 = cfg["betas"]
    eps = cfg["eps"]
    model = build(case).double()
    model.eval()
    p = {k: v.clone() for k, v in params0.items()}
    m = {k: torch.zeros_like(v) for k, v in p.items()}
    v = {k: torch.zeros_like(x) for k, x in p.items()}
    for t, ((x, y), base) in enumerate(zip(batches, lrs), start=1):
        model.load_state_dict(p)
        _, _, _, g = loss_and_grads(case, model, x, y)
        for k in p:
            lr = base * info[k]["lr_scale"]
            p[k] = p[k] * (1 - lr * info[k]["weight_decay"])
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            p[k] = p[k] - lr * (m[k] / (1 - b1 ** t)) / ((v[k] / (1 - b2 ** t)).sqrt() + eps)
    return p


def adamw_case(case, writer):
    name = case["name"]
    cfg = case["adamw"]
    case["K"] = case["kwargs"]["num_classes"]
    steps = case["steps"]
    gen = torch.Generator().manual_seed(case["seed"])
    model = randomize(build(case), gen).double()
    model.eval()
    check_names_and_shapes(case, model)
    imgs = torch.stack([make_images(case["N"], case["H"], case["W"], gen) for _ in range(steps)])
    labels = torch.stack([make_labels(case["N"], case["K"], gen, repeat=(s % 2 == 0)) for s in range(steps)])
    batches = list(zip(imgs, labels))
    lrs = lr_schedule(cfg, steps)
    info, groups = param_groups(case, model)
    init = {k: v.clone() for k, v in model.state_dict().items()}

    params = dict(model.named_parameters())
    opt = torch.optim.AdamW(
        [{"params": [params[n] for n in g["params"]], "weight_decay": g["weight_decay"], "lr_scale": g["lr_scale"],
          "lr": cfg["peak_lr"] * g["lr_scale"]} for g in groups],
        lr=cfg["peak_lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"], weight_decay=cfg["weight_decay"],
    )
    losses, after1 = [], None
    for t, ((x, y), base) in enumerate(zip(batches, lrs)):
        for g in opt.param_groups:
            g["lr"] = base * g["lr_scale"]  # official utils.adjust_learning_rate
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=case["smoothing"])
        loss.backward()
        losses.append(float(loss.detach()))
        opt.step()
        if t == 0:
            after1 = {k: v.detach().clone() for k, v in model.state_dict().items()}
    after5 = {k: v.detach().clone() for k, v in model.state_dict().items()}

    manual = manual_adamw(case, init, info, batches, lrs)
    worst = max(rel_err(after5[k], manual[k]) for k in after5)
    assert worst < 1e-12, f"torch AdamW differs from the README formula ({worst:.1e})"
    moved1 = max(float((after1[k] - init[k]).abs().max()) for k in init)
    assert moved1 > 0, "step 1 did not move the weights"
    # Layer decay took effect: the first Adam step is lr·scale·g/(|g| + eps) per element, so each
    # tensor's largest first-step change (decay aside) is its group's lr·scale (|g| >> eps there).
    for k in init:
        d = float((after1[k] - init[k] * (1 - lrs[0] * info[k]["lr_scale"] * info[k]["weight_decay"])).abs().max())
        want = lrs[0] * info[k]["lr_scale"]
        assert want * (1 - 1e-3) <= d <= want * (1 + 1e-9), f"first step of {k}: {d} vs lr·scale {want}"

    meta = {"config": json.dumps(config_json(case), sort_keys=True), "library": "timm", "generator": GENERATOR}
    writer.safetensors(name, "weights.safetensors", {n: f32(v) for n, v in init.items()}, meta)
    writer.safetensors(name, "batches.safetensors", {"imgs": f32(imgs), "labels": i64(labels)}, meta)
    traj = {"loss": f64(torch.tensor(losses, dtype=F64)), "lr": f64(torch.tensor(lrs, dtype=F64))}
    traj.update({f"after1.{k}": f64(v) for k, v in after1.items()})
    traj.update({f"after5.{k}": f64(v) for k, v in after5.items()})
    writer.safetensors(name, "trajectory.safetensors", traj, meta)
    depths = depths_of(case)
    writer.json(name, "groups.json", {
        "layer_decay": cfg["layer_decay"], "layer_decay_type": "single", "weight_decay": cfg["weight_decay"],
        "depths": depths, "num_layers": sum(depths),
        "lr_scale_of_layer_id": [cfg["layer_decay"] ** (sum(depths) + 1 - i) for i in range(sum(depths) + 2)],
        "params": info,
        "groups": groups,
    })
    expected = {
        "name": name,
        "config": config_json(case),
        "library": "timm",
        "versions": {"torch": torch.__version__, "timm": timm.__version__, "transformers": transformers.__version__},
        "smoothing": case["smoothing"], "N": case["N"], "H": case["H"], "W": case["W"], "K": case["K"],
        "steps": steps, "seed": case["seed"],
        "adamw": {**cfg, "optimizer": "torch.optim.AdamW", "amsgrad": False, "maximize": False, "grad_clip": None},
        "lr_schedule": "lr_t = peak*(t+1)/warmup for t < warmup (t = 0-based step); then "
                       "min_lr + (peak - min_lr)*0.5*(1 + cos(pi*(t - warmup)/(steps - warmup))); "
                       "group lr = lr_t * lr_scale",
        "lr": lrs,
        "loss": losses,
        "labels": labels.tolist(),
        "param_count": sum(v.numel() for v in init.values()),
        "max_abs": {
            "weights": max_abs(init),
            "after1": max_abs(after1),
            "after5": max_abs(after5),
            "delta_after1": max_abs({k: after1[k] - init[k] for k in init}),
            "delta_after5": max_abs({k: after5[k] - init[k] for k in init}),
        },
    }
    writer.json(name, "expected.json", expected)
    print(f"{name}: losses {', '.join(f'{v:.6f}' for v in losses)}; lr {', '.join(f'{v:.2e}' for v in lrs)}; "
          f"{len(groups)} groups; max |Δ| after 1 step {moved1:.3e}; AdamW == formula (worst {worst:.1e})")


# ---- case f: export key lists ------------------------------------------------------------------------


def keys_with_shapes(sd):
    return [[k, list(v.shape)] for k, v in sd.items()]


def save_pretrained_files(model):
    """(config.json text, [[key, shape]] from model.safetensors, safetensors metadata)."""
    with tempfile.TemporaryDirectory() as d:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model.save_pretrained(d)
        files = sorted(os.listdir(d))
        assert files == ["config.json", "model.safetensors"], files
        with open(os.path.join(d, "config.json")) as f:
            text = f.read()
        tensors, meta = read_safetensors(os.path.join(d, "model.safetensors"))
    return text, [[k, list(v.shape)] for k, v in sorted(tensors.items())], meta


def try_from_pretrained(cls, config, tensors, meta=None):
    """Write config.json + model.safetensors (this repository's writer) and load them."""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f)
        write_safetensors(os.path.join(d, "model.safetensors"), {k: f32(v) for k, v in tensors.items()}, meta)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                m, info = cls.from_pretrained(d, output_loading_info=True)
        except Exception as e:  # noqa: BLE001 (the failure itself is the fact recorded)
            msg = str(e).split("\n")[0].replace(d, "<dir>")  # no temporary path in the fixture
            return {"ok": False, "error": type(e).__name__ + ": " + msg[:200]}
        sd = m.state_dict()
        same = all(torch.equal(sd[k if k in sd else re.sub(r"^convnextv2\.", "", k)].float(), v.float())
                   for k, v in tensors.items() if k in sd or re.sub(r"^convnextv2\.", "", k) in sd)
        return {"ok": True, "missing": sorted(info["missing_keys"]), "unexpected": sorted(info["unexpected_keys"]),
                "mismatched": sorted(str(x) for x in info.get("mismatched_keys", [])),
                "num_labels": m.config.num_labels, "layer_norm_eps": m.config.layer_norm_eps, "values_equal": same}


def export_case(writer):
    name = EXPORT_CASE
    a = next(c for c in CLASSIFIER_CASES if c["name"] == "timm_grn_ls")
    d = next(c for c in CLASSIFIER_CASES if c["name"] == "hf_k4")
    hf_cfgs = {
        "timm_grn_ls": dict(depths=a["kwargs"]["depths"], hidden_sizes=a["kwargs"]["dims"], layer_norm_eps=1e-6,
                            drop_path_rate=0.0, num_labels=a["kwargs"]["num_classes"]),
        "hf_k4": dict(d["kwargs"]),
    }
    summary = {}
    torch.manual_seed(0)  # HF / timm init draws (values are not written, only names and shapes)
    for tag, kw in hf_cfgs.items():
        base_kw = {k: v for k, v in kw.items() if k != "num_labels"}
        for kind, model in (("model", ConvNextV2Model(ConvNextV2Config(**base_kw))),
                            ("cls", ConvNextV2ForImageClassification(ConvNextV2Config(**kw)))):
            text, saved_keys, st_meta = save_pretrained_files(model)
            sd_keys = keys_with_shapes(model.state_dict())
            assert sorted(map(tuple, map(lambda e: (e[0], tuple(e[1])), sd_keys))) == \
                sorted(map(lambda e: (e[0], tuple(e[1])), saved_keys)), "save_pretrained writes other keys than state_dict"
            writer.json(name, f"hf_{kind}_keys_{tag}.json", {
                "class": "ConvNextV2Model" if kind == "model" else "ConvNextV2ForImageClassification",
                "config": kw if kind == "cls" else base_kw,
                "keys": sd_keys,
                "safetensors_metadata": st_meta,
            })
            writer.json(name, f"hf_{kind}_config_{tag}.json", None, raw=text)
            summary[f"hf_{kind}_{tag}"] = len(sd_keys)

    # timm key lists for case a's config, with head and headless
    for suffix, nc in (("", a["kwargs"]["num_classes"]), ("_headless", 0)):
        kw = {**a["kwargs"], "num_classes": nc}
        tm = ConvNeXt(**kw)
        writer.json(name, f"timm_keys_timm_grn_ls{suffix}.json", {
            "class": "timm.models.convnext.ConvNeXt", "config": kw, "keys": keys_with_shapes(tm.state_dict())})
        summary[f"timm{suffix}"] = len(tm.state_dict())

    # timm (case a) → official → HF name map, checked numerically: same logits in float64.
    gen = torch.Generator().manual_seed(a["seed"])
    tm = randomize(ConvNeXt(**a["kwargs"]), gen).double().eval()
    a_case = {**a, "K": a["kwargs"]["num_classes"]}
    off = to_official(a_case, tm.state_dict())
    hf = ConvNextV2ForImageClassification(ConvNextV2Config(**hf_cfgs["timm_grn_ls"])).double().eval()
    hf_sd = official_to_hf(off, hf)
    hf.load_state_dict(hf_sd, strict=True)
    x = make_images(2, 64, 64, gen)
    with torch.no_grad():
        e = rel_err(hf(pixel_values=x).logits, tm(x))
    assert e < 1e-12, f"case a weights in HF give other logits ({e:.1e})"
    # and back: HF → official → timm (checkpoint_filter_fn) is the identity on timm's tensors
    back = official_to_timm({hf_to_official(k): v for k, v in hf_sd.items()}, tm)
    assert all(torch.equal(back[k], v) for k, v in tm.state_dict().items()) and set(back) == set(tm.state_dict())
    hf_of_official = {hf_to_official(k): k for k in hf.state_dict()}
    hf_shapes = {k: list(v.shape) for k, v in hf.state_dict().items()}
    mapping = []
    for k, v in tm.state_dict().items():
        o = timm_to_official(k)
        h = hf_of_official[o]
        mapping.append({"timm": k, "timm_shape": list(v.shape), "official": o, "official_shape": list(off[o].shape),
                        "hf": h, "hf_shape": hf_shapes[h]})
    writer.json(name, "timm_to_hf_timm_grn_ls.json", {
        "timm_config": a["kwargs"], "hf_config": hf_cfgs["timm_grn_ls"],
        "note": "same numbers, only reshaped: (out,in,1,1) <-> (out,in) for conv_mlp fc1/fc2, (4C,) <-> (1,1,1,4C) for GRN",
        "logits_rel_err_after_transfer": e, "map": mapping})

    # What from_pretrained accepts (files written by this repository's safetensors writer).
    hk = hf_cfgs["hf_k4"]
    m = randomize(ConvNextV2ForImageClassification(ConvNextV2Config(**hk)), torch.Generator().manual_seed(1))
    cls_sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
    enc_sd = {k[len("convnextv2."):]: v for k, v in cls_sd.items() if k.startswith("convnextv2.")}
    enc_prefixed = {k: v for k, v in cls_sd.items() if k.startswith("convnextv2.")}
    minimal = {"model_type": "convnextv2", "depths": hk["depths"], "hidden_sizes": hk["hidden_sizes"],
               "layer_norm_eps": 1e-6, "num_labels": 4}
    id2label = {**{k: v for k, v in minimal.items() if k != "num_labels"},
                "id2label": {str(i): f"class_{i}" for i in range(4)}, "label2id": {f"class_{i}": i for i in range(4)}}
    no = lambda key: {k: v for k, v in minimal.items() if k != key}  # noqa: E731
    trials = [
        ("cls, minimal config, no safetensors metadata", ConvNextV2ForImageClassification, minimal, cls_sd, None),
        ("cls, minimal config, metadata format=pt", ConvNextV2ForImageClassification, minimal, cls_sd, {"format": "pt"}),
        ("cls, id2label/label2id instead of num_labels", ConvNextV2ForImageClassification, id2label, cls_sd, None),
        ("cls, no num_labels (default 2)", ConvNextV2ForImageClassification, no("num_labels"), cls_sd, None),
        ("cls, no layer_norm_eps (default 1e-12)", ConvNextV2ForImageClassification, no("layer_norm_eps"), cls_sd, None),
        ("cls, no model_type", ConvNextV2ForImageClassification, no("model_type"), cls_sd, None),
        ("AutoModelForImageClassification, minimal config", transformers.AutoModelForImageClassification, minimal, cls_sd, None),
        ("AutoModelForImageClassification, no model_type", transformers.AutoModelForImageClassification, no("model_type"), cls_sd, None),
        ("model, encoder keys without prefix", ConvNextV2Model, no("num_labels"), enc_sd, None),
        ("model, encoder keys with convnextv2. prefix", ConvNextV2Model, no("num_labels"), enc_prefixed, None),
        ("model, classification checkpoint", ConvNextV2Model, minimal, cls_sd, None),
        ("cls, encoder-only checkpoint", ConvNextV2ForImageClassification, minimal, enc_sd, None),
        ("AutoModel, classification checkpoint", transformers.AutoModel, minimal, cls_sd, None),
    ]
    results = []
    for label, cls, cfg, tensors, meta in trials:
        r = try_from_pretrained(cls, cfg, tensors, meta)
        results.append({"trial": label, "class": cls.__name__, "config": cfg,
                        "safetensors_metadata": meta, "n_tensors": len(tensors), **r})
    by = {r["trial"]: r for r in results}
    assert by["cls, minimal config, no safetensors metadata"]["ok"] and not by["cls, minimal config, no safetensors metadata"]["missing"]
    assert by["model, encoder keys without prefix"]["ok"] and not by["model, encoder keys without prefix"]["unexpected"]

    # timm strict loading: headed file into headless model and the reverse
    t5 = ConvNeXt(**a["kwargs"])
    t0 = ConvNeXt(**{**a["kwargs"], "num_classes": 0})
    timm_trials = []
    for label, dst, src in (("headed file -> num_classes=5, strict", t5, t5.state_dict()),
                            ("headless file -> num_classes=0, strict", t0, t0.state_dict()),
                            ("headed file -> num_classes=0, strict", t0, t5.state_dict()),
                            ("headless file -> num_classes=5, strict", t5, t0.state_dict())):
        try:
            dst.load_state_dict(src, strict=True)
            timm_trials.append({"trial": label, "ok": True})
        except RuntimeError as err:
            lines = [s.strip() for s in str(err).split("\n") if s.strip()]
            timm_trials.append({"trial": label, "ok": False, "error": " | ".join(lines)[:400]})
    writer.json(name, "from_pretrained.json", {
        "versions": {"torch": torch.__version__, "timm": timm.__version__, "transformers": transformers.__version__},
        "transformers": results, "timm_load_state_dict": timm_trials})
    writer.json(name, "expected.json", {
        "name": name,
        "versions": {"torch": torch.__version__, "timm": timm.__version__, "transformers": transformers.__version__},
        "hf_configs": hf_cfgs, "timm_config": a["kwargs"], "key_counts": summary,
        "timm_to_hf_logits_rel_err": e,
    })
    print(f"{name}: keys {summary}; case a timm → HF logits rel err {e:.1e}; from_pretrained trials "
          + "; ".join(f"{r['trial']}: {'ok' if r['ok'] else 'fails'}"
                      + (f" missing {r['missing']}" if r.get('missing') else "")
                      + (f" unexpected {r['unexpected']}" if r.get('unexpected') else "") for r in results))


# ---- main --------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help=f"cases to write (default all): {', '.join(ALL_CASES)}")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default tests/fixtures/finetune)")
    args = ap.parse_args()
    unknown = [c for c in args.cases if c not in ALL_CASES]
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(ALL_CASES)}")
    wanted = set(args.cases or ALL_CASES)
    writer = Writer(args.out)
    print(f"torch {torch.__version__}, timm {timm.__version__}, transformers {transformers.__version__}")
    for case in CLASSIFIER_CASES:
        if case["name"] in wanted:
            classifier_case(dict(case), writer)
    if ADAMW_CASE["name"] in wanted:
        adamw_case(dict(ADAMW_CASE), writer)
    if EXPORT_CASE in wanted:
        export_case(writer)
    total = sum(os.path.getsize(p) for p in writer.files)
    digest = hashlib.sha256()
    for p in sorted(writer.files):
        with open(p, "rb") as f:
            digest.update(os.path.relpath(p, args.out).encode() + b"\0" + f.read())
    print(f"wrote {len(writer.files)} files, {total} bytes ({total / 2**20:.2f} MiB); sha256 {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
