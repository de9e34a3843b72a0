"""Real torch.save files for the checkpoint readers, and a check that PyTorch reads ours.

Run with Debian's PyTorch 1.13:  /usr/bin/python3 tests/reference/gen_torch_checkpoints.py

  (no argument)      writes tests/fixtures/io/torch/*.pt|.pth|.bin and manifest.json:
                     a tiny ConvNeXt V2 (depths 1,1,2,1, dims 4,8,12,16, decoder 1×4, 5 classes)
                     in every name scheme (official dense encoder-only and with norm/head,
                     official sparse FCMAE pretraining checkpoint with decoder + optimizer +
                     args, timm with mlp.fc as Linear and as 1×1 conv, Hugging Face), a file of
                     float16/bfloat16/float64/int64/int32 and non-contiguous/offset/expanded
                     tensors, and the legacy non-zip format.
  --verify [FILE]    loads the files OUR writer produced (ts_*.pth, written by
                     tests/unit/io/pytorch.test.ts with UPDATE_TORCH_FIXTURES=1) with
                     torch.load(weights_only=False) and (weights_only=True), and compares names,
                     shapes and values with what this script builds for that scheme; for the
                     official sparse file it also runs the official fine-tuning remap
                     (remap_checkpoint_keys) and checks the dense encoder it yields. Exit code 1
                     on any difference.

Tensor values follow a formula both sides can compute exactly, so that no tensor data needs
to be stored as JSON: for the canonical name n (see src/io/name-schemes.ts) and flat element i
of the dense tensor, v = ((h·131 + i·31) mod 257 − 128) / 64 with h = Σ_j (j+1)·ord(n[j]) mod
1009. Every such value is exact in float32, float16 and bfloat16. manifest.json records, for
every tensor of every file as stored, its shape, dtype and the checksum Σ_i v_i·(i mod 7 + 1)
(exact in float64, whatever the summation order), and the full values of the small dtype/legacy
files.
"""
import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "fixtures", "io", "torch")

CONFIG = dict(depths=[1, 1, 2, 1], dims=[4, 8, 12, 16], decoder_depth=1, decoder_dim=4, num_classes=5)
PRED = 32 * 32 * 3
BLOCK = ["dwconv.weight", "dwconv.bias", "norm.weight", "norm.bias", "pwconv1.weight", "pwconv1.bias",
         "grn.gamma", "grn.beta", "pwconv2.weight", "pwconv2.bias"]


def name_hash(name):
    return sum((j + 1) * ord(c) for j, c in enumerate(name)) % 1009


def formula(name, shape):
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.int64)
    v = ((name_hash(name) * 131 + i * 31) % 257 - 128).to(torch.float64) / 64
    return v.to(torch.float32).reshape(shape)


def block_shapes(C):
    return {"dwconv.weight": (C, 1, 7, 7), "dwconv.bias": (C,), "norm.weight": (C,), "norm.bias": (C,),
            "pwconv1.weight": (4 * C, C), "pwconv1.bias": (4 * C,), "grn.gamma": (1, 1, 1, 4 * C),
            "grn.beta": (1, 1, 1, 4 * C), "pwconv2.weight": (C, 4 * C), "pwconv2.bias": (C,)}


def canonical_state(cfg, decoder=True, classifier=False):
    """Canonical names (official FCMAE names, dense shapes), in canonical order."""
    d, depths = cfg["dims"], cfg["depths"]
    shapes = OrderedDict()
    shapes["encoder.downsample_layers.0.0.weight"] = (d[0], 3, 4, 4)
    shapes["encoder.downsample_layers.0.0.bias"] = (d[0],)
    shapes["encoder.downsample_layers.0.1.weight"] = (d[0],)
    shapes["encoder.downsample_layers.0.1.bias"] = (d[0],)
    for i in range(1, 4):
        shapes[f"encoder.downsample_layers.{i}.0.weight"] = (d[i - 1],)
        shapes[f"encoder.downsample_layers.{i}.0.bias"] = (d[i - 1],)
        shapes[f"encoder.downsample_layers.{i}.1.weight"] = (d[i], d[i - 1], 2, 2)
        shapes[f"encoder.downsample_layers.{i}.1.bias"] = (d[i],)
    for s in range(4):
        bs = block_shapes(d[s])
        for b in range(depths[s]):
            for p in BLOCK:
                shapes[f"encoder.stages.{s}.{b}.{p}"] = bs[p]
    if decoder:
        D = cfg["decoder_dim"]
        shapes["proj.weight"] = (D, d[3], 1, 1)
        shapes["proj.bias"] = (D,)
        shapes["mask_token"] = (1, D, 1, 1)
        bs = block_shapes(D)
        for k in range(cfg["decoder_depth"]):
            for p in BLOCK:
                shapes[f"decoder.{k}.{p}"] = bs[p]
        shapes["pred.weight"] = (PRED, D, 1, 1)
        shapes["pred.bias"] = (PRED,)
    if classifier:
        shapes["norm.weight"] = (d[3],)
        shapes["norm.bias"] = (d[3],)
        shapes["head.weight"] = (cfg["num_classes"], d[3])
        shapes["head.bias"] = (cfg["num_classes"],)
    return OrderedDict((k, formula(k, v)) for k, v in shapes.items())


