"""PyTorch reference FCMAE (ConvNeXt V2 encoder + ConvNeXt V2 decoder + masked loss), float64.

Follows /work/shared/docs/fcmae-spec.md §1–§5 exactly, in the *dense-equivalent* form of the
sparse encoder (spec §4 point 4): every tensor is a full (N, C, H, W) grid and masked sites
are kept at zero, which gives the same values and gradients at visible sites as the
submanifold-sparse encoder that the engine runs on visible rows only.

Where masked sites are zeroed (sparse mode):
- stem output × (1 − mask upsampled ×8): the stem sees the whole image, but masked patches
  never get past it;
- before and after every depthwise conv (masked neighbours contribute nothing);
- after every LayerNorm / downsample conv / block branch, so no later layer can read a value
  at a masked site (LayerNorm of a zero site is its bias; these values are irrelevant and
  zeroing them proves they are never used);
- GRN statistics are sums over visible sites only (per sample, or over the whole batch).
The encoder output is therefore exactly zero at masked patches.

dense_encoder=True is the paper's "no sparse conv" ablation: the stem output is masked once,
then ordinary dense convs everywhere (information flows into masked regions), GRN over all
sites.

grn=False is the no-GRN ablation (a ConvNeXt V1-style block, without V1's layer scale):
every block, encoder and decoder, is dwconv → LayerNorm → pwconv1 → GELU → pwconv2 → residual
and has no grn.* parameters.

Parameter names are the official FCMAE names with dense PyTorch shapes (state_dict() of
FCMAEReference), e.g. encoder.stages.0.0.dwconv.weight (C,1,7,7), grn.gamma (1,1,1,4C),
pred.weight (3072, D, 1, 1). `to_official_sparse_state_dict` converts to the layout the
official MinkowskiEngine pretraining writes (spec §6); `official_sparse_to_dense` is the
official `remap_checkpoint_keys` conversion back, used as a self-check.
"""
import math
from dataclasses import asdict, dataclass, field
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-6
GRN_EPS = 1e-6
NORM_PIX_EPS = 1e-6


@dataclass
class FcmaeConfig:
    depths: List[int] = field(default_factory=lambda: [2, 2, 6, 2])
    dims: List[int] = field(default_factory=lambda: [40, 80, 160, 320])
    decoder_depth: int = 1
    decoder_dim: int = 512
    patch: int = 32  # mask patch = total encoder stride (4 · 2³)
    input_h: int = 224
    input_w: int = 224
    grn_mode: str = "per-sample"  # 'per-sample' | 'batch' (see GRN)
    gelu: str = "erf"  # 'erf' | 'tanh'
    norm_pix: bool = True
    dense_encoder: bool = False
    grn: bool = True  # False: blocks without GRN (no grn.* parameters)

    def __post_init__(self):
        assert len(self.depths) == 4 and len(self.dims) == 4
        assert self.patch == 32, "the mask patch must equal the encoder stride"
        assert self.input_h % 32 == 0 and self.input_w % 32 == 0
        assert self.grn_mode in ("per-sample", "batch")
        assert self.gelu in ("erf", "tanh")

    @property
    def grid(self):
        return self.input_h // self.patch, self.input_w // self.patch

    def to_json(self):
        # grn only when off: configs with GRN keep the JSON (and fixture bytes) they had before
        d = asdict(self)
        if d["grn"]:
            del d["grn"]
        return d


# ---- modules: they only hold the parameters under the official names ------------------------


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of an (N, C, H, W) tensor (the official channels_first LayerNorm)."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))


class GRN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))


class Block(nn.Module):
    def __init__(self, dim, grn=True):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GRN(4 * dim) if grn else None  # None: not registered, no grn.* names
        self.pwconv2 = nn.Linear(4 * dim, dim)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.dims
        self.downsample_layers = nn.ModuleList([nn.Sequential(nn.Conv2d(3, d[0], kernel_size=4, stride=4), LayerNorm2d(d[0]))])
        for i in range(1, 4):
            self.downsample_layers.append(nn.Sequential(LayerNorm2d(d[i - 1]), nn.Conv2d(d[i - 1], d[i], kernel_size=2, stride=2)))
        self.stages = nn.ModuleList([nn.Sequential(*[Block(d[i], cfg.grn) for _ in range(cfg.depths[i])]) for i in range(4)])


