"""Reference outputs of the official FCMAE augmentation path (torchvision 0.14 on PIL images).

Run: /usr/bin/python3 tests/reference/gen_augment.py   (needs python3-torch, python3-torchvision)
Writes tests/fixtures/data/augment.json, read by tests/unit/data/augment.test.ts.

For fixed crop boxes and flips (the random draws differ between torch and our generator) it
records what RandomResizedCrop + RandomHorizontalFlip + ToTensor + Normalize produce, the
uint8 resampled crops, the evaluation transform Resize(int(S/crop_pct)) + CenterCrop(S), and
RandomResizedCrop.get_params on images so elongated that every attempt fails (deterministic
central-crop fallback).
"""
import numpy as np
import torch
from PIL import Image
import torchvision
from torchvision import transforms
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

from fixture_io import write_fixture

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
normalize = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])

rng = np.random.default_rng(7)
H, W = 29, 41
noise = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
# A smooth image as well: random noise exercises clipping, a gradient exercises exact weights.
yy, xx = np.mgrid[0:H, 0:W]
smooth = np.stack([xx * 255 // (W - 1), yy * 255 // (H - 1), (xx + yy) * 255 // (W + H - 2)], axis=-1).astype(np.uint8)

MODES = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}

# (image, top, left, height, width, size, flip, interpolation)
CASES = [
    ("noise", 3, 5, 20, 30, 12, False, "bicubic"),  # downscale, non-square box
    ("noise", 0, 0, 29, 41, 16, True, "bicubic"),  # whole image, flipped
    ("noise", 10, 7, 6, 5, 16, False, "bicubic"),  # upscale ×3
    ("noise", 2, 3, 12, 12, 12, True, "bicubic"),  # same size: Pillow copies
    ("noise", 4, 1, 17, 9, 8, False, "bilinear"),
    ("smooth", 1, 2, 27, 37, 10, True, "bicubic"),
    ("smooth", 5, 9, 7, 7, 20, False, "bilinear"),
    ("noise", 0, 11, 29, 20, 29, False, "bicubic"),  # height unchanged: horizontal pass only
]

tensors = {"image_noise": torch.from_numpy(noise.astype(np.float64)), "image_smooth": torch.from_numpy(smooth.astype(np.float64))}
images = {"noise": Image.fromarray(noise, "RGB"), "smooth": Image.fromarray(smooth, "RGB")}
cases_meta = []
for k, (name, top, left, h, w, size, flip, interp) in enumerate(CASES):
    crop = F.resized_crop(images[name], top, left, h, w, [size, size], MODES[interp])
    tensors["crop_u8_%d" % k] = torch.from_numpy(np.asarray(crop).astype(np.float64))  # (S, S, 3)
    if flip:
        crop = F.hflip(crop)
    tensors["train_%d" % k] = normalize(crop)  # (3, S, S)
    cases_meta.append({"image": name, "top": top, "left": left, "height": h, "width": w, "size": size, "flip": flip, "interpolation": interp})

EVAL = [("noise", 16, 0.875), ("noise", 20, 1.0), ("smooth", 12, 0.875)]
eval_meta = []
for k, (name, size, crop_pct) in enumerate(EVAL):
    t = transforms.Compose([
        transforms.Resize(int(size / crop_pct), interpolation=InterpolationMode.BICUBIC),
        transforms.CenterCrop(size),
    ])
    img = images[name]
    if k == 2:
        img = img.transpose(Image.TRANSPOSE)  # a portrait image too
        tensors["image_smooth_t"] = torch.from_numpy(np.asarray(img).astype(np.float64))
        name = "smooth_t"
    tensors["eval_%d" % k] = normalize(t(img))
    eval_meta.append({"image": name, "size": size, "cropPct": crop_pct})

FALLBACK = [(1000, 10), (10, 1000), (300, 2), (3, 400)]  # (width, height)
fallback_meta = []
for w, h in FALLBACK:
    i, j, hh, ww = transforms.RandomResizedCrop.get_params(torch.zeros(3, h, w), [0.2, 1.0], [3 / 4, 4 / 3])
    fallback_meta.append({"width": w, "height": h, "top": i, "left": j, "cropHeight": hh, "cropWidth": ww})

write_fixture(
    "data/augment",
    tensors,
    meta={"torchvision": torchvision.__version__, "pillow": Image.__version__, "cases": cases_meta, "eval": eval_meta, "fallback": fallback_meta},
)
