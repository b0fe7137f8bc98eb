"""What the scripts that write fixtures from the official PyTorch code have in common.

Each `make_*_fixture.py` imports an official implementation from a checkout that lives outside
this project, adapts it to current libraries, runs one forward and backward pass in float64 and
writes three safetensors files. The steps that do not depend on the family are here, so that a
fix to one (say, the next library that drops a name) reaches every script.
"""
import contextlib
import json
import os
import subprocess
import tempfile
from functools import partial

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file


def official_sources(repo, files, prefix, package_files=()):
    """The folder to import the official `files` from: `repo` itself when it is a work tree
    (it holds `files[0]`), else a temporary folder they are extracted to with `git show` from
    the bare git directory `repo`. `package_files` are empty `__init__.py` files written there
    too, for official folders that need to be packages."""
    if os.path.isfile(os.path.join(repo, files[0])):
        return repo
    src = tempfile.mkdtemp(prefix=prefix)
    for rel in files:
        text = subprocess.run(["git", "--git-dir", repo, "show", "HEAD:" + rel],
                              check=True, capture_output=True).stdout
        os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
        with open(os.path.join(src, rel), "wb") as f:
            f.write(text)
    for rel in package_files:
        open(os.path.join(src, rel), "w").close()
    return src


def alias_np_float():
    """NumPy >= 1.24 removed `np.float`; the official code means float64, as it was."""
    if not hasattr(np, "float"):
        np.float = float


def accept_qk_scale():
    """timm's `Block` no longer takes `qk_scale`; the official code always passes None, which
    meant the default scale, so the argument is dropped."""
    import timm.models.vision_transformer as tvit

    class Block(tvit.Block):
        def __init__(self, *args, qk_scale=None, **kwargs):
            assert qk_scale is None  # the official code always passes None
            super().__init__(*args, **kwargs)

    tvit.Block = Block


def patchify(imgs, p, c):
    """The official `patchify` with its hard-coded 3 channels replaced by `c`: square images
    [N, c, H, W] to [N, (H/p)·(W/p), p·p·c] in the official channel-last order."""
    assert imgs.shape[2] == imgs.shape[3] and imgs.shape[2] % p == 0
    h = w = imgs.shape[2] // p
    x = imgs.reshape(shape=(imgs.shape[0], c, h, p, w, p))
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(shape=(imgs.shape[0], h * w, p**2 * c))


def add_vit_mae_arguments(ap):
    """The arguments of MAE's `MaskedAutoencoderViT` constructor (UM-MAE's ViT takes them too),
    as options named like them."""
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


def add_run_arguments(ap, factories="the factories do"):
    """The options the MAE, UM-MAE ViT and HiViT scripts end with: the seed, the LayerNorm
    epsilon (the constructor's when absent) and the output prefix."""
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layer-norm-eps", type=float, default=None,
                    help=f"pass norm_layer=partial(nn.LayerNorm, eps=...) as {factories}")
    ap.add_argument("--out", required=True, help="path prefix of the three files")


def vit_mae_config(args):
    """The constructor arguments `add_vit_mae_arguments` read, under their official names."""
    return {
        "img_size": args.img_size, "patch_size": args.patch_size, "in_chans": args.in_chans,
        "embed_dim": args.embed_dim, "depth": args.depth, "num_heads": args.num_heads,
        "decoder_embed_dim": args.decoder_embed_dim, "decoder_depth": args.decoder_depth,
        "decoder_num_heads": args.decoder_num_heads, "mlp_ratio": args.mlp_ratio,
        "norm_pix_loss": args.norm_pix_loss,
    }


def official_model(cls, config, layer_norm_eps):
    """`cls(**config)` in float64 and training mode, given `norm_layer=partial(nn.LayerNorm,
    eps=layer_norm_eps)` as the official factories pass it when an epsilon is given (else the
    constructor's `nn.LayerNorm`, eps 1e-5); and the checkpoint metadata that records `config`
    and the epsilon beside it, which is not a constructor argument."""
    extra = {}
    metadata = {"config": json.dumps(config)}
    if layer_norm_eps is not None:
        extra["norm_layer"] = partial(nn.LayerNorm, eps=layer_norm_eps)
        metadata["layer_norm_eps"] = repr(layer_norm_eps)
    return cls(**config, **extra).double().train(), metadata


def number(text):
    """An int where the value is integral (as the official factories write mlp_ratio=4)."""
    v = float(text)
    return int(v) if v.is_integer() else v


@contextlib.contextmanager
def rand_returns(values):
    """While active, `torch.rand` returns a copy of `values` (on the device asked for) instead
    of drawing, so that the official code's random mask is the one stored in the batch file.
    Yields the list of the shapes it was called with."""
    real_rand = torch.rand
    calls = []

    def supplied_noise(*shape, **kwargs):
        assert tuple(shape) == tuple(values.shape), (shape, values.shape)
        calls.append(shape)
        return values.clone().to(kwargs.get("device"))

    torch.rand = supplied_noise
    try:
        yield calls
    finally:
        torch.rand = real_rand


def f32(tensor):
    """A tensor as a fixture stores it: detached, f32, contiguous."""
    return tensor.detach().float().contiguous()


def f32_state(model):
    """The model's state_dict under the official names, every tensor as f32."""
    return {k: f32(v) for k, v in model.state_dict().items()}


def add_f32_grads(expected, model):
    """Adds `grad.<name>` of every trainable parameter the backward pass reached."""
    for name, p in model.named_parameters():
        if p.requires_grad and p.grad is not None:
            expected["grad." + name] = f32(p.grad)
    return expected


def save_fixture(prefix, state, metadata, batch, expected):
    """Writes PREFIX.ckpt.safetensors (with `metadata`), PREFIX.batch.safetensors and
    PREFIX.expected.safetensors, creating PREFIX's folder."""
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    save_file(state, prefix + ".ckpt.safetensors", metadata=metadata)
    save_file(batch, prefix + ".batch.safetensors")
    save_file(expected, prefix + ".expected.safetensors")
