//! `tessera kernels`: the registered WGSL kernels; with `--check`, each one is validated by
//! naga and translated to SPIR-V, MSL, HLSL and GLSL (what Vulkan, Metal, DX12 and GL
//! consume), and any failure makes the command fail. No GPU is needed.
use tessera_shaders::{cross_compile, Target, KERNELS};

#[derive(clap::Args)]
pub struct Args {
    /// Validate and translate every kernel to every target; exit non-zero on any failure.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    let columns = if args.check {
        "translations (validated by naga)"
    } else {
        "override constants (specialized per launch)"
    };
    println!(
        "{:<20} {:<20} {:<14}  {columns}",
        "kernel", "entry point", "workgroup"
    );
    for k in KERNELS {
        let [x, y, z] = k.workgroup_size;
        let wg = format!("[{x}, {y}, {z}]");
        let head = format!("{:<20} {:<20} {wg:<14}", k.name, k.entry_point);
        if !args.check {
            let overrides: Vec<String> = k
                .overrides
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            println!("{head}  {}", overrides.join(" "));
            continue;
        }
        match cross_compile(k, &[]) {
            Ok(report) => {
                let cells: Vec<String> = report
                    .outputs
                    .iter()
                    .map(|(t, r)| format!("{t} {}", if r.is_ok() { "ok" } else { "FAILED" }))
                    .collect();
                println!("{head}  {}", cells.join("  "));
                for e in report.errors() {
                    failures.push(e.to_string());
                }
            }
            Err(e) => {
                println!("{head}  FAILED before translation");
                failures.push(e.to_string());
            }
        }
    }
    if !args.check {
        return Ok(());
    }
    if failures.is_empty() {
        let targets: Vec<String> = Target::ALL.iter().map(|t| t.to_string()).collect();
        println!(
            "all {} kernels validate and translate to {}",
            KERNELS.len(),
            targets.join(", ")
        );
        Ok(())
    } else {
        for f in &failures {
            eprintln!("{f}");
        }
        anyhow::bail!("{} kernel translation(s) failed", failures.len())
    }
}
