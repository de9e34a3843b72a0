"""Fixtures and checks for the official FCMAE training checkpoint, both ways (issue 17).

Run with /work/.refvenv/bin/python (torch 2.x, timm 1.x):

  python tests/reference/gen_official_pretrain.py --official DIR
      DIR holds models/{fcmae,convnextv2_sparse,convnextv2,utils}.py of facebookresearch/
      ConvNeXt-V2 (a checkout; the official code is not committed here). Builds the official
      FCMAE module tree for a tiny config, with MinkowskiEngine stood in by modules that create
      the same parameter names and shapes (ME's conv kernel (k^D, in, out), depthwise kernel
      (k^D, C), biases (1, C), MinkowskiLinear wraps nn.Linear as `.linear`); only names,
      shapes and registration order matter, nothing runs forward. Writes into
      tests/fixtures/io/official-pretrain/:
        official-order.json   named_parameters() order, official shapes, and the AdamW group and
                              index of each tensor under main_pretrain.py's rule (timm's
                              add_weight_decay / param_groups_weight_decay) and the maintainers'
        official-train.pth    a torch-2.x-written training checkpoint {model, optimizer, epoch,
                              scaler, args}: 4 real AdamW steps (GradScaler on CPU) on random
                              gradients over the official groups
        canonical.safetensors the same weights and moments under the playground's canonical
                              names and dense layouts (params, adamw.m.*, adamw.v.*), mapped here
                              independently with spec §6's formula W[o,i,y,x] = K[x*k+y, i, o]

  python tests/reference/gen_official_pretrain.py --official DIR --check EXPORT.pth --native RUN.safetensors
      Checks a file written by `fcmae convert --format official-pretrain` from the native
      checkpoint RUN: strict load_state_dict into the official FCMAE, torch AdamW over the
      official groups accepts optimizer.load_state_dict (and steps), every exp_avg / exp_avg_sq
      equals the native file's moments, GradScaler.load_state_dict accepts the scaler.
"""
import argparse
import json
import os
import sys
import types

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "io", "official-pretrain")

# the tiny model of the fixtures
DEPTHS = [1, 1, 1, 1]
DIMS = [8, 16, 24, 32]
DECODER_DEPTH = 1
DECODER_DIM = 8
STEPS = 4
ITERS_PER_EPOCH = 2


