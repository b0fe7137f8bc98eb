#!/usr/bin/env python3
"""Write a reference fixture of the official MAE implementation (facebookresearch/mae).

The official `models_mae.py` is imported from a checkout of facebookresearch/mae that lives
OUTSIDE this project (its code is not copied here). Pass its location with --mae-repo: either a
work tree or a bare git directory (the files are then extracted with `git show` into a temporary
folder).

The fixture has the format of the shared `mae-official` fixture:

  PREFIX.ckpt.safetensors      state_dict under the official names, f32; metadata `config`
  PREFIX.batch.safetensors     imgs f32 [N,C,H,W], noise f32 [N,L], mask_ratio f32 [1]
  PREFIX.expected.safetensors  loss [1], pred [N,L,p*p*C], mask [N,L], grad.<name> per trainable

How it is made: the model is built with the official constructor, `MaskedAutoencoderViT(**config)`,
whose `norm_layer` default is `nn.LayerNorm` (eps 1e-5; the shared fixture was made that way). The
official factories (`mae_vit_base_patch16`, ...) pass eps 1e-6 instead: `--layer-norm-eps 1e-6`
does the same and records it in the checkpoint's metadata as `layer_norm_eps` (`config` keeps
only constructor arguments). The model is initialised officially from --seed; every parameter is then perturbed
(biases, LayerNorm weights and tokens become random, so a bug in any of them shows) and rounded
to f32, which is what the checkpoint stores. The forward pass and the gradients are computed in
float64 from exactly those f32 values and the f32 batch, then rounded to f32.

Adaptations to run the 2022 code on current libraries (none changes the arithmetic):
  * timm's `Block` no longer takes `qk_scale`; it is dropped (None meant the default scale).
  * NumPy >= 1.24 removed `np.float`; it is aliased to `float` (float64), as it was.
  * the official `patchify` hard-codes 3 channels; it is generalised to `in_chans` with the same
    channel-last order (index (pi*p + pj)*C + c), so in_chans != 3 configurations can be made.
  * `random_masking` draws its noise with `torch.rand`; here that call returns the supplied
    noise instead, so the mask is reproducible from the batch file.

Usage:
  .torchenv/bin/python scripts/make_mae_fixture.py --mae-repo /path/to/mae \
      --img-size 32 --patch-size 4 --in-chans 3 --embed-dim 32 --depth 2 --num-heads 4 \
      --decoder-embed-dim 24 --decoder-depth 2 --decoder-num-heads 3 --mlp-ratio 4 \
      --batch 3 --mask-ratio 0.6 --seed 1 --out tests/fixtures/mae-extra/mae_c3_p4
"""
import argparse
import importlib
import json
import sys

import numpy as np
import torch

from official_fixture import (accept_qk_scale, add_f32_grads, add_run_arguments,
                              add_vit_mae_arguments, alias_np_float, f32, f32_state, official_model,
                              official_sources, patchify, rand_returns, save_fixture,
                              vit_mae_config)


def import_official(mae_repo):
    """Imports models_mae from a work tree or a bare git dir, with the adaptations above."""
    src = official_sources(mae_repo, ["models_mae.py", "util/pos_embed.py"], "mae-official-")
    alias_np_float()
    accept_qk_scale()
    sys.path.insert(0, src)
    return importlib.import_module("models_mae")


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
            if name.endswith(".bias"):
                p.copy_(0.05 * noise)
            elif p.ndim == 1:  # LayerNorm weights
                p.copy_(1.0 + 0.2 * noise)
            elif name in ("cls_token", "mask_token"):
                p.add_(0.5 * noise)
            else:
                p.add_(0.1 * p.std() * noise)
            p.copy_(p.float().double())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mae-repo", required=True)
    add_vit_mae_arguments(ap)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--mask-ratio", type=float, default=0.75)
    add_run_arguments(ap)
    args = ap.parse_args()

    models_mae = import_official(args.mae_repo)
    models_mae.MaskedAutoencoderViT.patchify = patchify_any_channels

    config = vit_mae_config(args)
    torch.manual_seed(args.seed)
    model, metadata = official_model(models_mae.MaskedAutoencoderViT, config, args.layer_norm_eps)
    gen = torch.Generator().manual_seed(args.seed + 1000)
    perturb_(model, gen)

    grid = args.img_size // args.patch_size
    n_tok = grid * grid
    imgs = torch.randn(args.batch, args.in_chans, args.img_size, args.img_size,
                       generator=gen).float()
    noise = torch.rand(args.batch, n_tok, generator=gen).float()
    # The ratio travels as f32; the model sees that f32 value widened to a Python float.
    ratio32 = np.float32(args.mask_ratio)

    with rand_returns(noise.double()):
        loss, pred, mask = model(imgs.double(), mask_ratio=float(ratio32))
    loss.backward()

    prefix = args.out
    batch = {"imgs": imgs.contiguous(), "noise": noise.contiguous(),
             "mask_ratio": torch.tensor([ratio32], dtype=torch.float32)}
    expected = {"loss": f32(loss).reshape(1), "pred": f32(pred), "mask": f32(mask)}
    save_fixture(prefix, f32_state(model), metadata, batch, add_f32_grads(expected, model))
    print(json.dumps({"out": prefix, "config": config, "batch": args.batch,
                      "mask_ratio": float(ratio32), "seed": args.seed,
                      "layer_norm_eps": args.layer_norm_eps,
                      "loss": loss.item()}))


if __name__ == "__main__":
    main()
