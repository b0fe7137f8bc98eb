#!/usr/bin/env python3
"""Write a reference fixture of the official HiViT MAE (zhangxiaosong18/hivit).

The official `models_hivit_mae.py` (with `models_hivit.py`, `masked_autoencoder.py` and
`util/pos_embed.py`) is imported from a checkout of zhangxiaosong18/hivit that lives OUTSIDE this
project (its code is not copied here). Pass its location with --hivit-repo: a work tree or a bare
git directory (the files are then extracted with `git show` into a temporary folder).

The fixture has the format of `tests/fixtures/hivit/README.md`:

  PREFIX.ckpt.safetensors      state_dict under the official names, f32; metadata `config`
                               (constructor arguments) and, with --layer-norm-eps, `layer_norm_eps`
  PREFIX.batch.safetensors     imgs f32 [N,C,H,W], noise f32 [N,L], mask_ratio f32 [1]
  PREFIX.expected.safetensors  loss [1], pred [N,L,p*p*C], mask [N,L], grad.<name> per trainable,
                               and features_mean [N,D]: `forward_features(imgs)` over every patch
                               (no masking) averaged over the patches, what HiViT's classifier
                               pools and tessera's probe reads

The model is `HiViTMaskedAutoencoder(**config)` (LayerNorm eps 1e-5, the constructor default) or,
with --layer-norm-eps, with `norm_layer=partial(nn.LayerNorm, eps=...)` as the factory does. It is
initialised officially from --seed, then every parameter is moved away from its initial value
(LayerNorm weights 1 + 0.1 randn; biases, mask_token and other 1-D tensors 0.05 randn; Linear
weights x5 so that attention is not uniform; absolute_pos_embed + 0.02 randn; conv weight + 10%
noise) and rounded to f32. Forward and backward run in float64 from those f32 values.

Adaptations to run the 2023 code on current libraries (none changes the arithmetic):
  * the attention casts its scores to float32 before the softmax (`attn.float()`); during the
    official forward that cast is the identity on float64 tensors, so everything stays float64.
  * `masking_id` draws its noise with `torch.rand`; that call returns the supplied noise.
  * the official `patchify` hard-codes 3 channels; it is generalised to `in_chans` with the same
    channel-last order, so in_chans != 3 configurations can be made.
  * a parameter the loss does not reach (`norm` without hifeat) has no gradient in PyTorch
    (`.grad` is None); the expected file has no `grad.` entry for it.

Usage:
  .torchenv/bin/python scripts/make_hivit_fixture.py --hivit-repo /path/to/hivit \
      --img-size 28 --patch-size 4 --in-chans 1 --embed-dim 32 --depths 1 2 2 --num-heads 2 \
      --decoder-embed-dim 16 --decoder-depth 2 --decoder-num-heads 2 --hifeat \
      --batch 3 --mask-ratio 0.6 --seed 1 --out runs/fixtures/hivit_c1
"""
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

from official_fixture import (add_f32_grads, add_run_arguments, alias_np_float, f32, f32_state,
                              official_model, patchify, rand_returns, save_fixture)

FILES = ["models_hivit.py", "models_hivit_mae.py", "masked_autoencoder.py"]


def import_official(repo):
    """Imports the HiViT MAE modules as a package from a work tree or a bare git directory."""
    src = tempfile.mkdtemp(prefix="hivit-official-")
    os.makedirs(os.path.join(src, "hivit_models"))
    os.makedirs(os.path.join(src, "util"))
    worktree = os.path.isdir(os.path.join(repo, "self_supervised"))
    for rel, dst in [("self_supervised/models/" + f, "hivit_models/" + f) for f in FILES] + [
        ("self_supervised/util/pos_embed.py", "util/pos_embed.py")
    ]:
        if worktree:
            with open(os.path.join(repo, rel), "rb") as f:
                text = f.read()
        else:
            text = subprocess.run(["git", "--git-dir", repo, "show", "HEAD:" + rel],
                                  check=True, capture_output=True).stdout
        with open(os.path.join(src, dst), "wb") as f:
            f.write(text)
    # An empty package file: the official __init__ also imports the plain-ViT models.
    open(os.path.join(src, "hivit_models", "__init__.py"), "w").close()
    open(os.path.join(src, "util", "__init__.py"), "w").close()
    alias_np_float()
    sys.path.insert(0, src)
    hivit = importlib.import_module("hivit_models.models_hivit")
    mae = importlib.import_module("hivit_models.models_hivit_mae")
    return hivit, mae


