//! Launcher of the `axpy` smoke kernel (`shaders/wgsl/axpy.wgsl`): y[..n] = a·x[..n] + y[..n].

use super::{BackendError, GpuContext, PipelineCache};

/// Workgroup grid covering `groups` workgroups when at most `max_per_dim` fit in one dimension:
/// one row if possible, otherwise the fewest rows of equal width. `None` if even a square grid
/// of `max_per_dim` × `max_per_dim` is too small.
pub fn grid(groups: u32, max_per_dim: u32) -> Option<[u32; 3]> {
    if groups <= max_per_dim {
        return Some([groups, 1, 1]);
    }
    let rows = groups.div_ceil(max_per_dim);
    (rows <= max_per_dim).then(|| [groups.div_ceil(rows), rows, 1])
}

/// Computes `a * x[i] + y[i]` for `i < n` on the device and returns the whole `y` buffer read
/// back: elements from `n` on must come back unchanged, which is what the kernel's bounds check
/// promises for arena slots longer than the data. `workgroup_size` overrides the kernel's
/// `WORKGROUP_SIZE`.
pub fn axpy(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    a: f32,
    n: usize,
    x: &[f32],
    y: &[f32],
    workgroup_size: Option<u32>,
) -> Result<Vec<f32>, BackendError> {
    assert!(
        n <= x.len() && n <= y.len(),
        "axpy: n = {n} exceeds the buffers"
    );
    let overrides: Vec<(&str, f64)> = workgroup_size
        .map(|w| ("WORKGROUP_SIZE", f64::from(w)))
        .into_iter()
        .collect();
    let pipeline = cache.get(ctx, &tessera_shaders::AXPY, &overrides)?;
    if n == 0 {
        return Ok(y.to_vec());
    }

    let limits = ctx.device.limits();
    let bytes = (x.len().max(y.len()) * size_of::<f32>()) as u64;
    if bytes > limits.max_storage_buffer_binding_size {
        return Err(BackendError::Limit {
            what: "an axpy operand".into(),
            needed: bytes,
            allowed: limits.max_storage_buffer_binding_size,
        });
    }
    let n32 = u32::try_from(n).map_err(|_| BackendError::Limit {
        what: "axpy length".into(),
        needed: n as u64,
        allowed: u32::MAX.into(),
    })?;
    let groups = n32.div_ceil(pipeline.workgroup_size[0]);
    let [gx, gy, gz] =
        grid(groups, limits.max_compute_workgroups_per_dimension).ok_or_else(|| {
            BackendError::Limit {
                what: "axpy workgroups".into(),
                needed: groups.into(),
                allowed: u64::from(limits.max_compute_workgroups_per_dimension).pow(2),
            }
        })?;

    // Params { n: u32, a: f32 } as laid out in the WGSL struct.
    let params = [n32, a.to_bits()];
    let params = ctx.upload(
        "axpy params",
        bytemuck::cast_slice(&params),
        wgpu::BufferUsages::UNIFORM,
    )?;
    let xb = ctx.upload(
        "axpy x",
        bytemuck::cast_slice(x),
        wgpu::BufferUsages::STORAGE,
    )?;
    let y_usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let yb = ctx.upload("axpy y", bytemuck::cast_slice(y), y_usage)?;

    let device = &ctx.device;
    let submission = ctx.scoped("recording axpy", || {
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("axpy"),
            layout: &pipeline.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: xb.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: yb.as_entire_binding(),
                },
            ],
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(gx, gy, gz);
        }
        ctx.queue.submit([encoder.finish()])
    })?;
    ctx.wait(submission, "running axpy")?;
    ctx.read_f32(&yb, y.len())
}

#[cfg(test)]
mod tests {
    use super::grid;

    #[test]
    fn grid_covers_the_groups_within_the_limit() {
        assert_eq!(grid(1, 65535), Some([1, 1, 1]));
        assert_eq!(grid(65535, 65535), Some([65535, 1, 1]));
        assert_eq!(grid(65536, 65535), Some([32768, 2, 1]));
        for (groups, max) in [(10u32, 4u32), (9, 3), (7, 4), (100_000, 65535), (16, 4)] {
            let [x, y, z] = grid(groups, max).unwrap();
            assert!(x <= max && y <= max && z == 1, "{groups} {max}");
            assert!(x * y >= groups, "{groups} {max}: {x}x{y} too small");
            assert!(x * (y - 1) < groups, "{groups} {max}: a whole row is idle");
        }
        assert_eq!(grid(17, 4), None);
        assert_eq!(grid(10, 3), None);
    }
}