class FCMAEReference(nn.Module):
    def __init__(self, cfg: FcmaeConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.decoder_dim
        self.encoder = Encoder(cfg)
        self.proj = nn.Conv2d(cfg.dims[3], D, kernel_size=1)
        self.mask_token = nn.Parameter(torch.zeros(1, D, 1, 1))
        self.decoder = nn.Sequential(*[Block(D, cfg.grn) for _ in range(cfg.decoder_depth)])
        self.pred = nn.Conv2d(D, cfg.patch * cfg.patch * 3, kernel_size=1)

    # ---- forward -------------------------------------------------------------------------

    def forward_encoder(self, imgs, mask):
        """imgs (N, 3, H, W); mask (N, L) 1 = masked. Returns (N, d3, H/32, W/32)."""
        cfg = self.cfg
        sparse = not cfg.dense_encoder
        stem = self.encoder.downsample_layers[0]
        x = F.conv2d(imgs, stem[0].weight, stem[0].bias, stride=4)  # (N, d0, H/4, W/4)
        x = layer_norm_2d(x, stem[1])
        x = x * visible_map(mask, cfg, 8)  # both modes: masked patches never pass the stem
        for i in range(4):
            vis = visible_map(mask, cfg, 2 ** (3 - i)) if sparse else None  # (N, 1, H_i, W_i)
            if i > 0:
                ds = self.encoder.downsample_layers[i]
                x = remask(layer_norm_2d(x, ds[0]), visible_map(mask, cfg, 2 ** (4 - i)) if sparse else None)
                # Each 2×2 window is entirely visible or entirely masked (patch-aligned mask).
                x = remask(F.conv2d(x, ds[1].weight, ds[1].bias, stride=2), vis)
            for blk in self.encoder.stages[i]:
                x = block_forward(blk, x, vis, cfg)
        return x

    def forward_decoder(self, latent, mask):
        """latent (N, d3, h, w) → pred (N, 3072, h, w). Dense on the patch grid."""
        cfg = self.cfg
        h, w = cfg.grid
        m = mask.reshape(-1, 1, h, w).to(latent.dtype)
        x = F.conv2d(latent, self.proj.weight, self.proj.bias)
        x = x * (1.0 - m) + self.mask_token * m
        for blk in self.decoder:
            # GRN over every site of the grid, always per sample (spec §4 and the official
            # dense decoder Block): the 'batch' option applies to the sparse encoder only.
            x = block_forward(blk, x, None, cfg, grn_mode="per-sample")
        return F.conv2d(x, self.pred.weight, self.pred.bias)

    def forward(self, imgs, mask):
        """Returns (loss, pred (N, L, 3072), latent (N, d3, h, w))."""
        latent = self.forward_encoder(imgs, mask)
        pred = self.forward_decoder(latent, mask)
        n = pred.shape[0]
        pred = pred.reshape(n, pred.shape[1], -1).transpose(1, 2)  # (N, L, 3072), patch-major
        return forward_loss(imgs, pred, mask, self.cfg), pred, latent


# ---- layer maths ----------------------------------------------------------------------------


def visible_map(mask, cfg, scale):
    """(N, L) mask (1 = masked) → (N, 1, h·scale, w·scale) visibility (1 = visible), nearest."""
    h, w = cfg.grid
    vis = 1.0 - mask.reshape(-1, 1, h, w)
    return vis.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)


def remask(x, vis):
    return x if vis is None else x * vis


def layer_norm_2d(x, ln):
    y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), ln.weight, ln.bias, LN_EPS)
    return y.permute(0, 3, 1, 2)


def gelu(x, cfg):
    return F.gelu(x, approximate="tanh" if cfg.gelu == "tanh" else "none")


def grn(x, mod, vis_cl, mode):
    """x (N, H, W, C) channels-last; vis_cl (N, H, W, 1) or None (all sites count).

    G[c] = ‖X[:, c]‖₂ over visible sites (per sample, or over the batch), Nx = G / (mean_c G + 1e-6),
    Y = γ·X·Nx + β + X. vector_norm's backward is 0 (not NaN) where G = 0.
    """
    xs = x if vis_cl is None else x * vis_cl
    dims = (1, 2) if mode == "per-sample" else (0, 1, 2)
    g = torch.linalg.vector_norm(xs, ord=2, dim=dims, keepdim=True)
    nx = g / (g.mean(dim=-1, keepdim=True) + GRN_EPS)
    return mod.gamma * (x * nx) + mod.beta + x


