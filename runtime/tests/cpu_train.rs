//! Whole-program checks on the CPU backend: an end-to-end gradient check through the MAE
//! building blocks, AdamW against the hand-written torch update, fused = unfused on a
//! transformer block, and the vision layout helpers against index formulas.
mod cpu {
    pub mod harness;
}
use cpu::harness::{check_forward, check_grad, fill_values, rel_err, run, Feed, Rng};
use tessera_dsl::graph::{
    adamw, adamw_reference, compile, grad, AdamWConfig, Graph, PatchOrder, PlanOptions, Target,
};
use tessera_runtime::cpu::CpuExecutor;

#[test]
fn end_to_end_gradient_linear_layernorm_attention_gelu_masked_mse() {
    let (b, l, d, heads, keep) = (2, 6, 8, 2, 4);
    let mut g = Graph::new();
    let x = g.input("x", &[b, l, d]).unwrap();
    let ids = g.index_input("ids_keep", &[b, keep]).unwrap();
    let mask = g.input("mask", &[b, keep]).unwrap();
    let target = g.input("target", &[b, keep, d]).unwrap();
    let pos = g.frozen("pos", &[1, l, d]).unwrap();
    let cls = g.param("cls_token", &[1, 1, d], true).unwrap();
    let w = g.param("fc.weight", &[3 * d, d], true).unwrap();
    let bias = g.param("fc.bias", &[3 * d], true).unwrap();
    let lw = g.param("norm.weight", &[d], true).unwrap();
    let lb = g.param("norm.bias", &[d], true).unwrap();
    let h = g.add(x, pos).unwrap();
    let h = g.gather_rows(h, ids).unwrap();
    let c = g.expand(cls, &[b, 1, d]).unwrap();
    let h = g.concat(&[c, h], 1).unwrap();
    let h = g.layer_norm(h, lw, lb, 1e-6).unwrap();
    let qkv = g.linear(h, w, Some(bias)).unwrap();
    let (q, k, v) = g.split_qkv(qkv, heads).unwrap();
    let a = g.attention(q, k, v, None, 0.5).unwrap();
    let a = g.merge_heads(a).unwrap();
    let a = g.gelu_erf(a).unwrap();
    let pred = g.slice(a, 1, 1, keep).unwrap();
    let t = g.norm_pix(target, 1e-6).unwrap();
    let loss = g.masked_mse(pred, t, mask).unwrap();
    let feed = Feed::default()
        .index("ids_keep", vec![5, 0, 3, 1, 2, 2, 4, 0])
        .data("mask", (0..b * keep).map(|i| (i % 2) as f64).collect());
    check_grad(&mut g, loss, &feed, 11).unwrap();
}

#[test]
fn adamw_step_matches_torch_update() {
    let mut g = Graph::new();
    let w = g.param("fc.weight", &[3, 4], true).unwrap();
    let bias = g.param("fc.bias", &[3], true).unwrap();
    let x = g.input("x", &[5, 4]).unwrap();
    let y = g.linear(x, w, Some(bias)).unwrap();
    let y2 = g.square(y).unwrap();
    let loss = g.mean_all(y2).unwrap();
    let grads = grad(&mut g, loss, &[w, bias]).unwrap();
    let cfg = AdamWConfig::mae_pretrain(0.05);
    let opt = adamw(&mut g, &grads, &cfg).unwrap();
    let (gw, gb) = (grads.get(w).unwrap(), grads.get(bias).unwrap());
    let plan = compile(&g, &[loss, gw, gb], &PlanOptions::default()).unwrap();
    let mut ex = CpuExecutor::<f64>::new(&plan).unwrap();
    let mut rng = Rng(3);
    let (mut pw, mut pb) = (rng.vec(12), rng.vec(3));
    ex.set_param("fc.weight", &pw).unwrap();
    ex.set_param("fc.bias", &pb).unwrap();
    ex.set_input("x", &rng.vec(20)).unwrap();
    let (mut mw, mut vw, mut mb, mut vb) =
        (vec![0.0; 12], vec![0.0; 12], vec![0.0; 3], vec![0.0; 3]);
    for t in 1..=3 {
        let lr = 1e-2 * t as f64;
        ex.set_input(opt.lr_name(), &[lr]).unwrap();
        ex.set_input(opt.step_name(), &[t as f64]).unwrap();
        ex.run().unwrap();
        // The gradients read after the run were computed from the pre-update parameters.
        let (dw, db) = (ex.read(gw).unwrap(), ex.read(gb).unwrap());
        for i in 0..12 {
            (pw[i], mw[i], vw[i]) = adamw_reference(
                pw[i], dw[i], mw[i], vw[i], lr, t as f64, 0.9, 0.95, 1e-8, 0.05,
            );
        }
        for i in 0..3 {
            // Biases are exempt from weight decay.
            (pb[i], mb[i], vb[i]) = adamw_reference(
                pb[i], db[i], mb[i], vb[i], lr, t as f64, 0.9, 0.95, 1e-8, 0.0,
            );
        }
        assert!(rel_err(&ex.param("fc.weight").unwrap(), &pw) < 1e-14);
        assert!(rel_err(&ex.param("fc.bias").unwrap(), &pb) < 1e-14);
        assert!(rel_err(&ex.read_name("fc.weight.exp_avg_sq").unwrap(), &vw) < 1e-14);
    }
    // The update moved the parameters (the test would pass vacuously otherwise).
    assert!(rel_err(&pw, &Rng(3).vec(12)) > 1e-3);
}

