"""PyTorch fixtures for the FCMAE edge ops (run: /usr/bin/python3 tests/reference/gen_stem_loss.py).

ops/stem.json       stem conv 4x4 stride 4 on the full image, then masked by (1 - mask)
                    upsampled x8 (the official FCMAE encoder's stem), plus dWeight/dBias by
                    autograd for an upstream gradient dY.
ops/fcmae-loss.json patchify + normalised-pixel target (unbiased var) + masked loss and
                    dPred by autograd, following the official FCMAE `forward_loss`
                    (facebookresearch/ConvNeXt-V2 models/fcmae.py), patchify generalised to
                    non-square grids (h = H/32, w = W/32).
Masks follow the official gen_random_mask (argsort of standard-normal noise). float64
throughout. Each fixture holds several cases; tensor names are prefixed "<case>.".
"""
import torch
import torch.nn.functional as F

from fixture_io import write_fixture

P = 32  # mask patch


def gen_random_mask(N, gh, gw, ratio, g):
    L = gh * gw
    len_keep = int(L * (1 - ratio))
    noise = torch.randn(N, L, generator=g, dtype=torch.float64)
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones([N, L], dtype=torch.float64)
    mask[:, :len_keep] = 0
    return torch.gather(mask, dim=1, index=ids_restore)


def quantised(shape, g, scale=1.0):
    # Multiples of 1/256: exact in float32 and short in JSON.
    return torch.round(torch.randn(*shape, generator=g, dtype=torch.float64) * scale * 256) / 256


def stem_fixture():
    g = torch.Generator().manual_seed(1234)
    cases = [
        dict(name="c0", N=2, H=32, W=64, d0=8, ratio=0.5),
        dict(name="c1", N=1, H=64, W=96, d0=6, ratio=0.75),
        dict(name="c2", N=1, H=64, W=64, d0=5, ratio=0.0),
    ]
    tensors = {}
    for c in cases:
        N, H, W, d0 = c["N"], c["H"], c["W"], c["d0"]
        gh, gw = H // P, W // P
        image = quantised((N, 3, H, W), g)
        weight = quantised((d0, 3, 4, 4), g, 0.2).requires_grad_()
        bias = quantised((d0,), g, 0.1).requires_grad_()
        mask = gen_random_mask(N, gh, gw, c["ratio"], g)
        y = F.conv2d(image, weight, bias, stride=4)
        m = mask.reshape(N, 1, gh, gw).repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)
        y = y * (1 - m)
        dY = quantised(y.shape, g)
        (y * dY).sum().backward()
        for k, v in dict(image=image, weight=weight, bias=bias, mask=mask, y=y, dY=dY,
                         dWeight=weight.grad, dBias=bias.grad).items():
            tensors[c["name"] + "." + k] = v
    write_fixture("ops/stem", tensors, {"cases": cases})


def patchify(imgs):
    n, _, H, W = imgs.shape
    h, w = H // P, W // P
    x = imgs.reshape(n, 3, h, P, w, P)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(n, h * w, P * P * 3)


def forward_loss(imgs, pred, mask, norm_pix_loss):
    """Official FCMAE forward_loss (pred already (N, L, 3072)), also returning the target."""
    target = patchify(imgs)
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)  # unbiased, as in the official code
    if norm_pix_loss:
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    loss = (pred - target) ** 2
    loss = loss.mean(dim=-1)  # [N, L], mean loss per patch
    per_sample = (loss * mask).sum(dim=1) / mask.sum(dim=1)
    loss = (loss * mask).sum() / mask.sum()  # mean loss on removed patches
    return loss, per_sample, target, mean.squeeze(-1), var.squeeze(-1)


def loss_fixture():
    g = torch.Generator().manual_seed(4321)
    cases = [
        dict(name="c0", N=1, H=64, W=96, ratio=0.5, normPix=True),
        dict(name="c1", N=2, H=32, W=64, ratio=0.5, normPix=False),
    ]
    tensors = {}
    for c in cases:
        N, H, W = c["N"], c["H"], c["W"]
        gh, gw = H // P, W // P
        L = gh * gw
        # Per-image offsets and scales so that the patch statistics are far from (0, 1).
        image = quantised((N, 3, H, W), g, 0.5) + 0.25
        mask = gen_random_mask(N, gh, gw, c["ratio"], g)
        pred_full = quantised((N, L, P * P * 3), g).requires_grad_()
        loss, per_sample, target, mean, var = forward_loss(image, pred_full, mask, c["normPix"])
        loss.backward()
        masked = mask.reshape(-1) == 1
        grad = pred_full.grad.reshape(N * L, -1)
        assert torch.all(grad[~masked] == 0), "visible-patch predictions must get no gradient"
        for k, v in dict(
            image=image,
            mask=mask,
            target=target.reshape(N * L, -1),
            mean=mean.reshape(-1),
            var=var.reshape(-1),
            pred=pred_full.detach().reshape(N * L, -1)[masked],  # (N*M, 3072), ascending rows
            loss=loss.reshape(1),
            perSample=per_sample,
            dPred=grad[masked],
        ).items():
            tensors[c["name"] + "." + k] = v
    write_fixture("ops/fcmae-loss", tensors, {"cases": cases})


if __name__ == "__main__":
    stem_fixture()
    loss_fixture()
