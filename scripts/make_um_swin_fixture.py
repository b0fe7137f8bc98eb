#!/usr/bin/env python3
"""Write a reference fixture of the official UM-MAE Swin implementation (implus/UM-MAE).

The official `models_mae_swin.py` (`MaskedAutoencoderSwin`) and `mask_transform.py`
(`RandomMaskingGenerator`) are imported from a checkout of implus/UM-MAE that lives OUTSIDE this
project (its code is not copied here). Pass its location with --um-mae-repo: either a work tree or
a bare git directory (the files are then extracted with `git show` into a temporary folder).
The official code needs `einops` (pip install einops) besides torch, timm and NumPy.

The fixture has the format of the shared `um-mae-swin` fixture (tests/fixtures/um-mae-swin/README.md):

  PREFIX.ckpt.safetensors      state_dict under the official names, f32; metadata `config` = JSON
                               of the constructor arguments plus `layer_norm_eps`
  PREFIX.batch.safetensors     imgs f32 [N,C,H,W], mask f32 [N,M*M] (1 = masked),
                               secondary_noise f32 [N,M*M]
  PREFIX.expected.safetensors  loss [1], pred [N,M*M,stride*stride*C], mask [N,M*M],
                               secondary_mask [N,M*M] (visible but replaced by the secondary mask
                               token), grad.<name> per trainable parameter

M = img_size / stride. The masks are what the official data loader makes: one call per sample of
`RandomMaskingGenerator(M, 0.75, regular=True)` with NumPy seeded from --seed, turned into a bool
tensor as the official engine does (`mask.flatten(1).to(torch.bool)`) and passed as
`model(imgs, mask=...)`.

How it is made: the model is built with the official constructor, `MaskedAutoencoderSwin(**config,
norm_layer=partial(nn.LayerNorm, eps=layer_norm_eps))` (the official arch functions pass eps 1e-6,
the default here), initialised officially from --seed. Every parameter is then perturbed so that a
bug in any of them shows (LayerNorm weights 1 + 0.1*randn; biases, `mask_token`, `vis_mask_token`
and every other 1-D parameter 0.05*randn; the other weights get 0.1*std*randn added) and rounded
to f32, which is what the checkpoint stores. `decoder_pos_embed` (fixed sin-cos, no gradient) is
stored as the model computes it. The forward pass and the gradients are computed in float64 from
exactly those f32 values and the f32 batch, then rounded to f32.

Adaptations to run the 2022 code on current libraries (none changes the arithmetic):
  * timm's `Block` no longer takes `qk_scale`; it is dropped (None meant the default scale).
  * NumPy >= 1.24 removed `np.float`; it is aliased to `float` (float64), as it was.
  * `from turtle import pos` (unused) needs tkinter; where turtle cannot be imported, an empty
    stand-in module is installed.
  * the official `patchify` hard-codes 3 channels; it is generalised to `in_chans` with the same
    channel-last order (index (pi*p + pj)*C + c), so in_chans != 3 configurations can be made.
    (`decoder_pred` already has stride^2 * in_chans outputs.)
  * the compaction kernel `kernel` (all ones) and the coordinate table `pos_hw` (small integers)
    are plain tensor attributes, not buffers, so `model.double()` leaves them float32 and
    `F.conv2d` would refuse to mix dtypes; they are cast to float64 (exact), so the relative
    position MLP sees float64 log-coordinates like everything else in the float64 run.
  * `forward_encoder` draws its secondary-masking noise with `torch.rand(N, L)`; here that call
    returns the supplied `secondary_noise` (float32, as torch.rand would) instead, so the
    secondary mask is reproducible from the batch file. The call happens even when
    vis_mask_ratio is 0 (then every visible cell is kept and the noise plays no role).

Which configurations the official code runs: the final stage map (token grid / 2^num_stages)
pixel-shuffles to one decoder token per visible cell only when stride == patch_size *
2^(num_stages - 2) (4 stages: stride = 4*patch; 3 stages: stride = 2*patch); M must be even
(uniform sampling works on 2x2 blocks of cells); a stage whose grid exceeds window_size needs
window_size to divide it (a smaller grid gets one global window, no shift). The script checks the
first two before building.

Usage:
  .torchenv/bin/python scripts/make_um_swin_fixture.py --um-mae-repo /path/to/UM-MAE \\
      --img-size 64 --patch-size 4 --stride 16 --embed-dim 16 --depths 2 2 2 2 \\
      --num-heads 2 2 4 4 --mlp-ratio 2 --window-size 4 --posmlp-dim 8 \\
      --decoder-embed-dim 32 --decoder-depth 1 --decoder-num-heads 4 --norm-pix-loss \\
      --vis-mask-ratio 0.25 --layer-norm-eps 1e-6 --batch 2 --seed 1 --out /tmp/um/um_swin_s1
"""
import argparse
import importlib
import json
import sys
import types
from functools import partial

