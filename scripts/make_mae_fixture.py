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
import os
import subprocess
import sys
import tempfile
from functools import partial

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file


def import_official(mae_repo):
    """Imports models_mae from a work tree or a bare git dir, with the adaptations above."""
    if os.path.isfile(os.path.join(mae_repo, "models_mae.py")):
        src = mae_repo
    else:
        src = tempfile.mkdtemp(prefix="mae-official-")
        os.makedirs(os.path.join(src, "util"))
        for rel in ["models_mae.py", "util/pos_embed.py"]:
            text = subprocess.run(["git", "--git-dir", mae_repo, "show", "HEAD:" + rel],
                                  check=True, capture_output=True).stdout
            with open(os.path.join(src, rel), "wb") as f:
                f.write(text)
    if not hasattr(np, "float"):
        np.float = float  # removed in NumPy 1.24; the official code means float64

    import timm.models.vision_transformer as tvit

    class Block(tvit.Block):
        def __init__(self, *args, qk_scale=None, **kwargs):
            assert qk_scale is None  # the official code always passes None
            super().__init__(*args, **kwargs)

    tvit.Block = Block
    sys.path.insert(0, src)
    return importlib.import_module("models_mae")


def patchify_any_channels(self, imgs):
    """The official patchify with 3 replaced by the model's channel count."""
    p = self.patch_embed.patch_size[0]
    c = self.patch_embed.proj.in_channels
    assert imgs.shape[2] == imgs.shape[3] and imgs.shape[2] % p == 0
    h = w = imgs.shape[2] // p
    x = imgs.reshape(shape=(imgs.shape[0], c, h, p, w, p))
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(shape=(imgs.shape[0], h * w, p**2 * c))


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
    ap.add_argument("--img-size", type=int, required=True)
    ap.add_argument("--patch-size", type=int, required=True)
    ap.add_argument("--in-chans", type=int, default=3)
    ap.add_argument("--embed-dim", type=int, required=True)
    ap.add_argument("--depth", type=int, required=True)
    ap.add_argument("--num-heads", type=int, required=True)
    ap.add_argument("--decoder-embed-dim", type=int, required=True)
    ap.add_argument("--decoder-depth", type=int, required=True)
    ap.add_argument("--decoder-num-heads", type=int, required=True)
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--norm-pix-loss", action="store_true")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--mask-ratio", type=float, default=0.75)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layer-norm-eps", type=float, default=None,
                    help="pass norm_layer=partial(nn.LayerNorm, eps=...) as the factories do")
    ap.add_argument("--out", required=True, help="path prefix of the three files")
    args = ap.parse_args()

    models_mae = import_official(args.mae_repo)
    models_mae.MaskedAutoencoderViT.patchify = patchify_any_channels

    config = {
        "img_size": args.img_size, "patch_size": args.patch_size, "in_chans": args.in_chans,
        "embed_dim": args.embed_dim, "depth": args.depth, "num_heads": args.num_heads,
        "decoder_embed_dim": args.decoder_embed_dim, "decoder_depth": args.decoder_depth,
        "decoder_num_heads": args.decoder_num_heads, "mlp_ratio": args.mlp_ratio,
        "norm_pix_loss": args.norm_pix_loss,
    }
    torch.manual_seed(args.seed)
    extra = {}
    metadata = {"config": json.dumps(config)}
    if args.layer_norm_eps is not None:
        extra["norm_layer"] = partial(nn.LayerNorm, eps=args.layer_norm_eps)
        metadata["layer_norm_eps"] = repr(args.layer_norm_eps)
    model = models_mae.MaskedAutoencoderViT(**config, **extra)
    model = model.double().train()
    gen = torch.Generator().manual_seed(args.seed + 1000)
    perturb_(model, gen)

    grid = args.img_size // args.patch_size
    n_tok = grid * grid
    imgs = torch.randn(args.batch, args.in_chans, args.img_size, args.img_size,
                       generator=gen).float()
    noise = torch.rand(args.batch, n_tok, generator=gen).float()
    # The ratio travels as f32; the model sees that f32 value widened to a Python float.
    ratio32 = np.float32(args.mask_ratio)

    real_rand = torch.rand

    def supplied_noise(*shape, **kwargs):
        assert tuple(shape) == tuple(noise.shape), (shape, noise.shape)
        return noise.double().to(kwargs.get("device"))

    torch.rand = supplied_noise
    try:
        loss, pred, mask = model(imgs.double(), mask_ratio=float(ratio32))
    finally:
        torch.rand = real_rand
    loss.backward()

    prefix = args.out
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, prefix + ".ckpt.safetensors", metadata=metadata)
    save_file({"imgs": imgs.contiguous(), "noise": noise.contiguous(),
               "mask_ratio": torch.tensor([ratio32], dtype=torch.float32)},
              prefix + ".batch.safetensors")
    expected = {"loss": loss.detach().float().reshape(1), "pred": pred.detach().float().contiguous(),
                "mask": mask.detach().float().contiguous()}
    for name, p in model.named_parameters():
        if p.requires_grad:
            expected["grad." + name] = p.grad.detach().float().contiguous()
    save_file(expected, prefix + ".expected.safetensors")
    print(json.dumps({"out": prefix, "config": config, "batch": args.batch,
                      "mask_ratio": float(ratio32), "seed": args.seed,
                      "layer_norm_eps": args.layer_norm_eps,
                      "loss": loss.item()}))


if __name__ == "__main__":
    main()
