"""Loads `fcmae convert` exports into the real libraries and compares them with the source model.

Converts nothing itself: run `fcmae convert` first, then point this at the results. Needs
torch, timm and transformers (the reference venv: /work/shared/scripts/reference-venv.sh).

    python scripts/check-exports.py --source tests/fixtures/export/timm_head.safetensors \\
        --batch tests/fixtures/export/batch.safetensors \\
        --hf OUT/hf --hf OUT/hf-encoder --timm OUT/timm.safetensors --official-dense OUT/dense.pth \\
        [--official PATH/TO/ConvNeXt-V2] [--atol 1e-5]

--source is a timm safetensors file (the model everything was converted from); its outputs on
the batch are the reference. For each export:
  --hf DIR            config.json → its architecture's from_pretrained(output_loading_info=True):
                      no missing, unexpected or mis-shaped key; layer_norm_eps 1e-6; then logits
                      (ConvNextV2ForImageClassification) or last_hidden_state + pooler_output
                      (ConvNextV2Model: the pooled features through the export's own final norm).
  --timm FILE         timm ConvNeXt of the size the file implies, load_state_dict(strict=True)
                      (a file without head.norm cannot be strict: it must miss exactly that);
                      logits, or forward_features without a head.
  --official-dense F  torch.load(weights_only=True) must give {'model': ..., 'epoch': int}; the
                      state dict goes through timm's own official→timm remap (checkpoint_filter_fn)
                      into timm strictly, and with --official also into the official
                      models/convnextv2.py ConvNeXtV2 with strict=True (MinkowskiEngine stubbed).
Prints one line per check with the max |difference|; exit code 1 if any check fails.
"""
import argparse
import importlib.util
import json
import os
import re
import sys
import types

import torch
import torch.nn.functional as F

FAILED = []


