//! `tessera devices`: the GPU adapters wgpu can see, with the features and limits that matter
//! to tessera's kernels, in the order tessera would choose them.

use anyhow::bail;
use serde_json::{json, Value};
use tessera_runtime::gpu::{self, AdapterReport};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON (an array of adapters) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let reports = gpu::adapter_reports();
    if reports.is_empty() {
        let backends = gpu::backend_names(gpu::backends());
        let message = format!(
            "no GPU adapter found (backends tried: {backends}).\n\
             For a software Vulkan adapter install Mesa's lavapipe \
             (`apt-get install mesa-vulkan-drivers`); WGPU_BACKEND=gl also tries OpenGL.\n\
             tessera's CPU backend works without one."
        );
        if gpu::gpu_required() {
            bail!(
                "{message}\n({}=1 is set, so this is an error)",
                gpu::REQUIRE_GPU_VAR
            );
        }
        if args.json {
            println!("[]");
            eprintln!("{message}");
        } else {
            println!("{message}");
        }
        return Ok(());
    }
    if args.json {
        let adapters: Vec<Value> = reports.iter().map(to_json).collect();
        println!("{}", serde_json::to_string_pretty(&adapters)?);
    } else {
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print_text(i, r);
        }
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Bytes as `128 MiB (134217728)`: the unit for reading, the exact value for comparing.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let unit = (1..UNITS.len())
        .rev()
        .find(|&u| n >> (10 * u) > 0)
        .unwrap_or(0);
    let whole = n >> (10 * unit);
    match unit {
        0 => format!("{n} B"),
        _ if whole << (10 * unit) == n => format!("{whole} {} ({n})", UNITS[unit]),
        _ => format!(
            "{:.2} {} ({n})",
            n as f64 / (1u64 << (10 * unit)) as f64,
            UNITS[unit]
        ),
    }
}

fn print_text(index: usize, r: &AdapterReport) {
    let choice = if index == 0 && r.compute {
        "  [default]"
    } else {
        ""
    };
    println!("adapter {index}: {}{choice}", r.name);
    println!("  backend:         {}", r.backend);
    println!("  type:            {}", r.device_type_name());
    println!("  driver:          {} {}", r.driver, r.driver_info);
    println!("  compute shaders: {}", yes_no(r.compute));
    println!("  f16:             {}", yes_no(r.f16));
    match r.subgroups {
        Some((min, max)) => println!("  subgroups:       yes (size {min}..={max})"),
        None => println!("  subgroups:       no"),
    }
    println!(
        "  timestamps:      {} (inside passes: {})",
        yes_no(r.timestamp_query),
        yes_no(r.timestamp_query_inside_passes)
    );
    let l = &r.limits;
    let limits = [
        (
            "max_storage_buffer_binding_size",
            bytes(l.max_storage_buffer_binding_size),
        ),
        ("max_buffer_size", bytes(l.max_buffer_size)),
        (
            "max_compute_workgroup_storage_size",
            bytes(l.max_compute_workgroup_storage_size.into()),
        ),
        (
            "max_compute_invocations_per_workgroup",
            l.max_compute_invocations_per_workgroup.to_string(),
        ),
        (
            "max_compute_workgroup_size_x",
            l.max_compute_workgroup_size_x.to_string(),
        ),
        (
            "max_compute_workgroups_per_dimension",
            l.max_compute_workgroups_per_dimension.to_string(),
        ),
        (
            "max_storage_buffers_per_shader_stage",
            l.max_storage_buffers_per_shader_stage.to_string(),
        ),
    ];
    let width = limits
        .iter()
        .map(|(name, _)| name.len() + 1)
        .max()
        .unwrap_or(0);
    println!("  limits:");
    for (name, value) in limits {
        println!("    {:width$} {value}", format!("{name}:"));
    }
}

fn to_json(r: &AdapterReport) -> Value {
    let l = &r.limits;
    json!({
        "name": r.name,
        "backend": r.backend.to_str(),
        "device_type": format!("{:?}", r.device_type),
        "software": r.is_software(),
        "driver": r.driver,
        "driver_info": r.driver_info,
        "compute": r.compute,
        "f16": r.f16,
        "subgroups": r.subgroups.is_some(),
        "subgroup_min_size": r.subgroups.map(|s| s.0),
        "subgroup_max_size": r.subgroups.map(|s| s.1),
        "timestamp_query": r.timestamp_query,
        "timestamp_query_inside_passes": r.timestamp_query_inside_passes,
        "limits": {
            "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
            "max_buffer_size": l.max_buffer_size,
            "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
            "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
            "max_compute_workgroup_size_x": l.max_compute_workgroup_size_x,
            "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
            "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn byte_counts_read_well_and_stay_exact() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(16 * 1024), "16 KiB (16384)");
        assert_eq!(bytes(128 << 20), "128 MiB (134217728)");
        assert_eq!(bytes(1536), "1.50 KiB (1536)");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(u64::MAX), "16777216.00 TiB (18446744073709551615)");
    }
}
