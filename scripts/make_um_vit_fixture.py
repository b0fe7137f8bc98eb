#!/usr/bin/env python3
"""Write a reference fixture of the official UM-MAE on a plain ViT (implus/UM-MAE).

The official `models_mae.py` (UM-MAE's, with secondary masking), `mask_transform.py` (uniform
sampling) and `util/pos_embed.py` are imported from a checkout of implus/UM-MAE that lives OUTSIDE
this project (its code is not copied here). Pass its location with --um-repo: a work tree or a
bare git directory (the files are then extracted with `git show` into a temporary folder).

The fixture has the format of `tests/fixtures/um-mae-vit/README.md`:

  PREFIX.ckpt.safetensors      state_dict under the official names, f32; metadata `config`
                               (constructor arguments) and, with --layer-norm-eps, `layer_norm_eps`
  PREFIX.batch.safetensors     imgs f32 [N,C,H,W], mask f32 [N,L] (1 = masked), and with
                               --vis-mask-ratio > 0 secondary_noise f32 [N,V]
  PREFIX.expected.safetensors  loss [1], pred [N,L,p*p*C] (visible rows first, then masked),
                               mask [N,L], secondary_mask [N,L], grad.<name> per trainable

The masks come from the official `RandomMaskingGenerator(M, 0.75, regular=True)`, one call per
image with NumPy seeded from --seed. The model is UM-MAE's `MaskedAutoencoderViT(**config)`
(LayerNorm eps 1e-5, the constructor default) or, with --layer-norm-eps, with
`norm_layer=partial(nn.LayerNorm, eps=...)` as the factories do. It is initialised officially
from --seed, every parameter is moved away from its initial value (biases, LayerNorm weights and
tokens random) and rounded to f32; forward and backward run in float64 from those values.

Adaptations to run the 2022 code on current libraries (none changes the arithmetic):
  * timm's `Block` no longer takes `qk_scale`; it is dropped (None meant the default scale).
  * NumPy >= 1.24 removed `np.float`; it is aliased to `float` (float64), as it was.
  * einops is not installed here: a stand-in `rearrange` does the one pattern the mask generator
    uses, '(h w) (p1 p2) -> (h p1) (w p2)', with NumPy reshapes.
  * the official `patchify` hard-codes 3 channels; it is generalised to `in_chans`.
  * the secondary masking draws its noise with `torch.rand`; that call returns the supplied noise.

Usage:
  .torchenv/bin/python scripts/make_um_vit_fixture.py --um-repo /path/to/UM-MAE \
      --img-size 32 --patch-size 4 --in-chans 1 --embed-dim 24 --depth 2 --num-heads 3 \
      --decoder-embed-dim 16 --decoder-depth 2 --decoder-num-heads 2 --mlp-ratio 2.5 \
      --vis-mask-ratio 0.5 --batch 3 --seed 1 --out runs/fixtures/um_vit_c1
"""
import argparse
import importlib
import json
import sys
import types

import numpy as np
import torch

from official_fixture import (accept_qk_scale, add_f32_grads, add_run_arguments,
                              add_vit_mae_arguments, alias_np_float, f32, f32_state, official_model,
                              official_sources, patchify, rand_returns, save_fixture,
                              vit_mae_config)

FILES = ["models_mae.py", "mask_transform.py", "util/pos_embed.py"]


def rearrange(x, pattern, h, w, p1, p2):
    """einops.rearrange for '(h w) (p1 p2) -> (h p1) (w p2)' only."""
    assert pattern.split() == ["(h", "w)", "(p1", "p2)", "->", "(h", "p1)", "(w", "p2)"], pattern
    x = np.asarray(x).reshape(h, w, p1, p2).transpose(0, 2, 1, 3)
    return x.reshape(h * p1, w * p2)


def import_official(repo):
    """Imports models_mae and mask_transform from a work tree or a bare git directory."""
    src = official_sources(repo, FILES, "um-mae-official-")
    alias_np_float()
    einops = types.ModuleType("einops")
    einops.rearrange = rearrange
    einops.einops = einops
    sys.modules.setdefault("einops", einops)
    sys.modules.setdefault("einops.einops", einops)
    accept_qk_scale()
    sys.path.insert(0, src)
    return importlib.import_module("models_mae"), importlib.import_module("mask_transform")


def patchify_any_channels(self, imgs):
    """The official patchify with 3 replaced by the model's channel count."""
    return patchify(imgs, self.patch_embed.patch_size[0], self.patch_embed.proj.in_channels)


def perturb_(model, gen):
    """Moves every trainable parameter away from its initial value, then rounds it to f32."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if name.endswith(".bias") or name in ("cls_token", "mask_token", "vis_mask_token"):
                p.copy_(0.05 * noise)
            elif p.ndim == 1:  # LayerNorm weights
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.add_(0.1 * p.std() * noise)
            p.copy_(p.float().double())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--um-repo", required=True)
    add_vit_mae_arguments(ap)
    ap.add_argument("--vis-mask-ratio", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=2)
    add_run_arguments(ap)
    args = ap.parse_args()

    models_mae, mask_transform = import_official(args.um_repo)
    models_mae.MaskedAutoencoderViT.patchify = patchify_any_channels

    config = {**vit_mae_config(args), "mask_ratio": 0.75, "vis_mask_ratio": args.vis_mask_ratio}
    torch.manual_seed(args.seed)
    model, metadata = official_model(models_mae.MaskedAutoencoderViT, config, args.layer_norm_eps)
    gen = torch.Generator().manual_seed(args.seed + 1000)
    perturb_(model, gen)

    grid = args.img_size // args.patch_size
    np.random.seed(args.seed)
    generator = mask_transform.RandomMaskingGenerator(grid, 0.75, regular=True)
    mask = torch.from_numpy(np.stack([generator() for _ in range(args.batch)])).float()
    mask = mask.reshape(args.batch, grid * grid)
    visible = grid * grid - int(mask[0].sum())
    imgs = torch.randn(args.batch, args.in_chans, args.img_size, args.img_size,
                       generator=gen).float()
    noise = torch.rand(args.batch, visible, generator=gen).float()

    with rand_returns(noise.double()):
        loss, pred, out_mask = model(imgs.double(), mask.to(torch.bool))
    loss.backward()

    # Which visible tokens the official code replaced (for debugging): j iff argsort[j] >= keep.
    secondary = torch.zeros(args.batch, grid * grid)
    if args.vis_mask_ratio > 0:
        len_keep = int(visible * (1 - args.vis_mask_ratio))
        ids = torch.argsort(noise.double(), dim=1)
        for b in range(args.batch):
            vis = (mask[b] == 0).nonzero().flatten()
            for j in range(visible):
                if ids[b, j] >= len_keep:
                    secondary[b, vis[j]] = 1.0

    prefix = args.out
    batch = {"imgs": imgs.contiguous(), "mask": mask.contiguous()}
    if args.vis_mask_ratio > 0:
        batch["secondary_noise"] = noise.contiguous()
    expected = {"loss": f32(loss).reshape(1), "pred": f32(pred), "mask": f32(out_mask),
                "secondary_mask": secondary.contiguous()}
    save_fixture(prefix, f32_state(model), metadata, batch, add_f32_grads(expected, model))
    print(json.dumps({"out": prefix, "config": config, "batch": args.batch, "seed": args.seed,
                      "layer_norm_eps": args.layer_norm_eps, "loss": loss.item()}))


if __name__ == "__main__":
    main()
