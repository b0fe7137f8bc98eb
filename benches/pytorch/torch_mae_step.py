#!/usr/bin/env python3
"""One MAE pre-training step (forward + backward + AdamW) in PyTorch on the CPU, timed the way
`tessera bench` times tessera's: a fixed batch of random images, fresh masks every step, warm-up
steps, then the median of the timed steps. Prints one JSON object: the step times and the
process's peak resident memory above what it held before the model was built (the memory the
model, its optimizer state and the step need).

The model is MAE as the paper describes it (He et al. 2021), built from timm's `Block` and
`PatchEmbed`, with the sizes of tessera's presets (`--model`). Used by `side_by_side.py`.
"""
import argparse
import json
import math
import resource
import statistics
import time
from functools import partial

import numpy as np
import torch
import torch.nn as nn
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block


def rss_bytes():
    """Resident memory now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """dim/2 sin channels followed by dim/2 cos channels, frequencies
    1 / 10000^(2i/dim) (Transformer-style), for a flat array of positions."""
    assert dim % 2 == 0
    freqs = 1.0 / (10000.0 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)))
    angles = np.outer(positions.reshape(-1).astype(np.float64), freqs)  # (P, dim/2)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_2d(dim: int, grid: int, with_cls: bool) -> np.ndarray:
    """Half of the channels encode the row index, half the column index.
    Returns (grid*grid [+1], dim); the [CLS] slot (if any) is all zeros."""
    assert dim % 4 == 0
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    emb = np.concatenate([sincos_1d(dim // 2, rows), sincos_1d(dim // 2, cols)], axis=1)
    if with_cls:
        emb = np.concatenate([np.zeros((1, dim)), emb], axis=0)
    return emb.astype(np.float32)


# --------------------------------------------------------------------------
# MAE model
# --------------------------------------------------------------------------
class MAE(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3,
                 enc_dim=768, enc_depth=12, enc_heads=12,
                 dec_dim=512, dec_depth=8, dec_heads=16,
                 mlp_ratio=4.0, norm_pix_loss=True):
        super().__init__()
        ln = partial(nn.LayerNorm, eps=1e-6)
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.norm_pix_loss = norm_pix_loss

        # encoder
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, enc_dim)
        n = self.patch_embed.num_patches
        grid = int(round(math.sqrt(n)))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, enc_dim))
        self.register_buffer("pos_embed",
                             torch.from_numpy(sincos_2d(enc_dim, grid, True)).unsqueeze(0),
                             persistent=False)
        self.blocks = nn.ModuleList([
            Block(enc_dim, enc_heads, mlp_ratio, qkv_bias=True, norm_layer=ln)
            for _ in range(enc_depth)])
        self.norm = ln(enc_dim)

        # decoder
        self.decoder_embed = nn.Linear(enc_dim, dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.register_buffer("decoder_pos_embed",
                             torch.from_numpy(sincos_2d(dec_dim, grid, True)).unsqueeze(0),
                             persistent=False)
        self.decoder_blocks = nn.ModuleList([
            Block(dec_dim, dec_heads, mlp_ratio, qkv_bias=True, norm_layer=ln)
            for _ in range(dec_depth)])
        self.decoder_norm = ln(dec_dim)
        self.decoder_pred = nn.Linear(dec_dim, patch_size * patch_size * in_chans)

        self._init()

    def _init(self):
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # (N, C, H, W) -> (N, L, p*p*C), patch-major, channels last inside a patch
    def patchify(self, imgs):
        p, c = self.patch_size, self.in_chans
        n, _, h, w = imgs.shape
        gh, gw = h // p, w // p
        x = imgs.reshape(n, c, gh, p, gw, p)
        x = x.permute(0, 2, 4, 3, 5, 1)  # n, gh, gw, p, p, c
        return x.reshape(n, gh * gw, p * p * c)

    @staticmethod
    def random_masking(x, mask_ratio):
        n, l, d = x.shape
        keep = int(l * (1.0 - mask_ratio))
        noise = torch.rand(n, l, device=x.device)
        ids_shuffle = torch.argsort(noise, dim=1)      # ascending: small noise kept
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :keep]
        visible = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
        mask = torch.ones(n, l, device=x.device)         # 1 = masked (removed)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)        # back to patch order
        return visible, mask, ids_restore

    def encode(self, imgs, mask_ratio):
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, mask_ratio)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def decode(self, x, ids_restore):
        x = self.decoder_embed(x)
        n, l = ids_restore.shape
        n_mask = l + 1 - x.shape[1]
        tokens = torch.cat([x[:, 1:, :], self.mask_token.expand(n, n_mask, -1)], dim=1)
        tokens = torch.gather(tokens, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        x = torch.cat([x[:, :1, :], tokens], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:, :]  # drop [CLS]

    def loss(self, imgs, pred, mask):
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)   # unbiased, as torch default
            target = (target - mean) / (var + 1e-6) ** 0.5
        per_patch = ((pred - target) ** 2).mean(dim=-1)
        denom = mask.sum()
        if denom.item() == 0:  # mask_ratio 0 (symmetric run): average over all patches
            return per_patch.mean()
        return (per_patch * mask).sum() / denom

    def forward(self, imgs, mask_ratio=0.75):
        latent, mask, ids_restore = self.encode(imgs, mask_ratio)
        pred = self.decode(latent, ids_restore)
        return self.loss(imgs, pred, mask), pred, mask


# --------------------------------------------------------------------------
# benchmark
# --------------------------------------------------------------------------

# tessera's presets (`tessera check --preset NAME`), as PyTorch sizes.
PRESETS = {
    "mae_tiny_32": dict(img_size=32, patch_size=4, enc_dim=192, enc_depth=12, enc_heads=3,
                        dec_dim=128, dec_depth=4, dec_heads=4),
    "mae_fmnist_small": dict(img_size=28, patch_size=4, in_chans=1, enc_dim=128, enc_depth=6,
                             enc_heads=4, dec_dim=64, dec_depth=2, dec_heads=4),
    "mae_vit_base_patch16": dict(img_size=224, patch_size=16, enc_dim=768, enc_depth=12,
                                 enc_heads=12, dec_dim=512, dec_depth=8, dec_heads=16),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(PRESETS), default="mae_tiny_32")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mask-ratio", type=float, default=0.75)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    before = rss_bytes()
    cfg = dict(PRESETS[args.model])
    model = MAE(**cfg, norm_pix_loss=True).train()
    imgs = torch.randn(args.batch, cfg.get("in_chans", 3), cfg["img_size"], cfg["img_size"])
    opt = torch.optim.AdamW(model.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)

    def step():
        opt.zero_grad(set_to_none=True)
        loss, _, _ = model(imgs, args.mask_ratio)
        loss.backward()
        opt.step()
        return loss

    times = []
    for i in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "model": args.model,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "ms_per_step": statistics.median(times) * 1e3,
        "ms_per_step_min": min(times) * 1e3,
        "ms_per_step_max": max(times) * 1e3,
        "peak_rss_delta_bytes": peak - before,
        "final_loss": float(loss.item()),
    }))


if __name__ == "__main__":
    main()