import numpy as np
import torch
import torch.nn as nn

from official_fixture import (accept_qk_scale, add_f32_grads, alias_np_float, f32, f32_state,
                              number, official_sources, patchify, rand_returns, save_fixture)

OFFICIAL_FILES = ["models_mae_swin.py", "mask_transform.py", "util/pos_embed.py"]


def import_official(repo):
    """Imports models_mae_swin and mask_transform from a work tree or a bare git dir, with the
    adaptations above."""
    src = official_sources(repo, OFFICIAL_FILES, "um-mae-official-")
    alias_np_float()
    try:
        import turtle  # noqa: F401  (the official file imports an unused name from it)
    except ImportError:
        stub = types.ModuleType("turtle")
        stub.pos = None
        sys.modules["turtle"] = stub
    accept_qk_scale()
    sys.path.insert(0, src)
    return importlib.import_module("models_mae_swin"), importlib.import_module("mask_transform")


def patchify_any_channels(self, imgs, stride=16):
    """The official patchify with 3 replaced by the image's channel count."""
    return patchify(imgs, stride, imgs.shape[1])


def perturb_(model, gen):
    """Moves every trainable parameter away from its initial value, then rounds it to f32."""
    layer_norm_weights = {
        id(m.weight) for m in model.modules() if isinstance(m, nn.LayerNorm)
    }
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if id(p) in layer_norm_weights:
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith(".bias") or p.ndim == 1 or name in ("mask_token", "vis_mask_token"):
                p.copy_(0.05 * noise)
            else:
                p.add_(0.1 * p.std() * noise)
            p.copy_(p.float().double())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--um-mae-repo", required=True,
                    help="implus/UM-MAE work tree or bare git dir (outside this project)")
    ap.add_argument("--img-size", type=int, required=True)
    ap.add_argument("--patch-size", type=int, required=True)
    ap.add_argument("--in-chans", type=int, default=3)
    ap.add_argument("--stride", type=int, required=True, help="mask cell side in pixels")
    ap.add_argument("--embed-dim", type=int, required=True)
    ap.add_argument("--depths", type=int, nargs="+", required=True)
    ap.add_argument("--num-heads", type=int, nargs="+", required=True)
    ap.add_argument("--mlp-ratio", type=number, default=4)
    ap.add_argument("--window-size", type=int, required=True)
    ap.add_argument("--posmlp-dim", type=int, default=32)
    ap.add_argument("--decoder-embed-dim", type=int, required=True)
    ap.add_argument("--decoder-depth", type=int, required=True)
    ap.add_argument("--decoder-num-heads", type=int, required=True)
    ap.add_argument("--norm-pix-loss", action="store_true")
    ap.add_argument("--vis-mask-ratio", type=float, default=0.25,
                    help="secondary masking of the visible cells (official 0.25; 0 = none)")
    ap.add_argument("--layer-norm-eps", type=float, default=1e-6,
                    help="norm_layer=partial(nn.LayerNorm, eps=...) (official arch functions: 1e-6)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="path prefix of the three files")
    args = ap.parse_args()

    stages = len(args.depths)
    if len(args.num_heads) != stages or stages < 2:
        sys.exit("depths and num_heads need the same length, at least 2")
    if args.stride != args.patch_size * 2 ** (stages - 2):
        sys.exit(f"the official model needs stride == patch_size * 2^(stages-2) = "
                 f"{args.patch_size * 2 ** (stages - 2)} (one decoder token per visible cell)")
    m = args.img_size // args.stride
    if args.img_size % args.stride or m % 2:
        sys.exit("img_size / stride must be an even integer (2x2 blocks of mask cells)")

    models_mae_swin, mask_transform = import_official(args.um_mae_repo)
    models_mae_swin.MaskedAutoencoderSwin.patchify = patchify_any_channels

    config = {
        "img_size": args.img_size, "patch_size": args.patch_size, "in_chans": args.in_chans,
        "stride": args.stride, "embed_dim": args.embed_dim, "depths": args.depths,
        "num_heads": args.num_heads, "mlp_ratio": args.mlp_ratio,
        "window_size": args.window_size, "posmlp_dim": args.posmlp_dim,
        "decoder_embed_dim": args.decoder_embed_dim, "decoder_depth": args.decoder_depth,
        "decoder_num_heads": args.decoder_num_heads, "norm_pix_loss": args.norm_pix_loss,
        "vis_mask_ratio": args.vis_mask_ratio,
    }
    torch.manual_seed(args.seed)
    model = models_mae_swin.MaskedAutoencoderSwin(
        **config, norm_layer=partial(nn.LayerNorm, eps=args.layer_norm_eps))
    model = model.double().train()
    model.kernel = model.kernel.double()
    model.pos_hw = model.pos_hw.double()
    gen = torch.Generator().manual_seed(args.seed + 1000)
    perturb_(model, gen)

    # Masks as the official data loader makes them (one generator call per sample).
    np.random.seed(args.seed)
    masker = mask_transform.RandomMaskingGenerator(m, 0.75, regular=True)
    mask = torch.from_numpy(np.stack([masker() for _ in range(args.batch)])).float()
    imgs = torch.randn(args.batch, args.in_chans, args.img_size, args.img_size,
                       generator=gen).float()
    secondary_noise = torch.rand(args.batch, m * m, generator=gen).float()

    bool_mask = mask.flatten(1).to(torch.bool)
    with rand_returns(secondary_noise) as calls:
        loss, pred, _ = model(imgs.double(), mask=bool_mask)
    assert len(calls) == 1, calls
    loss.backward()

    # The cells secondary masking replaced, derived from the inputs as the model does.
    vis_cnt = m * m - int(mask[0].sum().item())
    vis_final = int(vis_cnt * (1.0 - args.vis_mask_ratio))
    order = torch.argsort(mask + secondary_noise, dim=1)
    kept = torch.zeros_like(mask, dtype=torch.bool).scatter_(1, order[:, :vis_final], True)
    secondary_mask = (~bool_mask & ~kept).float()

    prefix = args.out
    metadata = {"config": json.dumps({**config, "layer_norm_eps": args.layer_norm_eps})}
    batch = {"imgs": imgs.contiguous(), "mask": mask.contiguous(),
             "secondary_noise": secondary_noise.contiguous()}
    expected = {"loss": f32(loss).reshape(1), "pred": f32(pred),
                "mask": mask.contiguous(), "secondary_mask": secondary_mask.contiguous()}
    save_fixture(prefix, f32_state(model), metadata, batch, add_f32_grads(expected, model))
    print(json.dumps({"out": prefix, "config": config, "layer_norm_eps": args.layer_norm_eps,
                      "batch": args.batch, "seed": args.seed, "visible_cells": vis_cnt,
                      "vis_final": vis_final, "loss": loss.item()}))


if __name__ == "__main__":
    main()
