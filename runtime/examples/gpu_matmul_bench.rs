//! GFLOP/s of the WGSL matmul on the chosen adapter:
//! `cargo run --release -p tessera-runtime --example gpu_matmul_bench -- [N..] [--iters I]`
//! (default N = 256 512). `TESSERA_ADAPTER` picks the adapter by name.
use tessera_runtime::gpu::ops::matmul::MatmulTile;
use tessera_runtime::gpu::ops::matmul_bench::bench_matmul;
use tessera_runtime::gpu::{GpuContext, GpuOptions, PipelineCache, ADAPTER_VAR};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sizes = Vec::new();
    let mut iters = 5;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--iters" {
            iters = args.next().ok_or("--iters needs a count")?.parse()?;
        } else {
            sizes.push(a.parse::<usize>()?);
        }
    }
    if sizes.is_empty() {
        sizes = vec![256, 512];
    }
    let ctx = GpuContext::new(&GpuOptions {
        adapter_name: std::env::var(ADAPTER_VAR).ok(),
        timeout: None,
    })?;
    let mut cache = PipelineCache::new();
    println!("adapter: {}", ctx.report.name);
    for n in sizes {
        for tile in [None, Some(MatmulTile::SMALL), Some(MatmulTile::LARGE)] {
            let r = bench_matmul(&ctx, &mut cache, n, iters, tile)?;
            println!(
                "n={n} tile={}x{} ({}x{} threads){} wall {:.3} ms gpu {} → {:.1} GFLOP/s, \
                 max rel err {:.1e}",
                r.tile.bm(),
                r.tile.bn(),
                r.tile.wg_x,
                r.tile.wg_y,
                if tile.is_none() { " [chosen]" } else { "" },
                r.wall_s * 1e3,
                r.gpu_s.map_or("-".into(), |s| format!("{:.3} ms", s * 1e3)),
                r.gflops(),
                r.max_rel_err
            );
        }
    }
    Ok(())
}
