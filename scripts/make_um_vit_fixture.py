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
import os
import subprocess
import sys
import tempfile
import types
from functools import partial

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

FILES = ["models_mae.py", "mask_transform.py", "util/pos_embed.py"]


def rearrange(x, pattern, h, w, p1, p2):
    """einops.rearrange for '(h w) (p1 p2) -> (h p1) (w p2)' only."""
    assert pattern.split() == ["(h", "w)", "(p1", "p2)", "->", "(h", "p1)", "(w", "p2)"], pattern
    x = np.asarray(x).reshape(h, w, p1, p2).transpose(0, 2, 1, 3)
    return x.reshape(h * p1, w * p2)


def import_official(repo):
    """Imports models_mae and mask_transform from a work tree or a bare git directory."""
    if os.path.isfile(os.path.join(repo, "models_mae.py")):
        src = repo
    else:
        src = tempfile.mkdtemp(prefix="um-mae-official-")
        os.makedirs(os.path.join(src, "util"))
        for rel in FILES:
            text = subprocess.run(["git", "--git-dir", repo, "show", "HEAD:" + rel],
                                  check=True, capture_output=True).stdout
            with open(os.path.join(src, rel), "wb") as f:
                f.write(text)
    if not hasattr(np, "float"):
        np.float = float  # removed in NumPy 1.24; the official code means float64
    einops = types.ModuleType("einops")
    einops.rearrange = rearrange
    einops.einops = einops
    sys.modules.setdefault("einops", einops)
    sys.modules.setdefault("einops.einops", einops)

    import timm.models.vision_transformer as tvit

    class Block(tvit.Block):
        def __init__(self, *args, qk_scale=None, **kwargs):
            assert qk_scale is None  # the official code always passes None
            super().__init__(*args, **kwargs)

    tvit.Block = Block
    sys.path.insert(0, src)
    return importlib.import_module("models_mae"), importlib.import_module("mask_transform")


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
    ap.add_argument("--vis-mask-ratio", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layer-norm-eps", type=float, default=None,
                    help="pass norm_layer=partial(nn.LayerNorm, eps=...) as the factories do")
    ap.add_argument("--out", required=True, help="path prefix of the three files")
    args = ap.parse_args()

    models_mae, mask_transform = import_official(args.um_repo)
    models_mae.MaskedAutoencoderViT.patchify = patchify_any_channels

    config = {
        "img_size": args.img_size, "patch_size": args.patch_size, "in_chans": args.in_chans,
        "embed_dim": args.embed_dim, "depth": args.depth, "num_heads": args.num_heads,
        "decoder_embed_dim": args.decoder_embed_dim, "decoder_depth": args.decoder_depth,
        "decoder_num_heads": args.decoder_num_heads, "mlp_ratio": args.mlp_ratio,
        "norm_pix_loss": args.norm_pix_loss, "mask_ratio": 0.75,
        "vis_mask_ratio": args.vis_mask_ratio,
    }
    torch.manual_seed(args.seed)
    extra = {}
    metadata = {"config": json.dumps(config)}
    if args.layer_norm_eps is not None:
        extra["norm_layer"] = partial(nn.LayerNorm, eps=args.layer_norm_eps)
        metadata["layer_norm_eps"] = repr(args.layer_norm_eps)
    model = models_mae.MaskedAutoencoderViT(**config, **extra).double().train()
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

    real_rand = torch.rand

    def supplied_noise(*shape, **kwargs):
        assert tuple(shape) == tuple(noise.shape), (shape, noise.shape)
        return noise.double().to(kwargs.get("device"))

    torch.rand = supplied_noise
    try:
        loss, pred, out_mask = model(imgs.double(), mask.to(torch.bool))
    finally:
        torch.rand = real_rand
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
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, prefix + ".ckpt.safetensors", metadata=metadata)
    batch = {"imgs": imgs.contiguous(), "mask": mask.contiguous()}
    if args.vis_mask_ratio > 0:
        batch["secondary_noise"] = noise.contiguous()
    save_file(batch, prefix + ".batch.safetensors")
    expected = {"loss": loss.detach().float().reshape(1), "pred": pred.detach().float().contiguous(),
                "mask": out_mask.float().contiguous(), "secondary_mask": secondary.contiguous()}
    for name, p in model.named_parameters():
        if p.requires_grad:
            expected["grad." + name] = p.grad.detach().float().contiguous()
    save_file(expected, prefix + ".expected.safetensors")
    print(json.dumps({"out": prefix, "config": config, "batch": args.batch, "seed": args.seed,
                      "layer_norm_eps": args.layer_norm_eps, "loss": loss.item()}))


if __name__ == "__main__":
    main()
