#!/usr/bin/env python3
"""Write a reference fixture of the official MixMIM / MixMAE implementation (Sense-X/MixMIM).

The official `models_mixmim.py` (`MixMIM`) and `util/pos_embed.py` are imported from a checkout of
Sense-X/MixMIM that lives OUTSIDE this project (its code is not copied here). Pass its location
with --mixmim-repo: either a work tree or a bare git directory (the files are then extracted with
`git show` into a temporary folder). Needs torch, timm and NumPy.

The fixture has the format of tests/fixtures/mixmim/README.md:

  PREFIX.ckpt.safetensors      state_dict under the official names, f32, plus the int64 buffers
                               `layers.*.blocks.*.attn.relative_position_index`; metadata `config`
                               = JSON of the constructor arguments plus `layer_norm_eps` and the
                               `mask_ratio` given to forward
  PREFIX.batch.safetensors     imgs f32 [N,3,H,W], noise f32 [1,1,L4], mask_ratio f32 [1]
  PREFIX.expected.safetensors  loss [1], pred [2N,L4,32*32*3] (the model's x_rec), mask [1,L4,1],
                               grad.<name> per trainable parameter

L4 = (img_size / 32)^2, the last stage's grid. `noise` replaces the one `torch.rand(1, 1, L4)` call
of `random_masking`; `mask_ratio` is passed to `forward` as the Python float of the stored f32
value, so `int(L4 * mask_ratio)` cells come from the partner image exactly as the batch file says.

How it is made: the model is built with the official constructor, `MixMIM(**config,
norm_layer=partial(nn.LayerNorm, eps=layer_norm_eps))` (the official default is nn.LayerNorm,
eps 1e-5, the default here), initialised officially from --seed. Every trainable parameter is then
perturbed so that a bug in any of them shows (LayerNorm weights 1 + 0.1*randn; biases,
`mask_token` and every other 1-D parameter 0.05*randn; every `relative_position_bias_table`
0.3*randn, so the position bias matters; the other weights get 0.1*std*randn added) and rounded to
f32, which is what the checkpoint stores. The fixed sin-cos tables are stored as the model computes
them. The forward pass and the gradients are computed in float64 from exactly those f32 values
and the f32 batch, then rounded to f32.

Adaptations to run the 2022 code on current timm (none changes the arithmetic):
  * `PatchMerging`, `window_partition` and `window_reverse` moved to new signatures in timm
    (PatchMerging(dim, out_dim, norm_layer) on [B, H, W, C]; window sizes as tuples). The official
    code calls the old ones (PatchMerging(input_resolution, dim, norm_layer) on [B, L, C]; integer
    window sizes); the old timm versions are re-stated below and patched into the module.
  * `random_masking` draws `torch.rand(1, 1, L4)`; that one call returns the supplied noise.
  * NumPy >= 1.24 removed `np.float` (used by util/pos_embed.py); it is aliased to `float`
    (float64), as it was.

Which configurations the official code runs: patch_size 4 and 3 channels (`encoder_stride` 32 is
hard-coded in the mask grid, patchify and the prediction width), img_size a multiple of 32, every
stage grid divisible by its window (a window at least as large as the grid becomes one global
window), a batch even for the pairing to be complementary (odd batches are refused here, as in
tessera).

Usage:
  .torchenv/bin/python scripts/make_mixmim_fixture.py --mixmim-repo /path/to/MixMIM \\
      --img-size 128 --embed-dim 8 --depths 1 1 1 1 --num-heads 1 2 2 4 \\
      --window-size 16 8 4 4 --decoder-dim 16 --decoder-depth 2 --decoder-num-heads 2 \\
      --mask-ratio 0.25 --batch 2 --seed 3 --out /tmp/mixmim/mixmim_w16_r025
"""
import argparse
import importlib
import json
import random
import sys
from functools import partial

import torch
import torch.nn as nn

from official_fixture import (add_f32_grads, alias_np_float, f32, number, official_sources,
                              rand_returns, save_fixture)

OFFICIAL_FILES = ["models_mixmim.py", "util/pos_embed.py"]


class OldPatchMerging(nn.Module):
    """timm < 0.6 `PatchMerging(input_resolution, dim, norm_layer)` on [B, H*W, C]."""

    def __init__(self, input_resolution, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.input_resolution = input_resolution
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x):
        h, w = self.input_resolution
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        x0 = x[:, 0::2, 0::2, :]
        x1 = x[:, 1::2, 0::2, :]
        x2 = x[:, 0::2, 1::2, :]
        x3 = x[:, 1::2, 1::2, :]
        x = torch.cat([x0, x1, x2, x3], -1).view(b, -1, 4 * c)
        return self.reduction(self.norm(x))


