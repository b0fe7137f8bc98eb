#!/usr/bin/env python3
"""Write a reference fixture of the official M3AE implementation (young-geng/m3ae_public, JAX/Flax).

The official `m3ae/model.py` (`MaskedMultimodalAutoencoder` and the loss helpers
`patch_mse_loss`, `cross_entropy_loss_and_accuracy`, `extract_patches`, the mask helpers) is
imported from a checkout of young-geng/m3ae_public that lives OUTSIDE this project (its code is not
copied here). Pass its location with --m3ae-repo: either a work tree or a bare git directory (the
file is then extracted with `git show` into a temporary folder). It needs jax, flax (for
flax.training, optax), ml_collections, NumPy and safetensors, e.g. in a venv:
`python3 -m venv .jaxenv && .jaxenv/bin/pip install jax==0.4.30 jaxlib==0.4.30 flax==0.8.5
ml_collections safetensors`.

The fixture has the format of the shared `m3ae` fixture (tests/fixtures/m3ae/README.md):

  PREFIX.ckpt.safetensors      the Flax `params` tree, f32, each parameter named by its path joined
                               with '.'; metadata `config` = JSON of the resolved model ConfigDict
                               plus text_vocab_size, image_output_dim, patch_size, image_size,
                               text_length, batch_size, layer_norm_eps, image_loss_weight,
                               text_loss_weight
  PREFIX.batch.safetensors     image f32 [N,H,W,C] (NHWC), text i64 [N,T], text_padding_mask f32
                               [N,T], image_noise f32 [L], text_noise f32 [T]
  PREFIX.expected.safetensors  loss, image_loss, text_loss, text_accuracy [1]; image_output
                               [N,L,p*p*C]; text_output [N,T,V]; image_mask [N,L]; text_mask [N,T];
                               text_loss_mask [N,T]; image_ids_restore, text_ids_restore i64;
                               grad.<name> per parameter

How it is made: the model is built with the official constructor from the given sizes and
initialised officially (`model.init`) from --seed. Every parameter is then moved from its initial
value so that a bug in any of them shows (LayerNorm `scale` 1 + 0.1*randn; every 1-D parameter,
`cls_token`, the type and mask embeddings 0.05*randn; Dense kernels and the text embedding keep
their initial values) and rounded to f32, which is what the checkpoint stores. The batch holds
random normalised images and random token ids (ids 1..V-1, padded with 0 at the end to the given
caption lengths; a length 0 is an empty caption, all padding, as the official loader makes it).
The loss is computed exactly as `m3ae_main.py`'s training step with its default flags (pixel
targets, masked-token losses, no unpaired text) and its loss weights, with `deterministic=False`
(all dropout rates are 0). Forward and backward run in float64 (`jax_enable_x64`) from exactly the
stored f32 values; the results are rounded to f32.

The one intervention: `random_masking` draws `jax.random.uniform(rng, (length,), float32)` once for
the image tokens and once for the text tokens; those two draws return the batch's `image_noise` and
`text_noise` instead (drawn here from --seed with NumPy, float32, no ties).

Usage:
  .jaxenv/bin/python scripts/make_m3ae_fixture.py --m3ae-repo /path/to/m3ae_public \\
      --image-size 32 --patch-size 4 --channels 3 --emb-dim 32 --depth 1 --num-heads 2 \\
      --dec-emb-dim 16 --dec-depth 2 --dec-num-heads 2 --vocab 50 --text-length 10 \\
      --lengths 10 3 0 --image-mask-ratio 0.5 --text-mask-ratio 0.6 --seed 3 --out /tmp/m3ae_a
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def official_model_module(repo):
    """`m3ae/model.py` of the checkout at `repo` (work tree or bare git dir), imported."""
    path = os.path.join(repo, "m3ae", "model.py")
    if not os.path.exists(path):
        text = subprocess.run(["git", "--git-dir", repo, "show", "HEAD:m3ae/model.py"],
                              check=True, capture_output=True, text=True).stdout
        path = os.path.join(tempfile.mkdtemp(), "m3ae_model.py")
        with open(path, "w") as f:
            f.write(text)
    spec = importlib.util.spec_from_file_location("m3ae_official_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flatten(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) or hasattr(v, "items"):
            out.update(flatten(v, name))
        else:
            out[name] = v
    return out


def unflatten(flat):
    tree = {}
    for name, v in flat.items():
        node = tree
        parts = name.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return tree


def perturb(name, value, rng):
    """The README's perturbation, then rounding to f32 (what the checkpoint stores)."""
    v = np.asarray(value, dtype=np.float64)
    leaf = name.split(".")[-1]
    if leaf == "scale":
        v = 1.0 + 0.1 * rng.standard_normal(v.shape)
    elif v.ndim == 1 or leaf.endswith("_embedding") and leaf != "embedding" or leaf == "cls_token":
        v = 0.05 * rng.standard_normal(v.shape)
    return v.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--m3ae-repo", required=True)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--patch-size", type=int, default=8)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--emb-dim", type=int, default=48)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--num-heads", type=int, default=3)
    ap.add_argument("--dec-emb-dim", type=int, default=32)
    ap.add_argument("--dec-depth", type=int, default=1)
    ap.add_argument("--dec-num-heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=100)
    ap.add_argument("--text-length", type=int, default=12)
    ap.add_argument("--lengths", type=int, nargs="+", default=[8, 6],
                    help="real tokens of each caption (the batch size is their count)")
    ap.add_argument("--image-mask-ratio", type=float, default=0.75)
    ap.add_argument("--text-mask-ratio", type=float, default=0.75)
    ap.add_argument("--no-type-embedding", action="store_true")
    ap.add_argument("--image-loss-weight", type=float, default=1.0)
    ap.add_argument("--text-loss-weight", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output prefix")
    args = ap.parse_args()

    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from safetensors.numpy import save_file

    m = official_model_module(args.m3ae_repo)
    p, c, side = args.patch_size, args.channels, args.image_size
    n, t, v = len(args.lengths), args.text_length, args.vocab
    length = (side // p) ** 2
    if any(k > t for k in args.lengths):
        sys.exit("a caption length exceeds --text-length")
    config = m.MaskedMultimodalAutoencoder.get_default_config(dict(
        emb_dim=args.emb_dim, dec_emb_dim=args.dec_emb_dim, depth=args.depth,
        dec_depth=args.dec_depth, num_heads=args.num_heads, dec_num_heads=args.dec_num_heads,
        mlp_ratio=args.mlp_ratio, image_mask_ratio=args.image_mask_ratio,
        text_mask_ratio=args.text_mask_ratio, use_type_embedding=not args.no_type_embedding,
    ))
    model = m.MaskedMultimodalAutoencoder(
        config_updates=config, text_vocab_size=v, image_output_dim=p * p * c)

    rng = np.random.default_rng(args.seed)
    image = rng.standard_normal((n, side, side, c)).astype(np.float32)
    text = np.zeros((n, t), dtype=np.int64)
    padding = np.ones((n, t), dtype=np.float32)
    for b, k in enumerate(args.lengths):
        text[b, :k] = rng.integers(1, v, size=k)
        padding[b, :k] = 0.0
    # Noise without ties (argsort must be unambiguous): a random permutation of spaced values.
    image_noise = (rng.permutation(length) + rng.uniform(0.1, 0.9, length)) / length
    text_noise = (rng.permutation(t) + rng.uniform(0.1, 0.9, t)) / t
    image_noise, text_noise = image_noise.astype(np.float32), text_noise.astype(np.float32)

    key = jax.random.PRNGKey(args.seed)
    keys = dict(zip(model.rng_keys(), jax.random.split(key, len(model.rng_keys()))))
    patches0 = m.extract_patches(jnp.asarray(image), p)
    variables = model.init(keys, patches0, jnp.asarray(text), jnp.asarray(padding),
                           deterministic=True)
    params32 = {k: perturb(k, val, rng) for k, val in flatten(variables["params"]).items()}

    # The two noise draws of random_masking answered from the batch, in call order.
    queue = []
    real_uniform = jax.random.uniform

    def uniform(rng_key, shape=(), dtype=jnp.float32, *a, **kw):
        if queue and tuple(shape) == queue[0].shape:
            return jnp.asarray(queue.pop(0), dtype=dtype)
        return real_uniform(rng_key, shape, dtype, *a, **kw)

    jax.random.uniform = uniform

    image64 = jnp.asarray(image, dtype=jnp.float64)
    text_j = jnp.asarray(text)
    padding64 = jnp.asarray(padding, dtype=jnp.float64)

    def loss_fn(params):
        # m3ae_main.py create_train_step.loss_fn with the default flags.
        queue[:] = [image_noise, text_noise]
        image_patches = m.extract_patches(image64, p)
        image_output, text_output, image_mask, text_mask = model.apply(
            {"params": params}, image_patches, text_j, padding64, deterministic=False,
            rngs=keys)
        image_loss = m.patch_mse_loss(image_output, image_patches, image_mask)
        text_loss, text_accuracy = m.cross_entropy_loss_and_accuracy(
            text_output, text_j, m.mask_intersection(text_mask, m.mask_not(padding64)))
        loss = args.image_loss_weight * image_loss + args.text_loss_weight * text_loss
        return loss, (image_loss, text_loss, text_accuracy, image_output, text_output,
                      image_mask, text_mask)

    params64 = unflatten({k: jnp.asarray(val, dtype=jnp.float64) for k, val in params32.items()})
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params64)
    image_loss, text_loss, text_accuracy, image_output, text_output, image_mask, text_mask = aux
    f32 = lambda x: np.asarray(x, dtype=np.float32)
    ids_restore = lambda noise: np.argsort(np.argsort(noise, kind="stable"), kind="stable")
    text_loss_mask = np.asarray(m.mask_intersection(text_mask, m.mask_not(padding64)))

    cfg = {k: config[k] for k in sorted(config.keys())}
    cfg.update(text_vocab_size=v, image_output_dim=p * p * c, patch_size=p, image_size=side,
               text_length=t, batch_size=n, layer_norm_eps=1e-6,
               image_loss_weight=args.image_loss_weight, text_loss_weight=args.text_loss_weight)
    save_file(params32, args.out + ".ckpt.safetensors", metadata={"config": json.dumps(cfg)})
    save_file({"image": image, "text": text, "text_padding_mask": padding,
               "image_noise": image_noise, "text_noise": text_noise},
              args.out + ".batch.safetensors")
    expected = {
        "loss": f32([loss]), "image_loss": f32([image_loss]), "text_loss": f32([text_loss]),
        "text_accuracy": f32([text_accuracy]), "image_output": f32(image_output),
        "text_output": f32(text_output), "image_mask": f32(image_mask),
        "text_mask": f32(text_mask), "text_loss_mask": f32(text_loss_mask),
        "image_ids_restore": ids_restore(image_noise).astype(np.int64),
        "text_ids_restore": ids_restore(text_noise).astype(np.int64),
    }
    for k, g in flatten(grads).items():
        expected["grad." + k] = f32(g)
    save_file(expected, args.out + ".expected.safetensors")
    print(f"{args.out}: loss {float(loss):.7f} (image {float(image_loss):.7f}, "
          f"text {float(text_loss):.7f}, accuracy {float(text_accuracy):.4f}), "
          f"{len(params32)} parameters")


if __name__ == "__main__":
    main()