def report(label, ok, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {label}: {detail}")
    if not ok:
        FAILED.append(label)


def max_diff(a, b):
    if a.shape != b.shape:
        return float("inf")
    return (a.double() - b.double()).abs().max().item()


def compare(label, got, want, atol):
    d = max_diff(got, want)
    report(label, d <= atol, f"max |Δ| = {d:.3e} over {tuple(want.shape)}" if d != float("inf") else f"shape {tuple(got.shape)} vs {tuple(want.shape)}")


def timm_config(sd):
    """ConvNeXt(...) arguments that a timm state dict implies."""
    depths = [0, 0, 0, 0]
    for k in sd:
        m = re.match(r"stages\.(\d)\.blocks\.(\d+)\.", k)
        if m:
            depths[int(m[1])] = max(depths[int(m[1])], int(m[2]) + 1)
    dims = [sd[f"stages.{s}.blocks.0.conv_dw.weight"].shape[0] for s in range(4)]
    return dict(
        depths=tuple(depths),
        dims=tuple(dims),
        use_grn=any(".mlp.grn." in k for k in sd),
        ls_init_value=None,
        conv_mlp=sd["stages.0.blocks.0.mlp.fc1.weight"].ndim == 4,
        num_classes=sd["head.fc.weight"].shape[0] if "head.fc.weight" in sd else 0,
    )


def timm_model(cfg):
    from timm.models.convnext import ConvNeXt
    return ConvNeXt(**cfg).eval()


def load_official(repo):
    if "MinkowskiEngine" not in sys.modules:
        stub = types.ModuleType("MinkowskiEngine")
        stub.SparseTensor = object
        sys.modules["MinkowskiEngine"] = stub
    models = os.path.join(repo, "models")
    pkg = types.ModuleType("official_models")
    pkg.__path__ = [models]
    sys.modules["official_models"] = pkg
    for name in ("utils", "convnextv2"):
        spec = importlib.util.spec_from_file_location(f"official_models.{name}", os.path.join(models, f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["official_models.convnextv2"].ConvNeXtV2


class Reference:
    """The source timm model's outputs on the batch."""

    def __init__(self, source, batch):
        from safetensors.torch import load_file
        sd = load_file(source)
        self.cfg = timm_config(sd)
        model = timm_model(self.cfg)
        model.load_state_dict(sd, strict=True)
        if batch:
            b = load_file(batch)
            self.imgs = b["imgs"]
        else:
            b = {}
            self.imgs = torch.randn((2, 3, 64, 64), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            self.features = model.forward_features(self.imgs)
            self.logits = model.forward_head(self.features) if self.cfg["num_classes"] else None
        self.pooled = self.features.mean((2, 3))
        print(f"source {source}: timm ConvNeXt{tuple(self.cfg.items())}")
        if "logits" in b and self.logits is not None:
            compare("source logits vs the fixture's (library versions)", self.logits, b["logits"], 1e-5)

    def encoder_features(self, label, got, atol):
        compare(f"{label} encoder features", got, self.features, atol)


def check_hf(ref, path, atol):
    import transformers
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    arch = cfg["architectures"][0]
    label = f"hf {path} ({arch})"
    model, info = getattr(transformers, arch).from_pretrained(path, output_loading_info=True)
    model.eval()
    problems = {k: v for k, v in info.items() if v}
    report(f"{label} from_pretrained", not problems, "no missing, unexpected or mis-shaped key" if not problems else str(problems))
    report(f"{label} layer_norm_eps", model.config.layer_norm_eps == 1e-6, f"{model.config.layer_norm_eps}")
    with torch.no_grad():
        out = model(pixel_values=ref.imgs)
    if arch == "ConvNextV2ForImageClassification":
        id2label = model.config.id2label
        report(f"{label} labels", len(id2label) == out.logits.shape[1], f"{len(id2label)} labels: {list(id2label.values())[:6]}")
        if ref.logits is not None:
            compare(f"{label} logits", out.logits, ref.logits, atol)
    else:
        ref.encoder_features(label, out.last_hidden_state, atol)
        norm = model.layernorm
        expected = F.layer_norm(ref.pooled, norm.normalized_shape, norm.weight, norm.bias, eps=1e-6)
        plain = bool((norm.weight == 1).all() and (norm.bias == 0).all())
        compare(f"{label} pooler_output (final norm {'weight 1, bias 0' if plain else 'from the file'})", out.pooler_output, expected, atol)


def check_timm(ref, path, atol):
    from safetensors.torch import load_file
    sd = load_file(path)
    cfg = timm_config(sd)
    label = f"timm {path}"
    model = timm_model(cfg)
    if "head.norm.weight" in sd:
        try:
            model.load_state_dict(sd, strict=True)
            report(f"{label} strict load", True, f"ConvNeXt{tuple(cfg.items())}")
        except RuntimeError as e:
            report(f"{label} strict load", False, str(e).splitlines()[0])
            return
    else:
        r = model.load_state_dict(sd, strict=False)
        ok = sorted(r.missing_keys) == ["head.norm.bias", "head.norm.weight"] and not r.unexpected_keys
        report(f"{label} (no head.norm: strict is impossible) load", ok, f"missing {r.missing_keys}, unexpected {r.unexpected_keys}")
    with torch.no_grad():
        features = model.forward_features(ref.imgs)
        ref.encoder_features(label, features, atol)
        if cfg["num_classes"] and ref.logits is not None:
            compare(f"{label} logits", model.forward_head(features), ref.logits, atol)


def check_official_dense(ref, path, official_repo, atol):
    from timm.models.convnext import checkpoint_filter_fn
    label = f"official-dense {path}"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    top = sorted(ckpt.keys())
    report(f"{label} torch.load(weights_only=True)", "model" in ckpt and isinstance(ckpt.get("epoch"), int), f"top-level keys {top}")
    sd = ckpt["model"]
    has_head = "head.weight" in sd
    # timm's own remap of the official layout (it takes the whole checkpoint, as torch.load gives it)
    cfg = dict(ref.cfg, conv_mlp=False, num_classes=sd["head.weight"].shape[0] if has_head else 0)
    model = timm_model(cfg)
    remapped = checkpoint_filter_fn(ckpt, model)
    r = model.load_state_dict(remapped, strict=False)
    want_missing = [] if "norm.weight" in sd else ["head.norm.bias", "head.norm.weight"]
    ok = sorted(r.missing_keys) == want_missing and not r.unexpected_keys
    report(f"{label} → timm checkpoint_filter_fn → timm", ok, f"missing {r.missing_keys}, unexpected {r.unexpected_keys}")
    with torch.no_grad():
        features = model.forward_features(ref.imgs)
        ref.encoder_features(f"{label} (via timm)", features, atol)
        if has_head and ref.logits is not None:
            compare(f"{label} (via timm) logits", model.forward_head(features), ref.logits, atol)
    if official_repo:
        Official = load_official(official_repo)
        off = Official(depths=list(ref.cfg["depths"]), dims=list(ref.cfg["dims"]), num_classes=cfg["num_classes"] or 1000).eval()
        if has_head:
            try:
                off.load_state_dict(sd, strict=True)
                report(f"{label} official ConvNeXtV2 strict load", True, "every key")
            except RuntimeError as e:
                report(f"{label} official ConvNeXtV2 strict load", False, str(e).splitlines()[0])
                return
            with torch.no_grad():
                compare(f"{label} (official model) logits", off(ref.imgs), ref.logits, atol)
        else:
            r = off.load_state_dict(sd, strict=False)
            ok = sorted(r.missing_keys) == sorted(k for k in off.state_dict() if k.startswith(("norm.", "head."))) and not r.unexpected_keys
            report(f"{label} official ConvNeXtV2 load (encoder only)", ok, f"missing {r.missing_keys}, unexpected {r.unexpected_keys}")
            with torch.no_grad():
                x = ref.imgs
                for i in range(4):
                    x = off.stages[i](off.downsample_layers[i](x))
            ref.encoder_features(f"{label} (official model)", x, atol)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True, help="timm safetensors file the exports were converted from")
    ap.add_argument("--batch", help="safetensors with `imgs` (N, 3, H, W) [and the fixture's `logits`]")
    ap.add_argument("--hf", action="append", default=[], help="a Hugging Face export folder (repeatable)")
    ap.add_argument("--timm", action="append", default=[], help="a timm export (repeatable)")
    ap.add_argument("--official-dense", action="append", default=[], help="an official-dense export (repeatable)")
    ap.add_argument("--official", help="checkout of facebookresearch/ConvNeXt-V2, to load into its models/convnextv2.py")
    ap.add_argument("--atol", type=float, default=1e-5)
    args = ap.parse_args()
    import timm
    import transformers
    transformers.utils.logging.disable_progress_bar()
    print(f"torch {torch.__version__}, timm {timm.__version__}, transformers {transformers.__version__}")
    ref = Reference(args.source, args.batch)
    for p in args.hf:
        check_hf(ref, p, args.atol)
    for p in args.timm:
        check_timm(ref, p, args.atol)
    for p in args.official_dense:
        check_official_dense(ref, p, args.official, args.atol)
    if FAILED:
        print(f"{len(FAILED)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