def block_forward(blk, x, vis, cfg, grn_mode=None):
    """One ConvNeXt V2 block on (N, C, H, W) (V1-style without GRN when blk.grn is None).
    vis (N, 1, H, W) = sparse semantics, None = dense."""
    shortcut = x
    y = remask(x, vis)
    y = remask(F.conv2d(y, blk.dwconv.weight, blk.dwconv.bias, padding=3, groups=x.shape[1]), vis)
    y = y.permute(0, 2, 3, 1)  # (N, H, W, C)
    y = F.layer_norm(y, (y.shape[-1],), blk.norm.weight, blk.norm.bias, LN_EPS)
    y = gelu(F.linear(y, blk.pwconv1.weight, blk.pwconv1.bias), cfg)  # (N, H, W, 4C)
    if blk.grn is not None:
        y = grn(y, blk.grn, None if vis is None else vis.permute(0, 2, 3, 1), grn_mode or cfg.grn_mode)
    y = F.linear(y, blk.pwconv2.weight, blk.pwconv2.bias).permute(0, 3, 1, 2)  # (N, C, H, W)
    return shortcut + remask(y, vis)


def patchify(imgs, p=32):
    """(N, 3, H, W) → (N, L, p·p·3): patches row-major, inside a patch (row, col, channel)."""
    n, c, H, W = imgs.shape
    h, w = H // p, W // p
    x = imgs.reshape(n, c, h, p, w, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(n, h * w, p * p * c)


def loss_target(imgs, cfg):
    target = patchify(imgs, cfg.patch)
    if cfg.norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True, unbiased=True)
        target = (target - mean) / (var + NORM_PIX_EPS) ** 0.5
    return target


def masked_mean_loss(pred, target, mask):
    """Σ(loss·mask)/Σmask with per-patch loss = mean over 3072 of (pred − target)².

    Σmask = 0 (mask ratio 0) makes the spec's formula 0/0. PROPOSAL, flagged for the lead:
    then average over every patch, so a ratio-0 run still trains (and its fixture still
    checks every gradient). The official code would return NaN.
    """
    per_patch = ((pred - target) ** 2).mean(dim=-1)  # (N, L)
    if float(mask.sum()) == 0.0:
        return per_patch.mean()
    return (per_patch * mask).sum() / mask.sum()


def forward_loss(imgs, pred, mask, cfg):
    return masked_mean_loss(pred, loss_target(imgs, cfg), mask)


# ---- masks, init ----------------------------------------------------------------------------


def random_mask(n, L, ratio, generator):
    """Spec §4: len_keep = floor(L·(1−ratio)); the len_keep smallest of standard-normal noise are kept."""
    return random_mask_keep(n, L, int(math.floor(L * (1 - ratio))), generator)


def random_mask_keep(n, L, len_keep, generator):
    """The official masking for a given visible count: per sample the len_keep patches with the
    smallest standard-normal noise stay visible (0), the rest are masked (1)."""
    noise = torch.randn(n, L, generator=generator, dtype=torch.float64)
    ids_shuffle = torch.argsort(noise, dim=1)
    mask = torch.ones(n, L, dtype=torch.float64)
    for i in range(n):
        mask[i, ids_shuffle[i, :len_keep]] = 0.0
    return mask


def is_decayed(name):
    """Conv and linear weights get weight decay; biases, LayerNorm, GRN, mask_token do not."""
    if not name.endswith(".weight"):
        return False
    if ".grn." in name or ".norm." in name:
        return False
    # LayerNorm2d positions: stem .0.1, downsample .i.0 (i > 0)
    parts = name.split(".")
    if parts[0] == "encoder" and parts[1] == "downsample_layers":
        i, j = int(parts[2]), int(parts[3])
        return (i == 0 and j == 0) or (i > 0 and j == 1)
    return True


def init_spec(model, generator):
    """Spec §3 init: conv/linear weights trunc-normal std 0.02 cut at ±2, biases 0, LN 1/0,
    GRN 0, mask token normal std 0.02."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "mask_token":
                p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.02)
            elif is_decayed(name):
                t = torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.02
                while True:  # resample outside ±2 (never happens at std 0.02; kept for the rule)
                    bad = t.abs() > 2
                    if not bad.any():
                        break
                    t[bad] = torch.randn(int(bad.sum()), generator=generator, dtype=p.dtype) * 0.02
                p.copy_(t)
            elif name.endswith(".weight"):  # LayerNorm
                p.fill_(1.0)
            else:
                p.zero_()


def init_for_fixtures(model, generator):
    """Fixture weights: NOT the spec init. Conv/linear weights normal with std 1/sqrt(fan_in)
    (so pre-activations are O(1) and GELU erf vs tanh, GRN per-sample vs batch really differ;
    at std 0.02 and widths of 8–32 every GELU would sit in its linear regime), and every
    parameter the spec initialises to 0 or 1 (biases, LN, GRN, mask token) perturbed, so that
    no bug can hide behind a zero."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            if is_decayed(name):
                fan_in = p[0].numel()
                p.copy_(r / math.sqrt(fan_in))
            elif ".grn." in name:
                p.copy_(r * 0.3)
            elif name.endswith(".weight"):  # LayerNorm weight
                p.copy_(1.0 + 0.1 * r)
            elif name == "mask_token":
                p.copy_(r * 0.5)
            else:  # biases
                p.copy_(r * 0.05)


