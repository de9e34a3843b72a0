"""What the real libraries expect of `fcmae convert` exports, recorded so the tests need no Python.

Run with the reference venv (transformers 5, timm 1.0, torch; see /work/shared/scripts/reference-venv.sh)
and a checkout of the official repository (https://github.com/facebookresearch/ConvNeXt-V2; its
models/ are imported, never copied):

    /work/.refvenv/bin/python tests/reference/gen_export_fixtures.py --official PATH/TO/ConvNeXt-V2

writes tests/fixtures/export/:
  timm_head.safetensors  a small random timm ConvNeXt V2 with a head, saved as timm saves it
                         (safetensors, metadata format=pt): ConvNeXt(depths=(1,1,2,1),
                         dims=(8,16,24,32), use_grn=True, ls_init_value=None, num_classes=5).
                         Every parameter is random (block and head norm weights around 1, GRN
                         non-zero), so a swapped or zeroed tensor changes the logits.
  batch.safetensors      `imgs` (2, 3, 64, 64) and that model's `logits` (2, 5), `pre_logits`
                         (2, 32) (forward_head(pre_logits=True)) and `features` (2, 32, 2, 2)
                         (forward_features), in eval mode, float32.
  manifest.json          the exact state-dict keys and shapes (in each library's own order) of
                         transformers' ConvNextV2Model and ConvNextV2ForImageClassification, of
                         timm's ConvNeXt (Linear mlp, 1×1-conv mlp, no-GRN; with the head and
                         with num_classes=0) and of the official models/convnextv2.py ConvNeXtV2,
                         all for that configuration; and the config.json that save_pretrained
                         writes for both transformers classes.

The official models/utils.py imports MinkowskiEngine at the top (for the sparse classes only);
a stub module stands in for it, since the dense ConvNeXtV2 never touches it.
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "fixtures", "export")

DEPTHS = (1, 1, 2, 1)
DIMS = (8, 16, 24, 32)
NUM_CLASSES = 5
BATCH = (2, 3, 64, 64)


def key_list(module):
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def load_official(repo):
    """The official dense ConvNeXtV2 class, imported from a checkout (MinkowskiEngine stubbed)."""
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


def randomise(model, seed):
    """Every parameter random: N(0, 0.2); `*norm.weight` 1 + N(0, 0.1); GRN N(0, 0.3)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * r)
            elif ".grn." in name:
                p.copy_(0.3 * r)
            else:
                p.copy_(0.2 * r)


def compact_json(doc):
    """Indented JSON with every [name, shape] pair and number list on one line (diffable)."""
    def dump(v, indent):
        pad = " " * indent
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = [f"{pad} {json.dumps(k)}: {dump(x, indent + 1)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(v, list) and v and all(isinstance(x, list) for x in v):
            return "[\n" + ",\n".join(f"{pad} {json.dumps(x)}" for x in v) + "\n" + pad + "]"
        return json.dumps(v)
    return dump(doc, 0)


def hf_saved_config(model):
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d)
        with open(os.path.join(d, "config.json")) as f:
            return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True, help="checkout of facebookresearch/ConvNeXt-V2")
    args = ap.parse_args()

    import timm
    import transformers
    from safetensors.torch import save_file
    from timm.models.convnext import ConvNeXt
    from transformers import ConvNextV2Config, ConvNextV2ForImageClassification, ConvNextV2Model

    os.makedirs(OUT, exist_ok=True)
    v2 = dict(depths=DEPTHS, dims=DIMS, use_grn=True, ls_init_value=None)
    source = ConvNeXt(**v2, num_classes=NUM_CLASSES).eval()
    randomise(source, 0)
    sd = {k: v.detach().contiguous() for k, v in source.state_dict().items()}
    save_file(sd, os.path.join(OUT, "timm_head.safetensors"), metadata={"format": "pt"})

    imgs = torch.randn(BATCH, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        features = source.forward_features(imgs)
        pre_logits = source.forward_head(features, pre_logits=True)
        logits = source.forward_head(features)
    save_file({"imgs": imgs, "logits": logits.contiguous(), "pre_logits": pre_logits.contiguous(), "features": features.contiguous()},
              os.path.join(OUT, "batch.safetensors"), metadata={"format": "pt"})

    hf_common = dict(depths=list(DEPTHS), hidden_sizes=list(DIMS), layer_norm_eps=1e-6, drop_path_rate=0.0, image_size=224)
    hf_model = ConvNextV2Model(ConvNextV2Config(**hf_common))
    hf_classifier = ConvNextV2ForImageClassification(ConvNextV2Config(**hf_common, num_labels=NUM_CLASSES))
    Official = load_official(args.official)
    official = Official(depths=list(DEPTHS), dims=list(DIMS), num_classes=NUM_CLASSES)

    manifest = {
        "generator": "tests/reference/gen_export_fixtures.py",
        "versions": {"torch": torch.__version__, "timm": timm.__version__, "transformers": transformers.__version__},
        "config": {"depths": list(DEPTHS), "dims": list(DIMS), "num_classes": NUM_CLASSES},
        "source": "timm_head.safetensors",
        "batch": "batch.safetensors",
        "keys": {
            "hf_model": key_list(hf_model),
            "hf_classifier": key_list(hf_classifier),
            "timm_head": key_list(source),
            "timm_head_conv_mlp": key_list(ConvNeXt(**v2, num_classes=NUM_CLASSES, conv_mlp=True)),
            "timm_encoder": key_list(ConvNeXt(**v2, num_classes=0)),
            "timm_no_grn_head": key_list(ConvNeXt(depths=DEPTHS, dims=DIMS, use_grn=False, ls_init_value=None, num_classes=NUM_CLASSES)),
            "official_dense_head": key_list(official),
        },
        "hf_config": {"hf_model": hf_saved_config(hf_model), "hf_classifier": hf_saved_config(hf_classifier)},
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        f.write(compact_json(manifest) + "\n")
    for name in ("timm_head.safetensors", "batch.safetensors", "manifest.json"):
        print("wrote", os.path.relpath(os.path.join(OUT, name), os.path.dirname(os.path.dirname(HERE))))


if __name__ == "__main__":
    main()