def install_minkowski_stand_ins():
    """sys.modules entries for MinkowskiEngine / MinkowskiOps with ME's parameter layout."""
    me = types.ModuleType("MinkowskiEngine")

    class MinkowskiConvolution(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1, bias=False, dimension=3, **kw):
            super().__init__()
            self.kernel = nn.Parameter(torch.zeros(kernel_size ** dimension, in_channels, out_channels))
            self.bias = nn.Parameter(torch.zeros(1, out_channels)) if bias else None

    class MinkowskiDepthwiseConvolution(nn.Module):
        def __init__(self, in_channels, kernel_size=3, stride=1, dilation=1, bias=False, dimension=3, **kw):
            super().__init__()
            self.kernel = nn.Parameter(torch.zeros(kernel_size ** dimension, in_channels))
            self.bias = nn.Parameter(torch.zeros(1, in_channels)) if bias else None

    class MinkowskiLinear(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.linear = nn.Linear(in_features, out_features, bias=bias)

    class MinkowskiGELU(nn.Module):
        pass

    class SparseTensor:
        pass

    for cls in (MinkowskiConvolution, MinkowskiDepthwiseConvolution, MinkowskiLinear, MinkowskiGELU, SparseTensor):
        setattr(me, cls.__name__, cls)
    ops = types.ModuleType("MinkowskiOps")
    ops.to_sparse = lambda x: x
    sys.modules["MinkowskiEngine"] = me
    sys.modules["MinkowskiOps"] = ops


def official_fcmae(official_dir):
    install_minkowski_stand_ins()
    sys.path.insert(0, official_dir)
    from models.fcmae import FCMAE  # noqa: E402  (the official source, read from DIR)
    return FCMAE(depths=DEPTHS, dims=DIMS, decoder_depth=DECODER_DEPTH, decoder_embed_dim=DECODER_DIM, norm_pix_loss=True)


def official_groups(model, weight_decay):
    """main_pretrain.py: optim_factory.add_weight_decay(model, wd); timm 1.x renamed it."""
    try:
        from timm.optim.optim_factory import add_weight_decay
        return add_weight_decay(model, weight_decay)
    except ImportError:
        from timm.optim import param_groups_weight_decay
        return param_groups_weight_decay(model, weight_decay)


def maintainers_decays(name, p):
    return p.ndim > 1 and not name.endswith(".bias") and ".grn." not in name and name != "mask_token"


# ---- official (sparse) ↔ canonical (dense), written from spec §6, independently of the TS code

def to_canonical(name, t):
    """Official sparse name and tensor → canonical name and dense tensor."""
    n = name
    if n.endswith(".kernel"):
        n = n[: -len(".kernel")] + ".weight"
        if t.ndim == 2:  # depthwise (k*k, C) → (C, 1, k, k); K[x*k + y, c] = W[c, 0, y, x]
            kk, C = t.shape
            k = int(round(kk ** 0.5))
            t = t.reshape(k, k, C).permute(2, 1, 0).reshape(C, 1, k, k)
        else:  # (k*k, in, out) → (out, in, k, k); K[x*k + y, i, o] = W[o, i, y, x]
            kk, I, O = t.shape
            k = int(round(kk ** 0.5))
            t = t.reshape(k, k, I, O).permute(3, 2, 1, 0)
    for a, b in ((".norm.ln.", ".norm."), (".0.ln.", ".0."), (".linear.", ".")):
        if n.startswith("encoder.") and a in n:
            n = n.replace(a, b)
    if n.startswith("encoder.") and (n.endswith(".grn.gamma") or n.endswith(".grn.beta")):
        t = t.reshape(1, 1, 1, -1)
    if n.startswith("encoder.") and t.ndim == 2 and t.shape[0] == 1 and n.endswith(".bias"):
        t = t.reshape(-1)
    return n, t.contiguous()


def training_args(lr):
    return argparse.Namespace(
        batch_size=2, epochs=5, warmup_epochs=1, update_freq=1, model="convnextv2_custom", input_size=64, mask_ratio=0.5,
        norm_pix_loss=True, decoder_depth=DECODER_DEPTH, decoder_embed_dim=DECODER_DIM, weight_decay=0.05, lr=lr, blr=lr * 256 / 2,
        min_lr=0.0, data_path="/data", output_dir="out", log_dir=None, device="cuda", seed=0, resume="", auto_resume=True, save_ckpt=True,
        save_ckpt_freq=1, save_ckpt_num=3, start_epoch=0, num_workers=10, pin_mem=True, crop_pct=None, world_size=1, local_rank=-1,
        dist_on_itp=False, dist_url="env://", distributed=False,
    )


def generate(official_dir):
    torch.manual_seed(17)
    model = official_fcmae(official_dir)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    groups = official_groups(model, 0.05)
    lr = 1.5e-4 * 2 / 256
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))
    scaler = torch.amp.GradScaler("cpu")
    params = list(model.parameters())
    for k in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = lr * (k + 1) / STEPS
        opt.zero_grad()
        loss = sum((p * torch.randn_like(p)).sum() for p in params)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    os.makedirs(OUT, exist_ok=True)
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": STEPS // ITERS_PER_EPOCH - 1, "scaler": scaler.state_dict(), "args": training_args(lr)}
    torch.save(ckpt, os.path.join(OUT, "official-train.pth"))

    index_of = {}
    for gi, g in enumerate(opt.param_groups):
        for p in g["params"]:
            index_of[id(p)] = (gi, len(index_of))
    order = []
    for name, p in model.named_parameters():
        gi, idx = index_of[id(p)]
        order.append({"name": name, "shape": list(p.shape), "group": gi, "index": idx, "maintainersDecay": maintainers_decays(name, p)})
    meta = {"depths": DEPTHS, "dims": DIMS, "decoderDepth": DECODER_DEPTH, "decoderDim": DECODER_DIM, "steps": STEPS, "epoch": ckpt["epoch"],
            "torch": torch.__version__, "paramGroupKeys": list(ckpt["optimizer"]["param_groups"][0].keys()), "scaler": ckpt["scaler"]}
    with open(os.path.join(OUT, "official-order.json"), "w") as f:
        json.dump({"meta": meta, "params": order}, f, indent=1)

    tensors = {}
    state = opt.state_dict()["state"]
    for name, p in model.named_parameters():
        cname, w = to_canonical(name, p.detach())
        _, idx = index_of[id(p)]
        tensors[cname] = w
        tensors["adamw.m." + cname] = to_canonical(name, state[idx]["exp_avg"])[1]
        tensors["adamw.v." + cname] = to_canonical(name, state[idx]["exp_avg_sq"])[1]
    save_file(tensors, os.path.join(OUT, "canonical.safetensors"))
    print("wrote", os.path.relpath(OUT, ROOT), "(torch", torch.__version__ + ")")