def round_params_to_f32(model):
    """Parameters hold float32-representable values (the fixtures are float32) in float64."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float32).to(torch.float64))


# ---- official sparse checkpoint layout (spec §6) ---------------------------------------------


def to_official_sparse_state_dict(state_dict):
    """Dense names/shapes → what the official MinkowskiEngine FCMAE pretraining saves.

    Encoder convs after the stem become `.kernel` (k·k, in, out) with the first spatial axis
    fastest: K[x·k + y, i, o] = W[o, i, y, x]; depthwise (49, C); their biases (1, C);
    sparse LayerNorms `.ln.weight`, linears `.linear.weight`; GRN (1, C). The stem (a dense
    nn.Conv2d + channels_first LayerNorm in the official code) and the decoder side (proj,
    mask_token, dense decoder blocks, pred) keep their dense names and shapes.
    """
    out = {}
    for name, v in state_dict.items():
        parts = name.split(".")
        if parts[0] != "encoder" or name.startswith("encoder.downsample_layers.0."):
            out[name] = v.clone()
            continue
        if parts[1] == "downsample_layers":  # encoder.downsample_layers.i.{0: LN, 1: conv}
            if parts[3] == "0":
                out[".".join(parts[:4] + ["ln", parts[4]])] = v.clone()
            elif parts[4] == "weight":
                o, i, k, _ = v.shape
                out[".".join(parts[:4] + ["kernel"])] = v.permute(3, 2, 1, 0).reshape(k * k, i, o).contiguous()
            else:
                out[name] = v.reshape(1, -1).clone()
            continue
        # encoder.stages.S.B.<layer>.<param>
        layer, param = parts[4], parts[5]
        prefix = ".".join(parts[:5])
        if layer == "dwconv":
            if param == "weight":
                c, _, k, _ = v.shape
                out[prefix + ".kernel"] = v[:, 0].permute(2, 1, 0).reshape(k * k, c).contiguous()
            else:
                out[prefix + ".bias"] = v.reshape(1, -1).clone()
        elif layer == "norm":
            out[prefix + ".ln." + param] = v.clone()
        elif layer in ("pwconv1", "pwconv2"):
            out[prefix + ".linear." + param] = v.clone()
        elif layer == "grn":
            out[name] = v.reshape(1, -1).clone()
        else:
            raise KeyError(name)
    return out


def official_sparse_to_dense(ckpt):
    """The official utils.remap_checkpoint_keys (ConvNeXt-V2 fine-tuning loader), restated:
    sparse pretraining names → dense encoder names (drops the `encoder.` prefix, keeps only
    encoder tensors here)."""
    new = {}
    for k, v in ckpt.items():
        if not k.startswith("encoder."):
            continue
        k = ".".join(k.split(".")[1:])
        if k.endswith("kernel"):
            base = ".".join(k.split(".")[:-1]) + ".weight"
            if v.dim() == 3:
                kv, in_dim, out_dim = v.shape
                ks = int(math.sqrt(kv))
                new[base] = v.permute(2, 1, 0).reshape(out_dim, in_dim, ks, ks).transpose(3, 2)
            else:
                kv, dim = v.shape
                ks = int(math.sqrt(kv))
                new[base] = v.permute(1, 0).reshape(dim, 1, ks, ks).transpose(3, 2)
            continue
        if ".ln." in k or ".linear." in k:
            ks = k.split(".")
            ks.pop(-2)
            k = ".".join(ks)
        new[k] = v
    for k, v in list(new.items()):
        if k.endswith("bias") and v.dim() != 1:
            new[k] = v.reshape(-1)
        elif "grn" in k:
            new[k] = v.unsqueeze(0).unsqueeze(1)
    return new


def adamw_param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if is_decayed(name) else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build(cfg: FcmaeConfig, seed: int, fixture_init: bool = True) -> FCMAEReference:
    model = FCMAEReference(cfg).to(torch.float64)
    g = torch.Generator().manual_seed(seed)
    (init_for_fixtures if fixture_init else init_spec)(model, g)
    round_params_to_f32(model)
    return model


def clone_model(model: FCMAEReference, cfg: Optional[FcmaeConfig] = None) -> FCMAEReference:
    other = FCMAEReference(cfg or model.cfg).to(torch.float64)
    other.load_state_dict(model.state_dict())
    return other
