//! Times a full MAE training step (forward + backward + AdamW) of mae_tiny_32 (img 32, patch
//! 4, encoder 192/12/3, decoder 128/4/4, mask 3/4, batch 64) on the CPU backend, built
//! directly with the graph builder. `cargo run --release -p tessera-runtime --example
//! cpu_mae_step [batch] [steps]`.
use std::time::Instant;

use tessera_dsl::graph::{
    adamw, compile, grad, AdamWConfig, GResult, Graph, NodeId, PatchOrder, PlanOptions,
};
use tessera_runtime::cpu::CpuExecutor;

fn linear(g: &mut Graph, x: NodeId, name: &str, i: usize, o: usize) -> GResult<NodeId> {
    let w = g.param(&format!("{name}.weight"), &[o, i], true)?;
    let b = g.param(&format!("{name}.bias"), &[o], true)?;
    g.linear(x, w, Some(b))
}

fn ln(g: &mut Graph, x: NodeId, name: &str, d: usize) -> GResult<NodeId> {
    let w = g.param(&format!("{name}.weight"), &[d], true)?;
    let b = g.param(&format!("{name}.bias"), &[d], true)?;
    g.layer_norm(x, w, b, 1e-6)
}

fn block(g: &mut Graph, x: NodeId, name: &str, d: usize, heads: usize) -> GResult<NodeId> {
    let h = ln(g, x, &format!("{name}.norm1"), d)?;
    let qkv = linear(g, h, &format!("{name}.attn.qkv"), d, 3 * d)?;
    let a = g.self_attention(qkv, heads, None, 1.0 / ((d / heads) as f64).sqrt())?;
    let a = linear(g, a, &format!("{name}.attn.proj"), d, d)?;
    let x = g.add(x, a)?;
    let h = ln(g, x, &format!("{name}.norm2"), d)?;
    let h = linear(g, h, &format!("{name}.mlp.fc1"), d, 4 * d)?;
    let h = g.gelu_erf(h)?;
    let h = linear(g, h, &format!("{name}.mlp.fc2"), 4 * d, d)?;
    g.add(x, h)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(Ok(64), |s| s.parse())?;
    let steps: usize = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let (img, p, c, d, depth, heads, dd, ddepth, dheads) = (32, 4, 3, 192, 12, 3, 128, 4, 4);
    let l = (img / p) * (img / p);
    let keep = l / 4;
    let mut g = Graph::new();
    let imgs = g.input("imgs", &[n, c, img, img])?;
    let mask = g.input("mask", &[n, l])?;
    let ids_keep = g.index_input("ids_keep", &[n, keep])?;
    let ids_restore = g.index_input("ids_restore", &[n, l])?;
    let cls = g.param("cls_token", &[1, 1, d], true)?;
    let pos = g.frozen("pos_embed", &[1, l + 1, d])?;
    let mask_token = g.param("mask_token", &[1, 1, dd], true)?;
    let dpos = g.frozen("decoder_pos_embed", &[1, l + 1, dd])?;
    // Encoder.
    let patches = g.patchify(imgs, p, PatchOrder::Cpq)?;
    let pw = g.param("patch_embed.proj.weight", &[d, c, p, p], true)?;
    let pw2 = g.reshape(pw, &[d, c * p * p])?;
    let pb = g.param("patch_embed.proj.bias", &[d], true)?;
    let x = g.linear(patches, pw2, Some(pb))?;
    let pos_p = g.slice(pos, 1, 1, l)?;
    let x = g.add(x, pos_p)?;
    let x = g.gather_rows(x, ids_keep)?;
    let pos0 = g.slice(pos, 1, 0, 1)?;
    let cls = g.add(cls, pos0)?;
    let cls = g.expand(cls, &[n, 1, d])?;
    let mut x = g.concat(&[cls, x], 1)?;
    for i in 0..depth {
        x = block(&mut g, x, &format!("blocks.{i}"), d, heads)?;
    }
    let x = ln(&mut g, x, "norm", d)?;
    // Decoder.
    let x = linear(&mut g, x, "decoder_embed", d, dd)?;
    let xc = g.slice(x, 1, 0, 1)?;
    let xt = g.slice(x, 1, 1, keep)?;
    let mt = g.expand(mask_token, &[n, l - keep, dd])?;
    let x_ = g.concat(&[xt, mt], 1)?;
    let x_ = g.gather_rows(x_, ids_restore)?;
    let x = g.concat(&[xc, x_], 1)?;
    let mut x = g.add(x, dpos)?;
    for i in 0..ddepth {
        x = block(&mut g, x, &format!("decoder_blocks.{i}"), dd, dheads)?;
    }
    let x = ln(&mut g, x, "decoder_norm", dd)?;
    let x = linear(&mut g, x, "decoder_pred", dd, p * p * c)?;
    let pred = g.slice(x, 1, 1, l)?;
    let target = g.patchify(imgs, p, PatchOrder::Pqc)?;
    let target = g.norm_pix(target, 1e-6)?;
    let loss = g.masked_mse(pred, target, mask)?;
    let params = g.trainable_params();
    let grads = grad(&mut g, loss, &params)?;
    let _opt = adamw(&mut g, &grads, &AdamWConfig::mae_pretrain(0.05))?;
    let t0 = Instant::now();
    let plan = compile(&g, &[loss], &PlanOptions::default())?;
    println!(
        "graph {} nodes → plan {} steps, arena {:.1} MiB (transient {:.1} MiB), compile {:.0} ms",
        g.len(),
        plan.steps.len(),
        plan.peak_bytes(4) as f64 / (1 << 20) as f64,
        plan.transient_bytes(4) as f64 / (1 << 20) as f64,
        t0.elapsed().as_secs_f64() * 1e3
    );
    let mut ex = CpuExecutor::<f32>::new(&plan)?;
    // Deterministic pseudo-random parameters and batch.
    let mut s = 1u64;
    let mut rnd = |k: usize, scale: f32| -> Vec<f32> {
        (0..k)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
            })
            .collect()
    };
    for &pid in &params {
        let node = g.node(pid);
        let name = node.role.name().unwrap().to_string();
        let v = rnd(node.numel(), 0.1);
        ex.set_param(&name, &v)?;
    }
    ex.set_frozen("pos_embed", &rnd((l + 1) * d, 1.0))?;
    ex.set_frozen("decoder_pos_embed", &rnd((l + 1) * dd, 1.0))?;
    ex.set_input("imgs", &rnd(n * c * img * img, 2.0))?;
    let mut m = vec![0f32; n * l];
    let (mut keep_ids, mut restore) = (Vec::new(), Vec::new());
    for b in 0..n {
        let perm: Vec<u32> = (0..l as u32)
            .map(|i| (i * 37 + b as u32 * 11) % l as u32)
            .collect();
        let mut inv = vec![0u32; l];
        for (j, &pi) in perm.iter().enumerate() {
            inv[pi as usize] = j as u32;
        }
        keep_ids.extend_from_slice(&perm[..keep]);
        restore.extend_from_slice(&inv);
        for &pi in &perm[keep..] {
            m[b * l + pi as usize] = 1.0;
        }
    }
    ex.set_input("mask", &m)?;
    ex.set_index_input("ids_keep", &keep_ids)?;
    ex.set_index_input("ids_restore", &restore)?;
    let mut times = Vec::new();
    for step in 0..steps + 1 {
        ex.set_input("optim.lr", &[1e-4])?;
        ex.set_input("optim.step", &[(step + 1) as f32])?;
        let t = Instant::now();
        ex.run()?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!("step {step}: loss {:.5} in {ms:.1} ms", ex.read(loss)?[0]);
        if step > 0 {
            times.push(ms);
        }
    }
    if std::env::var_os("PROFILE").is_some() {
        for (k, t, c) in ex.profile()?.iter().take(30) {
            println!("{:8.1} ms {c:5}x  {k}", t * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!("median step {:.1} ms", times[times.len() / 2]);
    Ok(())
}