# --- canonical → each scheme, written from the official / timm / HF conventions -----------------

def to_official_dense(canon):
    return OrderedDict((k[len("encoder."):] if k.startswith("encoder.") else k, v) for k, v in canon.items())


def to_official_sparse(canon):
    """Names and layouts of models/convnextv2_sparse.py (MinkowskiEngine) inside models/fcmae.py."""
    out = OrderedDict()
    for k, v in canon.items():
        if not k.startswith("encoder.") or k.startswith("encoder.downsample_layers.0."):
            out[k] = v  # decoder, proj, pred, mask_token and the stem are dense nn modules
            continue
        parts = k.split(".")
        if k.startswith("encoder.downsample_layers."):
            layer = parts[3]
            if layer == "0":  # MinkowskiLayerNorm → .ln
                out[".".join(parts[:4] + ["ln", parts[4]])] = v
            elif parts[4] == "weight":  # MinkowskiConvolution kernel (k·k, in, out), first spatial axis fastest
                o, i, kk, _ = v.shape
                out[".".join(parts[:4] + ["kernel"])] = v.permute(3, 2, 1, 0).reshape(kk * kk, i, o).contiguous()
            else:
                out[k] = v.reshape(1, -1)
            continue
        prefix, param = ".".join(parts[:4]), ".".join(parts[4:])
        if param == "dwconv.weight":  # MinkowskiDepthwiseConvolution kernel (k·k, C)
            C, _, kk, _ = v.shape
            out[prefix + ".dwconv.kernel"] = v[:, 0].permute(2, 1, 0).reshape(kk * kk, C).contiguous()
        elif param == "dwconv.bias":
            out[k] = v.reshape(1, -1)
        elif param.startswith("norm."):
            out[prefix + ".norm.ln." + parts[-1]] = v
        elif param.startswith("pwconv"):
            out[prefix + "." + parts[4] + ".linear." + parts[-1]] = v
        elif param.startswith("grn."):
            out[k] = v.reshape(1, -1)
        else:
            raise ValueError(k)
    return out


def official_remap_checkpoint_keys(ckpt):
    """The official fine-tuning remap (ConvNeXt-V2 utils.py), as main_finetune.py applies it."""
    new_ckpt = OrderedDict()
    for k, v in ckpt.items():
        if k.startswith("encoder"):
            k = ".".join(k.split(".")[1:])
        if k.endswith("kernel"):
            k = ".".join(k.split(".")[:-1])
            new_k = k + ".weight"
            if len(v.shape) == 3:
                kv, in_dim, out_dim = v.shape
                ks = int(math.sqrt(kv))
                new_ckpt[new_k] = v.permute(2, 1, 0).reshape(out_dim, in_dim, ks, ks).transpose(3, 2)
            elif len(v.shape) == 2:
                kv, dim = v.shape
                ks = int(math.sqrt(kv))
                new_ckpt[new_k] = v.permute(1, 0).reshape(dim, 1, ks, ks).transpose(3, 2)
            continue
        elif "ln" in k or "linear" in k:
            k = k.split(".")
            k.pop(-2)
            new_k = ".".join(k)
        else:
            new_k = k
        new_ckpt[new_k] = v
    for k, v in new_ckpt.items():
        if k.endswith("bias") and len(v.shape) != 1:
            new_ckpt[k] = v.reshape(-1)
        elif "grn" in k:
            new_ckpt[k] = v.unsqueeze(0).unsqueeze(1)
    return new_ckpt