/// A pre-norm transformer block (timm layout) on random values.
fn block_graph() -> (Graph, tessera_dsl::graph::NodeId) {
    let (b, l, d, heads) = (2, 5, 8, 2);
    let mut g = Graph::new();
    let x = g.input("x", &[b, l, d]).unwrap();
    let p = |g: &mut Graph, n: &str, s: &[usize]| g.param(n, s, true).unwrap();
    let (n1w, n1b) = (p(&mut g, "n1.w", &[d]), p(&mut g, "n1.b", &[d]));
    let (qw, qb) = (
        p(&mut g, "qkv.w", &[3 * d, d]),
        p(&mut g, "qkv.b", &[3 * d]),
    );
    let (pw, pb) = (p(&mut g, "proj.w", &[d, d]), p(&mut g, "proj.b", &[d]));
    let (n2w, n2b) = (p(&mut g, "n2.w", &[d]), p(&mut g, "n2.b", &[d]));
    let (f1w, f1b) = (
        p(&mut g, "fc1.w", &[4 * d, d]),
        p(&mut g, "fc1.b", &[4 * d]),
    );
    let (f2w, f2b) = (p(&mut g, "fc2.w", &[d, 4 * d]), p(&mut g, "fc2.b", &[d]));
    let h = g.layer_norm(x, n1w, n1b, 1e-6).unwrap();
    let qkv = g.linear(h, qw, Some(qb)).unwrap();
    let (q, k, v) = g.split_qkv(qkv, heads).unwrap();
    let a = g.attention(q, k, v, None, 0.5).unwrap();
    let a = g.merge_heads(a).unwrap();
    let a = g.linear(a, pw, Some(pb)).unwrap();
    let x = g.add(x, a).unwrap();
    let h = g.layer_norm(x, n2w, n2b, 1e-6).unwrap();
    let h = g.linear(h, f1w, Some(f1b)).unwrap();
    let h = g.gelu_erf(h).unwrap();
    let h = g.linear(h, f2w, Some(f2b)).unwrap();
    let y = g.add(x, h).unwrap();
    (g, y)
}

#[test]
fn fused_plan_computes_the_same_values_with_fewer_kernels() {
    let (mut g, y) = block_graph();
    let y2 = g.square(y).unwrap();
    let loss = g.mean_all(y2).unwrap();
    let params = g.trainable_params();
    let grads = grad(&mut g, loss, &params).unwrap();
    let mut outs = vec![loss, y];
    outs.extend(grads.iter().map(|(_, d)| d));
    let feed = fill_values(&g, &Feed::default(), &mut Rng(5));
    let unfused = compile(&g, &outs, &PlanOptions::default().unfused()).unwrap();
    let fused = compile(&g, &outs, &PlanOptions::default()).unwrap();
    let cpu = compile(&g, &outs, &PlanOptions::for_target(Target::Cpu)).unwrap();
    assert!(fused.steps.len() < unfused.steps.len());
    assert!(cpu.steps.len() < fused.steps.len());
    let names = |plan: &tessera_dsl::graph::Plan| -> Vec<&'static str> {
        plan.steps
            .iter()
            .map(|s| plan.graph.node(s.node).op.name())
            .collect()
    };
    let any = names(&fused);
    assert!(
        any.contains(&"fused") && any.contains(&"matmul_bias"),
        "{any:?}"
    );
    // Every CPU fusion has a site in a transformer block: fc1 + GELU, the residual adds,
    // GELU's gradient through fc2, both LayerNorm backwards, the bias gradients.
    let cpu_names = names(&cpu);
    for op in [
        "linear_act",
        "linear_residual",
        "linear_act_grad",
        "layer_norm_grad",
        "linear_input_sums",
    ] {
        assert!(cpu_names.contains(&op), "no {op} in {cpu_names:?}");
    }
    // `run` compiles fused plans for the CPU target: b is the CPU-fused plan.
    let a = run::<f64>(&g, &outs, &feed, false);
    let b = run::<f64>(&g, &outs, &feed, true);
    for (x, y) in a.iter().zip(&b) {
        assert!(rel_err(y, x) < 1e-13);
    }
    // f32 against the f64 oracle, end to end.
    let c = run::<f32>(&g, &outs, &feed, true);
    for (x, y) in a.iter().zip(&c) {
        assert!(rel_err(y, x) < 1e-4, "f32 vs f64: {}", rel_err(y, x));
    }
}