def old_window_partition(x, window_size):
    """timm < 0.6 `window_partition(x [B, H, W, C], ws)` -> [B*nW, ws, ws, C]."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, c)


def old_window_reverse(windows, window_size, h, w):
    """timm < 0.6 `window_reverse(windows, ws, H, W)` -> [B, H, W, C]."""
    b = int(windows.shape[0] / (h * w / window_size / window_size))
    x = windows.view(b, h // window_size, w // window_size, window_size, window_size, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


def import_official(repo):
    """Imports models_mixmim from a work tree or a bare git dir, with the adaptations above."""
    src = official_sources(repo, OFFICIAL_FILES, "mixmim-official-", ["util/__init__.py"])
    alias_np_float()
    sys.path.insert(0, src)
    module = importlib.import_module("models_mixmim")
    module.PatchMerging = OldPatchMerging
    module.window_partition = old_window_partition
    module.window_reverse = old_window_reverse
    return module


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
            elif name.endswith("relative_position_bias_table"):
                p.copy_(0.3 * noise)
            elif name.endswith(".bias") or p.ndim == 1 or name == "mask_token":
                p.copy_(0.05 * noise)
            else:
                p.add_(0.1 * p.std() * noise)
            p.copy_(p.float().double())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mixmim-repo", required=True,
                    help="Sense-X/MixMIM work tree or bare git dir (outside this project)")
    ap.add_argument("--img-size", type=int, required=True)
    ap.add_argument("--embed-dim", type=int, required=True)
    ap.add_argument("--depths", type=int, nargs=4, required=True)
    ap.add_argument("--num-heads", type=int, nargs=4, required=True)
    ap.add_argument("--window-size", type=int, nargs=4, required=True)
    ap.add_argument("--mlp-ratio", type=number, default=4)
    ap.add_argument("--decoder-dim", type=int, required=True)
    ap.add_argument("--decoder-depth", type=int, required=True)
    ap.add_argument("--decoder-num-heads", type=int, required=True)
    ap.add_argument("--pix-loss", action="store_true",
                    help="norm_pix_loss=False (the official default is True)")
    ap.add_argument("--mask-ratio", type=float, default=0.5)
    ap.add_argument("--layer-norm-eps", type=float, default=1e-5,
                    help="norm_layer=partial(nn.LayerNorm, eps=...) (official: nn.LayerNorm, 1e-5)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="path prefix of the three files")
    args = ap.parse_args()

    if args.img_size % 32:
        sys.exit("img_size must be a multiple of 32 (patch 4, three halvings)")
    if args.batch < 2 or args.batch % 2:
        sys.exit("the batch must be even: MixMIM mixes sample i with sample N-1-i")
    grid = args.img_size // 4
    for s, w in enumerate(args.window_size):
        g = grid >> s
        if g > w and g % w:
            sys.exit(f"window {w} does not divide the {g}x{g} grid of stage {s + 1}")

    models_mixmim = import_official(args.mixmim_repo)
    config = {
        "img_size": args.img_size, "patch_size": 4, "in_chans": 3,
        "embed_dim": args.embed_dim, "depths": args.depths, "num_heads": args.num_heads,
        "window_size": args.window_size, "mlp_ratio": args.mlp_ratio, "qkv_bias": True,
        "patch_norm": True, "decoder_dim": args.decoder_dim,
        "decoder_depth": args.decoder_depth, "decoder_num_heads": args.decoder_num_heads,
        "norm_pix_loss": not args.pix_loss, "range_mask_ratio": 0.0,
    }
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    model = models_mixmim.MixMIM(
        **config, norm_layer=partial(nn.LayerNorm, eps=args.layer_norm_eps))
    model = model.double().train()
    gen = torch.Generator().manual_seed(args.seed + 1000)
    perturb_(model, gen)

    l4 = (args.img_size // 32) ** 2
    imgs = torch.randn(args.batch, 3, args.img_size, args.img_size, generator=gen).float()
    noise = torch.rand(1, 1, l4, generator=gen).float()
    mask_ratio = torch.tensor([args.mask_ratio], dtype=torch.float32)

    with rand_returns(noise) as calls:
        loss, x_rec, mask = model(imgs.double(), mask_ratio=float(mask_ratio.item()))
    assert len(calls) == 1, calls
    loss.backward()

    prefix = args.out
    # The ratio as given (the spec's exact ratio); the batch holds the f32 the forward pass used.
    meta_config = {**config, "mask_ratio": args.mask_ratio, "layer_norm_eps": args.layer_norm_eps}
    state = {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).contiguous()
        for k, v in model.state_dict().items()
    }
    batch = {"imgs": imgs.contiguous(), "noise": noise.contiguous(), "mask_ratio": mask_ratio}
    expected = {"loss": f32(loss).reshape(1), "pred": f32(x_rec), "mask": f32(mask)}
    save_fixture(prefix, state, {"config": json.dumps(meta_config)}, batch,
                 add_f32_grads(expected, model))
    print(json.dumps({"out": prefix, "config": meta_config, "batch": args.batch,
                      "seed": args.seed, "mixed_cells": int(mask.sum().item()),
                      "loss": loss.item()}))


if __name__ == "__main__":
    main()
