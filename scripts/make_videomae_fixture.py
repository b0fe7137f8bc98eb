#!/usr/bin/env python3
"""Write a reference fixture of the official VideoMAE pre-training model and loss (MCG-NJU/VideoMAE).

The official `modeling_pretrain.py` (`PretrainVisionTransformer`), `modeling_finetune.py` (its Block,
Attention, PatchEmbed and `get_sinusoid_encoding_table`), `masking_generator.py`
(`TubeMaskingGenerator`) and `engine_for_pretraining.py` (`train_one_epoch`, which computes the
target and the loss) are imported from a checkout of MCG-NJU/VideoMAE that lives OUTSIDE this project
(its code is not copied here). Pass its location with --videomae-repo: either a work tree or a bare git
directory (the files are then extracted with `git show` into a temporary folder). The official code
needs `einops` besides torch, timm and NumPy.

The fixture has the format of the shared `videomae` fixture (tests/fixtures/videomae/README.md):

  PREFIX.ckpt.safetensors      state_dict under the official names, f32; metadata `config` = JSON of
                               the constructor arguments plus `layer_norm_eps`, `num_frames`,
                               `mask_ratio` and `normlize_target`
  PREFIX.batch.safetensors     videos f32 [N,3,T,H,W] (ImageNet-normalised), mask f32 [N,L] (1 = masked)
  PREFIX.expected.safetensors  loss [1], pred [N,L_masked,3*t*p*p], mask [N,L], target [N,L_masked,
                               3*t*p*p] (the engine's labels), grad.<name> per trainable parameter

How it is made: the model is built with the official constructor,
`PretrainVisionTransformer(**config, norm_layer=partial(nn.LayerNorm, eps=layer_norm_eps))`, initialised
officially from --seed; every parameter is then perturbed so that a bug in any of them shows (LayerNorm
weights 1 + 0.1*randn; mask_token, q_bias, v_bias and every other 1-D parameter 0.05*randn; the other
weights get 0.1*std*randn added) and rounded to f32, which is what the checkpoint stores. The masks are
what the official data pipeline makes: one call per clip of `TubeMaskingGenerator((T/t, H/p, W/p),
mask_ratio)` with NumPy seeded from --seed. The clips are uniform [0, 1) pixels normalised with
ImageNet's mean and std, as the loader's output is. Then ONE step of the official
`engine_for_pretraining.train_one_epoch` runs in float64 (forward, the engine's target and MSE loss,
backward), with an optimizer that does not step; the gradients are read from the parameters.

Adaptations to run the 2023 code here (none changes the arithmetic of a configuration the official
code runs):
  * `utils` (MetricLogger etc.) imports `torch._six` and tensorboardX; a minimal stand-in with the
    logging calls the engine makes is installed instead. `torch.cuda.synchronize` is a no-op on a
    machine without CUDA; `torch.cuda.amp.autocast` disables itself there (float64 throughout).
  * the loss scaler is a stand-in that calls `loss.backward()`; the optimizer has no parameter groups.
  * the engine's `nn.MSELoss` is wrapped to record the model output and the labels it is given.
  * num_frames != 16: the official encoder builds its patch embedding's token count and both position
    tables for 16 frames (the constructor has no frame-count argument) and fails on other clips. Both
    tables are rebuilt with the official `get_sinusoid_encoding_table` for the clip's true token count,
    which is what tessera implements. (At 16 frames nothing is changed.)
  * tubelet_size != 2: the engine's target rearrange hard-codes `p0=2`; it is replaced by the tubelet
    size. (At tubelet 2 nothing is changed; the official scripts only use 2.)

Usage:
  .torchenv/bin/python scripts/make_videomae_fixture.py --videomae-repo /path/to/VideoMAE \\
      --img-size 32 --patch-size 8 --num-frames 4 --encoder-embed-dim 32 --encoder-depth 2 \\
      --encoder-num-heads 4 --decoder-embed-dim 24 --decoder-depth 1 --decoder-num-heads 3 \\
      --mask-ratio 0.75 --batch 3 --seed 1 --out /tmp/videomae/t4_r075
"""
import argparse
import importlib
import json
import os
import sys
import tempfile
import types
from functools import partial