#[test]
fn transformer_block_gradient() {
    let (mut g, y) = block_graph();
    check_grad(&mut g, y, &Feed::default(), 21).unwrap();
}

#[test]
fn patchify_matches_mae_index_formula_and_unpatchify_inverts() {
    let (n, c, hh, p) = (2, 3, 8, 4);
    let grid = hh / p;
    let mut rng = Rng(9);
    let img = rng.vec(n * c * hh * hh);
    for order in [PatchOrder::Pqc, PatchOrder::Cpq] {
        let mut g = Graph::new();
        let x = g.input("imgs", &[n, c, hh, hh]).unwrap();
        let y = g.patchify(x, p, order).unwrap();
        let mut want = vec![0.0; n * grid * grid * p * p * c];
        for b in 0..n {
            for ch in 0..c {
                for i in 0..hh {
                    for j in 0..hh {
                        let (gi, pi, gj, qj) = (i / p, i % p, j / p, j % p);
                        let tok = gi * grid + gj;
                        // MAE: vector index (pi·p + qj)·3 + c; conv-weight order: c·p·p + pi·p + qj.
                        let v = match order {
                            PatchOrder::Pqc => (pi * p + qj) * c + ch,
                            PatchOrder::Cpq => ch * p * p + pi * p + qj,
                        };
                        want[(b * grid * grid + tok) * p * p * c + v] =
                            img[((b * c + ch) * hh + i) * hh + j];
                    }
                }
            }
        }
        let feed = Feed::default().data("imgs", img.clone());
        check_forward(&g, y, &feed, &want);
        let back = g.unpatchify(y, p, (grid, grid), order).unwrap();
        check_forward(&g, back, &feed, &img);
    }
}

#[test]
fn window_partition_patch_merge_and_shift_match_index_formulas() {
    let (b, h, w, c, ws) = (2, 4, 6, 3, 2);
    let mut rng = Rng(13);
    let xv = rng.vec(b * h * w * c);
    let at = |bi: usize, i: usize, j: usize, ch: usize| xv[((bi * h + i) * w + j) * c + ch];
    let mut g = Graph::new();
    let x = g.input("x", &[b, h, w, c]).unwrap();
    let feed = Feed::default().data("x", xv.clone());
    // Window partition: window (wi, wj) row-major, token (ti, tj) row-major inside.
    let y = g.window_partition(x, ws).unwrap();
    let (nh, nw) = (h / ws, w / ws);
    let mut want = Vec::new();
    for bi in 0..b {
        for wi in 0..nh {
            for wj in 0..nw {
                for ti in 0..ws {
                    for tj in 0..ws {
                        for ch in 0..c {
                            want.push(at(bi, wi * ws + ti, wj * ws + tj, ch));
                        }
                    }
                }
            }
        }
    }
    check_forward(&g, y, &feed, &want);
    let back = g.window_reverse(y, ws, (h, w)).unwrap();
    check_forward(&g, back, &feed, &xv);
    // Patch merging: cat(x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]).
    let m = g.patch_merge(x).unwrap();
    let mut want = Vec::new();
    for bi in 0..b {
        for i in 0..h / 2 {
            for j in 0..w / 2 {
                for (di, dj) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    for ch in 0..c {
                        want.push(at(bi, 2 * i + di, 2 * j + dj, ch));
                    }
                }
            }
        }
    }
    check_forward(&g, m, &feed, &want);
    // Cyclic shift by s: out[i, j] = x[(i + s) mod h, (j + s) mod w] (torch.roll by −s).
    let s = 1;
    let sh = g.cyclic_shift(x, s as isize).unwrap();
    let mut want = Vec::new();
    for bi in 0..b {
        for i in 0..h {
            for j in 0..w {
                for ch in 0..c {
                    want.push(at(bi, (i + s) % h, (j + s) % w, ch));
                }
            }
        }
    }
    check_forward(&g, sh, &feed, &want);
}

#[test]
fn split_qkv_follows_timm_channel_layout() {
    let (b, l, heads, hd) = (2, 3, 2, 4);
    let d = heads * hd;
    let mut rng = Rng(17);
    let xv = rng.vec(b * l * 3 * d);
    let mut g = Graph::new();
    let x = g.input("qkv", &[b, l, 3 * d]).unwrap();
    let (q, k, v) = g.split_qkv(x, heads).unwrap();
    let feed = Feed::default().data("qkv", xv.clone());
    for (s, t) in [q, k, v].into_iter().enumerate() {
        // Channel of qkv = s·D + h·hd + i; result [B, H, L, hd].
        let mut want = Vec::new();
        for bi in 0..b {
            for h in 0..heads {
                for li in 0..l {
                    for i in 0..hd {
                        want.push(xv[(bi * l + li) * 3 * d + s * d + h * hd + i]);
                    }
                }
            }
        }
        check_forward(&g, t, &feed, &want);
    }
}