def to_timm(canon, conv_mlp):
    """timm convnext.py names (its checkpoint_filter_fn applied to official dense names)."""
    import re
    out = OrderedDict()
    for k, v in canon.items():
        if not k.startswith("encoder.") and not k.startswith(("norm.", "head.")):
            continue  # timm has no FCMAE decoder
        k = k[len("encoder."):] if k.startswith("encoder.") else k
        k = k.replace("downsample_layers.0.", "stem.")
        k = re.sub(r"stages.([0-9]+).([0-9]+)", r"stages.\1.blocks.\2", k)
        k = re.sub(r"downsample_layers.([0-9]+).([0-9]+)", r"stages.\1.downsample.\2", k)
        k = k.replace("dwconv", "conv_dw").replace("pwconv", "mlp.fc")
        if "grn" in k:
            k = k.replace("grn.beta", "mlp.grn.bias").replace("grn.gamma", "mlp.grn.weight")
            v = v.reshape(v.shape[-1])
        k = k.replace("head.", "head.fc.")
        if k.startswith("norm."):
            k = k.replace("norm", "head.norm")
        if conv_mlp and v.ndim == 2 and "head" not in k:
            v = v.reshape(v.shape[0], v.shape[1], 1, 1)
        out[k] = v
    return out


def to_hf(canon):
    """transformers ConvNextV2ForImageClassification names."""
    out = OrderedDict()
    for k, v in canon.items():
        p = k.split(".")
        if k.startswith("encoder.downsample_layers.0.0."):
            out["convnextv2.embeddings.patch_embeddings." + p[-1]] = v
        elif k.startswith("encoder.downsample_layers.0.1."):
            out["convnextv2.embeddings.layernorm." + p[-1]] = v
        elif k.startswith("encoder.downsample_layers."):
            out[f"convnextv2.encoder.stages.{p[2]}.downsampling_layer.{p[3]}.{p[4]}"] = v
        elif k.startswith("encoder.stages."):
            param = ".".join(p[4:])
            param = {"norm.weight": "layernorm.weight", "norm.bias": "layernorm.bias",
                     "grn.gamma": "grn.weight", "grn.beta": "grn.bias"}.get(param, param)
            out[f"convnextv2.encoder.stages.{p[2]}.layers.{p[3]}.{param}"] = v
        elif k.startswith("norm."):
            out["convnextv2.layernorm." + p[-1]] = v
        elif k.startswith("head."):
            out["classifier." + p[-1]] = v
    return out


def with_metadata(sd):
    """An OrderedDict carrying _metadata like Module.state_dict() (pickled through BUILD)."""
    sd = OrderedDict(sd)
    sd._metadata = OrderedDict([("", {"version": 1}), ("encoder", {"version": 1})])
    return sd


def checksum(t):
    v = t.detach().contiguous().reshape(-1).to(torch.float64)
    w = (torch.arange(v.numel(), dtype=torch.int64) % 7 + 1).to(torch.float64)
    return float((v * w).sum())


def describe(sd):
    return OrderedDict((k, {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""), "checksum": checksum(v)})
                       for k, v in sd.items())


def values(sd):
    return OrderedDict((k, {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                            "data": [float(x) for x in v.detach().contiguous().reshape(-1).to(torch.float64).tolist()]})
                       for k, v in sd.items())


def save(name, obj, **kw):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kw)
    print("wrote", os.path.relpath(path, os.path.dirname(os.path.dirname(HERE))), os.path.getsize(path), "bytes")