import numpy as np
import torch
import torch.nn as nn

from official_fixture import add_f32_grads, f32, f32_state, number, official_sources, save_fixture

OFFICIAL_FILES = ["modeling_pretrain.py", "modeling_finetune.py", "masking_generator.py",
                  "engine_for_pretraining.py"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def utils_stand_in():
    """The parts of the official utils.py that train_one_epoch calls (logging only)."""
    utils = types.ModuleType("utils")

    class SmoothedValue:
        def __init__(self, window_size=20, fmt=None):
            self.total, self.count = 0.0, 0

        def update(self, value, n=1):
            if value is not None:
                self.total += float(value) * n
                self.count += n

        @property
        def global_avg(self):
            return self.total / max(self.count, 1)

    class MetricLogger:
        def __init__(self, delimiter="  "):
            self.meters = {}

        def add_meter(self, name, meter):
            self.meters[name] = meter

        def update(self, **kwargs):
            for k, v in kwargs.items():
                self.meters.setdefault(k, SmoothedValue()).update(v)

        def log_every(self, iterable, print_freq, header=None):
            yield from iterable

        def synchronize_between_processes(self):
            pass

        def __str__(self):
            return ", ".join(f"{k} {m.global_avg:.4f}" for k, m in self.meters.items())

    utils.SmoothedValue = SmoothedValue
    utils.MetricLogger = MetricLogger
    return utils


def import_official(repo, tubelet):
    src = official_sources(repo, OFFICIAL_FILES, "videomae-official-")
    if tubelet != 2:
        path = os.path.join(src, "engine_for_pretraining.py")
        text = open(path).read()
        assert text.count("p0=2") == 2, "the engine's rearranges changed"
        adapted = tempfile.mkdtemp(prefix="videomae-engine-")
        for rel in OFFICIAL_FILES:
            body = open(os.path.join(src, rel)).read()
            if rel == "engine_for_pretraining.py":
                body = body.replace("p0=2", f"p0={tubelet}")
            with open(os.path.join(adapted, rel), "w") as f:
                f.write(body)
        src = adapted
    sys.modules["utils"] = utils_stand_in()
    sys.path.insert(0, src)
    names = ["modeling_pretrain", "modeling_finetune", "masking_generator", "engine_for_pretraining"]
    return [importlib.import_module(n) for n in names]


def perturb_(model, gen):
    """Moves every trainable parameter away from its initial value, then rounds it to f32."""
    layer_norm_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.LayerNorm)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if id(p) in layer_norm_weights:
                p.copy_(1.0 + 0.1 * noise)
            elif p.ndim == 1 or name == "mask_token":
                p.copy_(0.05 * noise)
            else:
                p.add_(0.1 * p.std() * noise)
            p.copy_(p.float().double())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--videomae-repo", required=True,
                    help="MCG-NJU/VideoMAE work tree or bare git dir (outside this project)")
    ap.add_argument("--img-size", type=int, required=True)
    ap.add_argument("--patch-size", type=int, required=True)
    ap.add_argument("--num-frames", type=int, default=16)
    ap.add_argument("--tubelet-size", type=int, default=2)
    ap.add_argument("--encoder-embed-dim", type=int, required=True)
    ap.add_argument("--encoder-depth", type=int, required=True)
    ap.add_argument("--encoder-num-heads", type=int, required=True)
    ap.add_argument("--decoder-embed-dim", type=int, required=True)
    ap.add_argument("--decoder-depth", type=int, required=True)
    ap.add_argument("--decoder-num-heads", type=int, required=True)
    ap.add_argument("--mlp-ratio", type=number, default=4)
    ap.add_argument("--mask-ratio", type=float, default=0.9)
    ap.add_argument("--no-normlize-target", action="store_true",
                    help="raw [0, 1] pixel target instead of the per-tubelet normalised one")
    ap.add_argument("--layer-norm-eps", type=float, default=1e-6,
                    help="norm_layer=partial(nn.LayerNorm, eps=...) (official factories: 1e-6)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="path prefix of the three files")
    args = ap.parse_args()

    t, p, side = args.tubelet_size, args.patch_size, args.img_size
    if args.num_frames % t or side % p:
        sys.exit("tubelet_size must divide num_frames and patch_size must divide img_size")
    modeling_pretrain, modeling_finetune, masking_generator, engine = import_official(
        args.videomae_repo, t)

    config = {
        "img_size": side, "patch_size": p, "encoder_in_chans": 3,
        "encoder_embed_dim": args.encoder_embed_dim, "encoder_depth": args.encoder_depth,
        "encoder_num_heads": args.encoder_num_heads, "decoder_num_classes": 3 * t * p * p,
        "decoder_embed_dim": args.decoder_embed_dim, "decoder_depth": args.decoder_depth,
        "decoder_num_heads": args.decoder_num_heads, "mlp_ratio": args.mlp_ratio, "qkv_bias": True,
        "init_values": 0.0, "use_learnable_pos_emb": False, "tubelet_size": t,
    }
    torch.manual_seed(args.seed)
    model = modeling_pretrain.PretrainVisionTransformer(
        **config, norm_layer=partial(nn.LayerNorm, eps=args.layer_norm_eps))
    slices, grid = args.num_frames // t, side // p
    tokens = slices * grid * grid
    if model.encoder.patch_embed.num_patches != tokens:
        # The clip's true token count (see the adaptations above).
        model.encoder.patch_embed.num_patches = tokens
        model.encoder.pos_embed = modeling_finetune.get_sinusoid_encoding_table(
            tokens, args.encoder_embed_dim)
        model.pos_embed = modeling_finetune.get_sinusoid_encoding_table(
            tokens, args.decoder_embed_dim)
    model = model.double().train()
    gen = torch.Generator().manual_seed(args.seed + 1000)
    perturb_(model, gen)

    np.random.seed(args.seed)
    masker = masking_generator.TubeMaskingGenerator((slices, grid, grid), args.mask_ratio)
    mask = torch.from_numpy(np.stack([masker() for _ in range(args.batch)])).float()
    pixels = torch.rand(args.batch, 3, args.num_frames, side, side, generator=gen,
                        dtype=torch.float64)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64)[None, :, None, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64)[None, :, None, None, None]
    videos = ((pixels - mean) / std).float()

    recorded = {}

    class RecordingMSELoss(nn.MSELoss):
        def forward(self, input, target):
            recorded["pred"], recorded["target"] = input, target
            loss = super().forward(input, target)
            recorded["loss"] = loss
            return loss

    class Scaler:
        def __call__(self, loss, optimizer, clip_grad=None, parameters=None, create_graph=False):
            loss.backward(create_graph=create_graph)

        def state_dict(self):
            return {"scale": 1.0}

    class NoStep:
        param_groups = []

        def zero_grad(self):
            pass

    engine.nn = types.SimpleNamespace(MSELoss=RecordingMSELoss)
    real_sync = torch.cuda.synchronize
    torch.cuda.synchronize = lambda *a, **k: None
    try:
        engine.train_one_epoch(model, [(videos.double(), mask)], NoStep(), torch.device("cpu"), 0,
                               Scaler(), patch_size=p,
                               normlize_target=not args.no_normlize_target, start_steps=0)
    finally:
        torch.cuda.synchronize = real_sync

    prefix = args.out
    meta_config = {**config, "layer_norm_eps": args.layer_norm_eps, "num_frames": args.num_frames,
                   "mask_ratio": args.mask_ratio, "normlize_target": not args.no_normlize_target}
    batch = {"videos": videos.contiguous(), "mask": mask.contiguous()}
    expected = {"loss": f32(recorded["loss"]).reshape(1), "pred": f32(recorded["pred"]),
                "mask": mask.contiguous(), "target": f32(recorded["target"])}
    save_fixture(prefix, f32_state(model), {"config": json.dumps(meta_config)}, batch,
                 add_f32_grads(expected, model))
    print(json.dumps({"out": prefix, "config": meta_config, "batch": args.batch,
                      "seed": args.seed, "tokens": tokens,
                      "masked": int(mask[0].sum().item()), "loss": recorded["loss"].item()}))


if __name__ == "__main__":
    main()
