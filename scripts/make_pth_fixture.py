#!/usr/bin/env python3
"""Write official-style PyTorch checkpoints (`.pth`) of a fixture model, for `tessera convert`,
`pretrain --init`, `probe` and `reconstruct` tests that must not need torch at run time.

The tensors are those of an existing official-names fixture (a safetensors state dict made by
the official code, e.g. tests/fixtures/mae-extra/mae_c3_p4_r06.ckpt.safetensors). They are saved
with `torch.save` in the two layouts the official MAE release uses:

  PREFIX.pth          what `util/misc.py: save_model` writes during pre-training:
                      {"model": state_dict, "optimizer": AdamW state, "epoch": int,
                       "scaler": GradScaler state, "args": argparse.Namespace}
  PREFIX.encoder.pth  what the released pre-trained weights hold (mae_pretrain_vit_base.pth):
                      {"model": state_dict without mask_token and decoder_*}

The optimizer state is a real AdamW state after one step on the fixture's parameters (so the
reader has to walk past it), the args a Namespace like the official script's. Tensors keep
the fixture's f32 values exactly, so a converted file must equal the fixture bit for bit.

Usage:
  /path/to/torchenv/bin/python scripts/make_pth_fixture.py \
      tests/fixtures/mae-extra/mae_c3_p4_r06.ckpt.safetensors tests/fixtures/pth/mae_c3_p4_r06
"""
import argparse
import json
import sys

import torch
from safetensors import safe_open


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="safetensors state dict with official names")
    ap.add_argument("prefix", help="output prefix (PREFIX.pth, PREFIX.encoder.pth)")
    a = ap.parse_args()

    with safe_open(a.source, framework="pt") as f:
        meta = f.metadata() or {}
        names = list(f.keys())
        state = {n: f.get_tensor(n).clone() for n in names}
    config = json.loads(meta.get("config", "{}"))

    # A real AdamW state: one step on every trainable tensor with a made-up gradient.
    params = [torch.nn.Parameter(t.clone()) for n, t in state.items() if n != "pos_embed"
              and n != "decoder_pos_embed"]
    opt = torch.optim.AdamW(params, lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    g = torch.Generator().manual_seed(0)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    opt.step()

    args = argparse.Namespace(
        batch_size=64, epochs=400, accum_iter=1, model="mae_custom_fixture",
        input_size=config.get("img_size", 224), mask_ratio=0.6,
        norm_pix_loss=bool(config.get("norm_pix_loss", False)), weight_decay=0.05, lr=None,
        blr=1.5e-4, min_lr=0.0, warmup_epochs=40, data_path="/datasets01/imagenet_full_size/061417/",
        output_dir="./output_dir", log_dir="./output_dir", device="cuda", seed=0, resume="",
        start_epoch=0, num_workers=10, pin_mem=True, world_size=8, local_rank=-1,
        dist_on_itp=False, dist_url="env://", distributed=True, rank=0, gpu=0,
        dist_backend="nccl",
    )
    full = {
        "model": state,
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "scaler": torch.amp.GradScaler("cpu").state_dict(),
        "args": args,
    }
    torch.save(full, a.prefix + ".pth")
    encoder = {n: t for n, t in state.items()
               if n != "mask_token" and not n.startswith("decoder")}
    torch.save({"model": encoder}, a.prefix + ".encoder.pth")
    print(f"wrote {a.prefix}.pth ({len(state)} tensors) and {a.prefix}.encoder.pth "
          f"({len(encoder)} tensors); torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