def generate():
    os.makedirs(OUT, exist_ok=True)
    manifest = OrderedDict(config=CONFIG, files=OrderedDict(), values=OrderedDict())

    def record(name, scheme, sd, key, extra_keys=(), **more):
        manifest["files"][name] = OrderedDict(scheme=scheme, stateDictKey=key, topLevelKeys=([key] if key else []) + list(extra_keys),
                                              tensors=describe(sd), **more)

    enc = canonical_state(CONFIG, decoder=False)
    sd = with_metadata(to_official_dense(enc))
    save("official_dense_encoder.pt", {"model": sd})
    record("official_dense_encoder.pt", "official-dense", sd, "model", decoder=False, classifier=False)

    cls = canonical_state(CONFIG, decoder=False, classifier=True)
    sd = with_metadata(to_official_dense(cls))
    save("official_dense_ema.pt", {"model": sd})
    record("official_dense_ema.pt", "official-dense", sd, "model", decoder=False, classifier=True)

    # A checkpoint as main_pretrain.py saves it: model, optimizer, epoch, scaler, args.
    full = canonical_state(CONFIG, decoder=True)
    sparse = to_official_sparse(full)
    remapped = official_remap_checkpoint_keys(sparse)
    for k, v in full.items():  # the official remap must give back the dense encoder we started from
        if k.startswith("encoder."):
            assert torch.equal(remapped[k[len("encoder."):]], v), k
    params = [torch.nn.Parameter(v.clone()) for v in sparse.values()]
    opt = torch.optim.AdamW(params, lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    params[1].grad = torch.ones_like(params[1])
    params[5].grad = torch.ones_like(params[5])
    opt.step()
    args = argparse.Namespace(model="convnextv2_tiny_test", batch_size=64, blr=1.5e-4, mask_ratio=0.6,
                              norm_pix_loss=True, decoder_depth=1, decoder_embed_dim=CONFIG["decoder_dim"],
                              input_size=224, data_path="/datasets/imagenet", resume="", seed=0)
    sd = with_metadata(sparse)
    save("official_sparse_fcmae.pt", {"model": sd, "optimizer": opt.state_dict(), "epoch": 3,
                                      "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                                 "growth_interval": 2000, "_growth_tracker": 17},
                                      "args": args})
    record("official_sparse_fcmae.pt", "official-sparse", sd, "model", ["optimizer", "epoch", "scaler", "args"],
           decoder=True, classifier=False,
           extra={"epoch": 3, "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                         "growth_interval": 2000, "_growth_tracker": 17},
                  "args": vars(args)})

    for conv in (False, True):
        name = "timm_conv_mlp.pth" if conv else "timm_linear.pth"
        sd = with_metadata(to_timm(cls, conv_mlp=conv))
        save(name, sd)
        record(name, "timm", sd, None, decoder=False, classifier=True)

    sd = with_metadata(to_hf(cls))
    save("hf_pytorch_model.bin", sd)
    record("hf_pytorch_model.bin", "huggingface", sd, None, decoder=False, classifier=True)

    # dtypes, views sharing one storage, a 0-d tensor and an empty one (top level = state dict)
    base = formula("base", (4, 6))
    x = formula("x", (3, 1))
    dt = OrderedDict([
        ("f16", formula("f16", (2, 5)).half()),
        ("bf16", formula("bf16", (3, 4)).bfloat16()),
        ("f64", formula("f64", (5,)).double() / 3),
        ("i64", torch.tensor([0, 1, -1, 2 ** 40 + 3, -(2 ** 33) - 7], dtype=torch.int64)),
        ("i32", torch.tensor([5, -6, 2 ** 30], dtype=torch.int32)),
        ("base", base),
        ("transposed", base.t()),
        ("sliced", base[1:, 2:5]),
        ("expanded", x.expand(3, 4)),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
    ])
    save("dtypes.pt", dt)
    record("dtypes.pt", None, dt, None)
    manifest["values"]["dtypes.pt"] = values(dt)
    manifest["files"]["dtypes.pt"]["strides"] = {k: list(v.stride()) for k, v in dt.items()}

    lg = OrderedDict([("w", formula("w", (2, 3))), ("h", formula("h", (4,)).half()), ("t", formula("t", (2, 3)).t())])
    save("legacy.pt", {"model": lg, "epoch": 7}, _use_new_zipfile_serialization=False)
    record("legacy.pt", None, lg, "model", ["epoch"], extra={"epoch": 7})
    manifest["values"]["legacy.pt"] = values(lg)

    # Plain pickles at every protocol the reader accepts, with the value they hold.
    import pickle
    shared = [1, 2]
    plain = OrderedDict([("a", 1), ("b", [1.5, -2, 300, 70000, -(2 ** 31), 2 ** 40, -(2 ** 70)]),
                         ("c", ("x", None, True, False)), ("d", OrderedDict([("e", "é✓"), ("f", [])])),
                         ("long", "x" * 300), ("shared", [shared, shared]), ("t1", (1,)), ("t5", (1, 2, 3, 4, 5))])
    manifest["pickles"] = OrderedDict((str(p), pickle.dumps(plain, protocol=p).hex()) for p in (2, 3, 4, 5))
    manifest["pickleValue"] = json.loads(json.dumps(plain, default=str))
    manifest["pickleValue"]["b"][-1] = str(-(2 ** 70))

    # float32 → float16 / bfloat16 rounding as torch does it (nearest even, subnormals, overflow)
    xs = torch.tensor([0.0, -0.0, 1 / 3, -2 / 3, 65504.0, 65519.0, 65520.0, 1e6, 6e-8, 3e-8, 2.9e-8, 1e-10,
                       5.96e-8, 6.1e-5, 1.00048828125, 1.000732421875, 3.4e38, -1e-3, 1.00390625, 1.005859375,
                       float("inf"), float("-inf")], dtype=torch.float32)
    manifest["roundings"] = OrderedDict(
        float32Bits=[int(b) & 0xFFFFFFFF for b in xs.view(torch.int32).tolist()],
        float16Bits=[int(b) & 0xFFFF for b in xs.half().view(torch.int16).tolist()],
        bfloat16Bits=[int(b) & 0xFFFF for b in xs.bfloat16().view(torch.int16).tolist()])

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote manifest.json")


# --- verification of files written by src/io/pytorch.ts ----------------------------------------

WRITTEN = {
    "ts_official_sparse.pth": dict(scheme="official-sparse", decoder=True, classifier=False, key="model",
                                   dtype=torch.float32, extra={"epoch": 5, "step": 123, "note": "written by src/io/pytorch.ts"}),
    "ts_official_dense.pth": dict(scheme="official-dense", decoder=False, classifier=True, key="model",
                                  dtype=torch.float16, extra={"epoch": 0}),
    "ts_timm.pth": dict(scheme="timm", decoder=False, classifier=True, key=None, dtype=torch.bfloat16, extra={}),
}


def expected_for(spec):
    canon = canonical_state(CONFIG, decoder=spec["decoder"], classifier=spec["classifier"])
    return {"official-sparse": lambda: to_official_sparse(canon), "official-dense": lambda: to_official_dense(canon),
            "timm": lambda: to_timm(canon, conv_mlp=True)}[spec["scheme"]]()


def verify(name):
    spec = WRITTEN[name]
    path = os.path.join(OUT, name)
    ok = True
    for weights_only in (False, True):
        obj = torch.load(path, map_location="cpu", weights_only=weights_only)
        sd = obj[spec["key"]] if spec["key"] else obj
        want = expected_for(spec)
        if list(sd.keys()) != list(want.keys()):
            print(f"FAIL {name} weights_only={weights_only}: names differ\n  got  {list(sd.keys())[:8]}\n  want {list(want.keys())[:8]}")
            ok = False
            continue
        worst = 0.0
        for k, v in want.items():
            got = sd[k]
            if got.shape != v.shape or got.dtype != spec["dtype"]:
                print(f"FAIL {name}: {k} is {tuple(got.shape)} {got.dtype}, want {tuple(v.shape)} {spec['dtype']}")
                ok = False
                continue
            worst = max(worst, float((got.float() - v).abs().max()) if v.numel() else 0.0)
        if worst != 0.0:  # every formula value is exact in float32/float16/bfloat16
            print(f"FAIL {name}: max |diff| {worst}")
            ok = False
        if spec["key"]:
            for k, v in spec["extra"].items():
                if obj.get(k) != v:
                    print(f"FAIL {name}: extra {k} = {obj.get(k)!r}, want {v!r}")
                    ok = False
        if spec["scheme"] == "official-sparse":
            remapped = official_remap_checkpoint_keys(sd)
            for k, v in canonical_state(CONFIG, decoder=False).items():
                if not torch.equal(remapped[k[len("encoder."):]], v):
                    print(f"FAIL {name}: official remap of {k} differs from the dense tensor")
                    ok = False
        print(f"{'ok  ' if ok else 'FAIL'} {name} weights_only={weights_only}: {len(sd)} tensors, max |diff| {worst}")
    return ok


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--verify":
        names = sys.argv[2:] or list(WRITTEN)
        results = [verify(os.path.basename(n)) for n in names]
        sys.exit(0 if all(results) else 1)
    generate()
