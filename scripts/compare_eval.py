#!/usr/bin/env python3
"""Compare a `tessera eval --grads` output file with an official fixture's expected file:
loss/pred within 1e-4 and every gradient within 1e-3 relative error (the parity tests' bars),
the mask exactly. Prints one line per file and exits 1 on any failure.

An M3AE fixture (its expected file holds `image_output`) is compared under its own names:
`pred` with `image_output`, `mask` with `image_mask`, and besides them `text_output`,
`image_loss`, `text_loss`, `text_accuracy` within 1e-4 and `text_mask` exactly.

Usage: compare_eval.py OUT.safetensors EXPECTED.safetensors
"""
import sys

import numpy as np
from safetensors.numpy import load_file


def rel(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    den = np.linalg.norm(b)
    num = np.linalg.norm(a - b)
    # An exactly zero reference (a gradient that vanishes in exact arithmetic) is compared
    # absolutely, so rounding noise passes and a real gradient does not.
    return num if den == 0 else num / den


def same_mask(got, want):
    """Equal masks; a batch-shared official mask (MixMIM's [1, L, 1]) equals every row of ours."""
    if want.shape[0] == 1 and got.ndim == 2 and want.size == got.shape[1]:
        return bool((got == want.reshape(1, -1)).all())
    return np.array_equal(got, want)


def main():
    got, want = load_file(sys.argv[1]), load_file(sys.argv[2])
    m3ae = "image_output" in want
    if m3ae:
        want["pred"], want["mask"] = want["image_output"], want["image_mask"]
    ok = same_mask(got["mask"], want["mask"])
    close = ["loss", "pred"]
    if m3ae:
        close += ["image_loss", "text_loss", "text_accuracy", "text_output"]
        ok &= np.array_equal(got["text_mask"], want["text_mask"])
    worst = {k: rel(got[k], want[k]) for k in close}
    ok &= all(e < 1e-4 for e in worst.values())
    grads = sorted(k for k in want if k.startswith("grad."))
    ok &= sorted(k for k in got if k.startswith("grad.")) == grads
    # Gradients that vanish in exact arithmetic (the reference holds float64 noise) are held
    # to an absolute bound relative to the largest gradient instead of a relative error.
    norm = lambda v: float(np.linalg.norm(v.astype(np.float64)))
    scale = max(norm(want[k]) for k in grads)
    vanishing = [k for k in grads if norm(want[k]) < 1e-7 * scale]
    ok &= all(norm(got[k]) < 1e-6 * scale for k in vanishing)
    g_worst = max((rel(got[k], want[k]), k) for k in grads if k not in vanishing)
    ok &= g_worst[0] < 1e-3
    errs = ", ".join(f"{k} {e:.1e}" for k, e in worst.items())
    print(f"{sys.argv[2]}: mask {'=' if same_mask(got['mask'], want['mask']) else '!='}, "
          f"{errs}, worst grad {g_worst[0]:.1e} "
          f"({g_worst[1]}), {len(vanishing)} vanishing -> {'ok' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


main()