def keep_float64_attention(hivit):
    """Runs the official Attention.forward with `.float()` as the identity on float64 tensors."""
    official = hivit.Attention.forward
    real_float = torch.Tensor.float

    def forward(self, *args, **kwargs):
        torch.Tensor.float = lambda t, *a, **k: t if t.dtype == torch.float64 else real_float(t, *a, **k)
        try:
            return official(self, *args, **kwargs)
        finally:
            torch.Tensor.float = real_float

    hivit.Attention.forward = forward


def patchify_any_channels(self, imgs):
    """The official patchify with 3 replaced by the image's channel count."""
    return patchify(imgs, self.decoder_patch_size, imgs.shape[1])


def perturb_(model, gen):
    """Moves every trainable parameter away from its initial value, then rounds it to f32."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if name == "absolute_pos_embed":
                p.add_(0.02 * noise)
            elif name.endswith(".bias") or (p.ndim == 1 and "norm" not in name):
                p.copy_(0.05 * noise)
            elif p.ndim == 1:  # LayerNorm weights
                p.copy_(1.0 + 0.1 * noise)
            elif name == "mask_token":
                p.copy_(0.05 * noise)
            elif name == "patch_embed.proj.weight":
                p.add_(0.1 * p.std() * noise)
            else:  # Linear weights: trunc-normal(0.02) leaves attention nearly uniform
                p.mul_(5.0)
            p.copy_(p.float().double())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hivit-repo", required=True)
    ap.add_argument("--img-size", type=int, required=True)
    ap.add_argument("--patch-size", type=int, required=True)
    ap.add_argument("--in-chans", type=int, default=3)
    ap.add_argument("--embed-dim", type=int, required=True)
    ap.add_argument("--depths", type=int, nargs=3, required=True)
    ap.add_argument("--num-heads", type=int, required=True)
    ap.add_argument("--stem-mlp-ratio", type=float, default=3.0)
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--no-qkv-bias", action="store_true")
    ap.add_argument("--decoder-embed-dim", type=int, required=True)
    ap.add_argument("--decoder-depth", type=int, required=True)
    ap.add_argument("--decoder-num-heads", type=int, required=True)
    ap.add_argument("--hifeat", action="store_true")
    ap.add_argument("--no-patch-norm", action="store_true")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--mask-ratio", type=float, default=0.75)
    add_run_arguments(ap, factories="the factory does")
    args = ap.parse_args()

    hivit, hivit_mae = import_official(args.hivit_repo)
    keep_float64_attention(hivit)
    hivit_mae.HiViTMaskedAutoencoder.patchify = patchify_any_channels

    config = {
        "img_size": args.img_size, "patch_size": args.patch_size, "in_chans": args.in_chans,
        "embed_dim": args.embed_dim, "depths": list(args.depths), "num_heads": args.num_heads,
        "stem_mlp_ratio": args.stem_mlp_ratio, "mlp_ratio": args.mlp_ratio,
        "qkv_bias": not args.no_qkv_bias, "decoder_embed_dim": args.decoder_embed_dim,
        "decoder_depth": args.decoder_depth, "decoder_num_heads": args.decoder_num_heads,
        "hifeat": args.hifeat, "rpe": False, "ape": True, "patch_norm": not args.no_patch_norm,
    }
    torch.manual_seed(args.seed)
    model, metadata = official_model(hivit_mae.HiViTMaskedAutoencoder, config, args.layer_norm_eps)
    gen = torch.Generator().manual_seed(args.seed + 1000)
    perturb_(model, gen)

    grid = args.img_size // args.patch_size
    imgs = torch.randn(args.batch, args.in_chans, args.img_size, args.img_size,
                       generator=gen).float()
    noise = torch.rand(args.batch, grid * grid, generator=gen).float()
    ratio32 = np.float32(args.mask_ratio)  # the ratio travels as f32, widened by Python

    with rand_returns(noise.double()):
        loss, pred, mask = model(imgs.double(), mask_ratio=float(ratio32))
    loss.backward()

    prefix = args.out
    batch = {"imgs": imgs.contiguous(), "noise": noise.contiguous(),
             "mask_ratio": torch.tensor([ratio32], dtype=torch.float32)}
    expected = {"loss": f32(loss).reshape(1), "pred": f32(pred), "mask": f32(mask)}
    add_f32_grads(expected, model)
    state = f32_state(model)
    with torch.no_grad():
        expected["features_mean"] = model.forward_features(imgs.double()).mean(dim=1).float()
    save_fixture(prefix, state, metadata, batch, expected)
    print(json.dumps({"out": prefix, "config": config, "batch": args.batch,
                      "mask_ratio": float(ratio32), "seed": args.seed,
                      "layer_norm_eps": args.layer_norm_eps, "loss": loss.item()}))


if __name__ == "__main__":
    main()