def check(official_dir, export_path, native_path):
    model = official_fcmae(official_dir)
    ck = torch.load(export_path, map_location="cpu", weights_only=False)
    assert sorted(ck.keys()) == ["args", "epoch", "model", "optimizer", "scaler"], ck.keys()
    result = model.load_state_dict(ck["model"], strict=True)
    print("strict load_state_dict:", result)
    opt = torch.optim.AdamW(official_groups(model, 0.05), lr=1e-4, betas=(0.9, 0.95))
    fresh_keys = list(opt.state_dict()["param_groups"][0].keys())
    opt.load_state_dict(ck["optimizer"])
    assert list(ck["optimizer"]["param_groups"][0].keys()) == fresh_keys, (list(ck["optimizer"]["param_groups"][0].keys()), fresh_keys)
    native = load_file(native_path)
    worst = 0.0
    n = 0
    for name, p in model.named_parameters():
        st = opt.state[p]
        cname, _ = to_canonical(name, p.detach())
        for key, prefix in (("exp_avg", "adamw.m."), ("exp_avg_sq", "adamw.v.")):
            mine = to_canonical(name, st[key])[1]
            ref = native[prefix + cname]
            assert mine.shape == ref.shape, (name, key, mine.shape, ref.shape)
            worst = max(worst, (mine - ref).abs().max().item())
            n += 1
        assert st["step"].ndim == 0 and st["step"].dtype == torch.float32, st["step"]
    assert worst == 0.0, "moments differ from the native file by %g" % worst
    loaded_step = float(opt.state[next(model.parameters())]["step"])
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    opt.step()  # the loaded state steps
    scaler = torch.amp.GradScaler("cpu")
    scaler.load_state_dict(ck["scaler"])
    print("optimizer.load_state_dict: ok; %d moments equal the native file's exactly; step %s; epoch %s; scaler %s"
          % (n, loaded_step, ck["epoch"], ck["scaler"]))
    try:
        torch.load(export_path, map_location="cpu")
        print("torch.load(weights_only default): ok")
    except Exception as e:  # noqa: BLE001
        print("torch.load(weights_only default) refuses it, as it refuses the official trainer's own checkpoints:", type(e).__name__)
    print("args:", ck["args"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="folder holding models/ of facebookresearch/ConvNeXt-V2")
    ap.add_argument("--check", help="an official-pretrain export to check")
    ap.add_argument("--native", help="the native checkpoint the export was made from")
    a = ap.parse_args()
    if a.check:
        check(a.official, a.check, a.native)
    else:
        generate(a.official)


if __name__ == "__main__":
    main()
