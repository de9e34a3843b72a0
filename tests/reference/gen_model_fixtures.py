"""Model-level FCMAE fixtures: weights, batch, loss, every gradient, a 5-step AdamW trajectory.

Run: /work/.refvenv/bin/python tests/reference/gen_model_fixtures.py [NAME ...]  → tests/fixtures/model/<config>/*
(see tests/fixtures/model/README.md for the files). Deterministic: fixed seeds. With names,
only those configs are checked and written (e.g. `no_grn`), leaving the others' files alone.

The reference model (fcmae_reference.py) computes in float64 from float32-representable
weights and images, so a float64 TypeScript reference can match to ~1e-12 and the float32
GPU engine is compared with tolerances of its own.

Before writing anything the script checks the reference itself, per config:
- autograd via .backward() equals torch.autograd.grad (same graph; guards the harvesting);
- central finite differences of the loss agree with autograd for a few elements of every
  parameter tensor (float64);
- pixels inside masked patches change the loss only through the target: encoder output and
  prediction are bit-identical, and the new loss equals the old prediction vs the new target;
- every option of the config matters (flipping gelu / grn_mode / norm_pix / dense_encoder
  changes the loss), so a fixture cannot pass with an option ignored; without GRN, grn_mode
  changes nothing, and the model equals the GRN model with γ = β = 0 (GRN's identity) while
  the GRN model with the fixture's γ, β gives other gradients;
- per-sample GRN keeps samples independent (batch GRN does not); at ratio 0 the sparse
  and dense encoders agree exactly;
- torch's AdamW equals the formula written in the README;
- the official sparse checkpoint converts back (official remap_checkpoint_keys) exactly.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fcmae_reference import (  # noqa: E402
    FCMAEReference,
    FcmaeConfig,
    adamw_param_groups,
    build,
    clone_model,
    is_decayed,
    loss_target,
    masked_mean_loss,
    official_sparse_to_dense,
    random_mask_keep,
    to_official_sparse_state_dict,
)
from gen_safetensors import read_safetensors, write_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "model")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ADAMW = {"lr": 1e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.05, "steps": 5}

SMALL = dict(depths=[1, 1, 2, 1], dims=[8, 16, 24, 32])
TINY = dict(depths=[1, 1, 2, 1], dims=[4, 8, 12, 16])  # keeps the fixtures small (pred is 3072·D)

# name, config, batch size, mask (a float: mask ratio, len_keep = int(L·(1 − ratio)); an int:
# the visible count itself), seed
CASES = [
    ("base", FcmaeConfig(**SMALL, decoder_depth=1, decoder_dim=16, input_h=64, input_w=64), 2, 0.5, 1),
    ("nonsquare_batch_grn", FcmaeConfig(**TINY, decoder_depth=1, decoder_dim=8, input_h=96, input_w=64, grn_mode="batch"), 2, 0.75, 2),
    ("tanh_n3", FcmaeConfig(**TINY, decoder_depth=1, decoder_dim=8, input_h=64, input_w=64, gelu="tanh"), 3, 0.5, 3),
    # Widths not divisible by 4 (vec4 fallbacks), two decoder blocks, plain-pixel targets.
    ("plain_pix_decoder2", FcmaeConfig(depths=[1, 2, 1, 1], dims=[6, 10, 14, 18], decoder_depth=2, decoder_dim=6, input_h=64, input_w=96, norm_pix=False), 2, 0.5, 4),
    ("dense_encoder", FcmaeConfig(**TINY, decoder_depth=1, decoder_dim=8, input_h=96, input_w=64, dense_encoder=True), 2, 0.6, 5),
    ("ratio0", FcmaeConfig(**TINY, decoder_depth=1, decoder_dim=8, input_h=64, input_w=64), 2, 0.0, 6),
    # Blocks without GRN (V1-style ablation), encoder and decoder.
    ("no_grn", FcmaeConfig(**TINY, decoder_depth=1, decoder_dim=8, input_h=64, input_w=64, grn=False), 2, 0.5, 7),
    # Visible counts whose ratio 1 − V/L does not round-trip through int(L·(1 − ratio)):
    # 9·(1 − (1 − 3/9)) = 2.9999… and 49·(1 − (1 − 27/49)) = 26.9999…; the official code makes
    # these masks from ratios 0.6 (int(9·0.4) = 3) and 0.44 (int(49·0.56) = 27).
    ("keep3of9", FcmaeConfig(**TINY, decoder_depth=1, decoder_dim=8, input_h=96, input_w=96), 2, 3, 8),
    ("keep27of49", FcmaeConfig(**TINY, decoder_depth=1, decoder_dim=8, input_h=224, input_w=224), 2, 27, 9),
]
SPARSE_CHECKPOINT_CASE = "base"


def make_images(n, h, w, generator):
    """Smooth random pictures in [0, 1] (a few low-frequency waves + a little noise), then
    ImageNet-normalised, rounded to float32 values."""
    yy = torch.linspace(0, 1, h).reshape(1, h, 1)
    xx = torch.linspace(0, 1, w).reshape(1, 1, w)
    imgs = torch.zeros(n, 3, h, w)
    for i in range(n):
        for c in range(3):
            img = torch.full((1, h, w), 0.5)
            for _ in range(4):
                fy, fx, ph = (torch.rand(3, generator=generator) * torch.tensor([6.0, 6.0, 6.28])).tolist()
                amp = float(torch.rand(1, generator=generator)) * 0.25
                img = img + amp * torch.cos(2 * math.pi * (fy * yy + fx * xx) + ph)
            img = img + 0.05 * torch.randn(1, h, w, generator=generator)
            imgs[i, c] = ((img.clamp(0, 1) - IMAGENET_MEAN[c]) / IMAGENET_STD[c])[0]
    return imgs.to(torch.float32).to(torch.float64)


def pixel_mask(mask, cfg):
    h, w = cfg.grid
    return mask.reshape(-1, 1, h, w).repeat_interleave(cfg.patch, 2).repeat_interleave(cfg.patch, 3)


def loss_and_grads(model, imgs, mask):
    model.zero_grad()
    loss, pred, latent = model(imgs, mask)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return loss.detach(), pred.detach(), latent.detach(), grads


# ---- self-checks ----------------------------------------------------------------------------


def check_autograd_harvest(model, imgs, mask, grads):
    loss, _, _ = model(imgs, mask)
    names = [n for n, _ in model.named_parameters()]
    direct = torch.autograd.grad(loss, [p for _, p in model.named_parameters()])
    for n, g in zip(names, direct):
        assert torch.equal(g, grads[n]), f"autograd mismatch for {n}"


def check_finite_differences(model, imgs, mask, grads, generator, per_tensor=2):
    """Central differences in float64 on the largest-|grad| element and `per_tensor` random ones."""
    h = 1e-6
    worst = 0.0
    checked = 0
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in params.items():
            g = grads[name].reshape(-1)
            flat = p.view(-1)
            picks = [int(g.abs().argmax())] + torch.randint(0, flat.numel(), (per_tensor,), generator=generator).tolist()
            for idx in picks:
                orig = float(flat[idx])
                flat[idx] = orig + h
                lp = float(model(imgs, mask)[0])
                flat[idx] = orig - h
                lm = float(model(imgs, mask)[0])
                flat[idx] = orig
                fd = (lp - lm) / (2 * h)
                an = float(g[idx])
                err = abs(fd - an)
                # Roundoff of the difference quotient ~ 1e-16·|loss|/h ≈ 1e-10; truncation ~h².
                assert err <= 1e-8 + 1e-6 * abs(an), f"finite differences: {name}[{idx}] fd {fd} vs autograd {an}"
                worst = max(worst, err / (1e-8 + abs(an)))
                checked += 1
    return checked, worst


def check_masked_pixels(model, imgs, mask, loss, pred, latent, generator):
    """Changing only masked-patch pixels may change the target, nothing else."""
    cfg = model.cfg
    if float(mask.sum()) == 0:
        return "skipped (nothing masked)"
    noise = torch.randn(imgs.shape, generator=generator) * pixel_mask(mask, cfg)
    imgs2 = imgs + noise
    with torch.no_grad():
        loss2, pred2, latent2 = model(imgs2, mask)
        assert torch.equal(latent2, latent), "encoder output depends on masked pixels"
        assert torch.equal(pred2, pred), "prediction depends on masked pixels"
        through_target = masked_mean_loss(pred, loss_target(imgs2, cfg), mask)
        assert torch.equal(loss2, through_target), "loss changed other than through the target"
        assert abs(float(loss2) - float(loss)) > 1e-6, "masked pixels should change the target"
    return "ok"


def check_options_matter(model, imgs, mask, loss):
    cfg = model.cfg
    flips = {"gelu": "tanh" if cfg.gelu == "erf" else "erf", "norm_pix": not cfg.norm_pix}
    other_mode = "batch" if cfg.grn_mode == "per-sample" else "per-sample"
    if imgs.shape[0] > 1 and cfg.grn:
        flips["grn_mode"] = other_mode
    if not cfg.grn:
        # without GRN there are no statistics: the mode must change nothing
        other = clone_model(model, FcmaeConfig(**{**cfg.to_json(), "grn_mode": other_mode}))
        with torch.no_grad():
            assert torch.equal(other(imgs, mask)[0], loss), "no GRN, yet grn_mode changes the loss"
    if float(mask.sum()) > 0:
        flips["dense_encoder"] = not cfg.dense_encoder
    report = {}
    _, _, _, grads = loss_and_grads(model, imgs, mask)
    for key, value in flips.items():
        other = clone_model(model, FcmaeConfig(**{**cfg.to_json(), key: value}))
        other_loss, _, _, other_grads = loss_and_grads(other, imgs, mask)
        loss_rel = abs(float(other_loss) - float(loss)) / abs(float(loss))
        # (mask_token has no gradient at ratio 0: skip all-zero tensors)
        grad_rel = max(float((other_grads[k] - g).norm() / g.norm()) for k, g in grads.items() if float(g.norm()) > 0)
        # The option must move some gradient tensor well beyond float32 noise. GELU tanh vs
        # erf differ by < 5e-4 absolute anywhere, so it moves gradients by only ~1e-3
        # (the op-level GELU tests are its real check); every other option by > 1e-2.
        need = 5e-4 if key == "gelu" else 1e-2
        assert grad_rel > need, f"flipping {key} moves the gradients by only {grad_rel:.2e}: the fixture cannot tell"
        report[key] = (loss_rel, grad_rel)
    return report


def check_no_grn(model, imgs, mask, loss, grads, generator):
    """A model without GRN equals the GRN model whose γ = β = 0 (then GRN is the identity: the
    γ·X·Nx term is exactly 0 and + β adds 0), loss and every shared gradient; the GRN model
    with γ, β perturbed as in the fixtures has other gradients, so GRN on/off is visible."""
    cfg = model.cfg
    if cfg.grn:
        return "n/a"
    with_grn = FCMAEReference(FcmaeConfig(**{**cfg.to_json(), "grn": True})).to(torch.float64)
    state = dict(model.state_dict())
    grn_names = [n for n, _ in with_grn.named_parameters() if ".grn." in n]
    assert grn_names and not any(".grn." in n for n in state), "the no-GRN model must have no grn.* parameters"
    for n in grn_names:
        state[n] = torch.zeros_like(dict(with_grn.named_parameters())[n])
    with_grn.load_state_dict(state)
    loss0, _, _, grads0 = loss_and_grads(with_grn, imgs, mask)
    assert torch.equal(loss0, loss), f"GRN with γ = β = 0 gives loss {float(loss0)}, no GRN {float(loss)}"
    for n, g in grads.items():
        assert torch.allclose(grads0[n], g, rtol=1e-12, atol=1e-15), f"GRN with γ = β = 0 changes the gradient of {n}"
    with torch.no_grad():
        for n in grn_names:
            p = dict(with_grn.named_parameters())[n]
            p.copy_((torch.randn(p.shape, generator=generator) * 0.3).to(torch.float32).to(torch.float64))
    _, _, _, grads1 = loss_and_grads(with_grn, imgs, mask)
    grad_rel = max(float((grads1[k] - g).norm() / g.norm()) for k, g in grads.items() if float(g.norm()) > 0)
    assert grad_rel > 1e-2, f"GRN with the fixtures' γ, β moves the gradients by only {grad_rel:.2e}"
    return f"ok (γ = β = 0 identical; perturbed GRN moves gradients by {grad_rel:.1e})"


def check_sample_independence(model, imgs, mask, latent, generator):
    cfg = model.cfg
    if imgs.shape[0] < 2:
        return "skipped (batch 1)"
    imgs2 = imgs.clone()
    imgs2[1:] += torch.randn(imgs2[1:].shape, generator=generator)
    with torch.no_grad():
        latent2 = model(imgs2, mask)[2]
    same = torch.equal(latent2[0], latent[0])
    if not cfg.grn:
        assert same, "no GRN: sample 0 depends on the other samples"
    elif cfg.grn_mode == "per-sample":
        assert same, "per-sample GRN: sample 0 depends on the other samples"
    else:
        assert not same, "batch GRN: sample 0 should depend on the other samples"
    return "ok"


def check_ratio0_dense(model, imgs, mask, latent):
    if float(mask.sum()) != 0:
        return "n/a"
    dense = clone_model(model, FcmaeConfig(**{**model.cfg.to_json(), "dense_encoder": not model.cfg.dense_encoder}))
    with torch.no_grad():
        assert torch.equal(dense(imgs, mask)[2], latent), "ratio 0: sparse and dense encoders differ"
    return "ok"


def manual_adamw(params0, grads_fn, steps):
    """AdamW as the README states it (decoupled decay, bias-corrected moments)."""
    lr, (b1, b2), eps, wd = ADAMW["lr"], ADAMW["betas"], ADAMW["eps"], ADAMW["weight_decay"]
    p = {k: v.clone() for k, v in params0.items()}
    m = {k: torch.zeros_like(v) for k, v in p.items()}
    v = {k: torch.zeros_like(x) for k, x in p.items()}
    for t in range(1, steps + 1):
        g = grads_fn(p)
        for k in p:
            decay = wd if is_decayed(k) else 0.0
            p[k] = p[k] * (1 - lr * decay)
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            m_hat = m[k] / (1 - b1**t)
            v_hat = v[k] / (1 - b2**t)
            p[k] = p[k] - lr * m_hat / (v_hat.sqrt() + eps)
    return p


def adamw_trajectory(model, imgs, mask):
    run = clone_model(model)
    opt = torch.optim.AdamW(adamw_param_groups(run, ADAMW["weight_decay"]), lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"])
    losses = []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad()
        loss = run(imgs, mask)[0]
        loss.backward()
        losses.append(float(loss))
        opt.step()
    with torch.no_grad():
        losses.append(float(run(imgs, mask)[0]))

    # Same trajectory from the README formula.
    def grads_fn(p):
        m = clone_model(model)
        m.load_state_dict(p)
        return loss_and_grads(m, imgs, mask)[3]

    final = manual_adamw(dict(model.state_dict()), grads_fn, ADAMW["steps"])
    for k, v in run.state_dict().items():
        assert torch.allclose(v, final[k], rtol=1e-12, atol=1e-14), f"torch AdamW differs from the README formula at {k}"
    return losses, run.state_dict()


# ---- writing --------------------------------------------------------------------------------


def f32(t):
    return ("F32", t.detach().to(torch.float32))


def f64(t):
    return ("F64", t.detach().to(torch.float64))


def main(names):
    known = [c[0] for c in CASES]
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown config(s) {', '.join(unknown)}; known: {', '.join(known)}")
    os.makedirs(OUT, exist_ok=True)
    total = 0
    summary = []
    for name, cfg, n, mask_spec, seed in CASES:
        if names and name not in names:
            continue
        gen = torch.Generator().manual_seed(1000 + seed)
        model = build(cfg, seed)
        h, w = cfg.grid
        imgs = make_images(n, cfg.input_h, cfg.input_w, gen)
        L = h * w
        keep = mask_spec if isinstance(mask_spec, int) else int(math.floor(L * (1 - mask_spec)))
        mask = random_mask_keep(n, L, keep, gen)
        loss, pred, latent, grads = loss_and_grads(model, imgs, mask)
        assert math.isfinite(float(loss))

        check_autograd_harvest(model, imgs, mask, grads)
        fd_count, fd_worst = check_finite_differences(model, imgs, mask, grads, gen)
        masked_px = check_masked_pixels(model, imgs, mask, loss, pred, latent, gen)
        options = check_options_matter(model, imgs, mask, loss)
        independence = check_sample_independence(model, imgs, mask, latent, gen)
        no_grn = check_no_grn(model, imgs, mask, loss, grads, gen)
        ratio0 = check_ratio0_dense(model, imgs, mask, latent)
        if not cfg.dense_encoder and float(mask.sum()) > 0:
            vis = 1.0 - mask.reshape(n, 1, h, w)
            assert torch.equal(latent * vis, latent), "sparse encoder output must be zero at masked patches"
        losses, after = adamw_trajectory(model, imgs, mask)
        print(
            f"{name}: loss {float(loss):.6f}; FD {fd_count} elements ok (worst rel {fd_worst:.1e}); masked pixels {masked_px}; "
            f"independence {independence}; ratio0 {ratio0}; no GRN {no_grn}; option effects (loss rel, max grad rel) {', '.join(f'{k} {a:.1e}/{b:.1e}' for k, (a, b) in options.items())}; "
            f"AdamW losses {', '.join(f'{x:.5f}' for x in losses)}"
        )

        d = os.path.join(OUT, name)
        meta = {"config": json.dumps(cfg.to_json(), sort_keys=True), "generator": "tests/reference/gen_model_fixtures.py"}
        state = model.state_dict()
        total += write_safetensors(os.path.join(d, "weights.safetensors"), {k: f32(v) for k, v in state.items()}, meta)
        total += write_safetensors(os.path.join(d, "batch.safetensors"), {"imgs": f32(imgs), "mask": f32(mask)}, meta)
        total += write_safetensors(os.path.join(d, "grads.safetensors"), {k: f64(v) for k, v in grads.items()}, meta)
        outputs = {"loss": f64(loss.reshape(1)), "encoder_out": f64(latent)}
        if name == SPARSE_CHECKPOINT_CASE:
            outputs["pred"] = f32(pred)  # one config only, float32: (N, L, 3072) is large
        total += write_safetensors(os.path.join(d, "outputs.safetensors"), outputs, meta)
        if name == SPARSE_CHECKPOINT_CASE:
            total += write_safetensors(os.path.join(d, "after_adamw.safetensors"), {k: f32(v) for k, v in after.items()}, meta)
            sparse = {k: v.to(torch.float32).contiguous() for k, v in to_official_sparse_state_dict(state).items()}
            pth = os.path.join(d, "official_sparse.pth")
            torch.save({"model": sparse, "epoch": 0}, pth)
            total += os.path.getsize(pth)
            back = official_sparse_to_dense(torch.load(pth)["model"])
            enc = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
            assert set(back) == set(enc), "official remap gives different names"
            for k, v in enc.items():
                assert back[k].shape == v.shape and torch.equal(back[k].to(torch.float64), v), f"official remap mismatch at {k}"
            print(f"{name}: official_sparse.pth converts back to the dense encoder exactly ({len(sparse)} tensors)")

        expected = {
            "name": name,
            "config": cfg.to_json(),
            "decoder_grn_mode": "per-sample",
            "batch": n,
            **({} if isinstance(mask_spec, int) else {"mask_ratio": mask_spec}),
            "visible_per_sample": keep,
            "masked_per_sample": int(mask[0].sum()),
            "seed": seed,
            "loss": float(loss),
            "adamw": {**ADAMW, "decayed": [k for k in state if is_decayed(k)], "losses": losses},
            "param_count": sum(v.numel() for v in state.values()),
        }
        path = os.path.join(d, "expected.json")
        with open(path, "w") as f:
            json.dump(expected, f, indent=1)
        total += os.path.getsize(path)

        # Read back what was written (safetensors encoder self-check).
        back, back_meta = read_safetensors(os.path.join(d, "weights.safetensors"))
        assert back_meta == meta and set(back) == set(state)
        for k, v in state.items():
            assert np.array_equal(back[k].astype(np.float64), v.numpy()), k
        summary.append((name, expected["param_count"]))

    print("params per config:", ", ".join(f"{n} {c}" for n, c in summary))
    print(f"total fixture bytes: {total} ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main(sys.argv[1:])
