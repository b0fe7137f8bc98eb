//! Adapter enumeration, the facts we report about each adapter, and adapter choice.

use super::BackendError;

/// The optional features tessera's kernels can use when an adapter offers them.
pub const WANTED_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);

/// The limits that decide how kernels are tiled and how large a model fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLimits {
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_storage_buffers_per_shader_stage: u32,
}

impl From<&wgpu::Limits> for KeyLimits {
    fn from(l: &wgpu::Limits) -> Self {
        KeyLimits {
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_size_x: l.max_compute_workgroup_size_x,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        }
    }
}

/// What `tessera devices` shows about one adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterReport {
    pub name: String,
    pub backend: wgpu::Backend,
    pub device_type: wgpu::DeviceType,
    pub driver: String,
    pub driver_info: String,
    /// Whether the adapter runs compute shaders at all (some GL adapters do not).
    pub compute: bool,
    /// `SHADER_F16`: WGSL `enable f16;`.
    pub f16: bool,
    /// `SUBGROUP`, with the adapter's (min, max) subgroup size.
    pub subgroups: Option<(u32, u32)>,
    /// `TIMESTAMP_QUERY`.
    pub timestamp_query: bool,
    /// `TIMESTAMP_QUERY_INSIDE_PASSES`: per-kernel timings inside one compute pass.
    pub timestamp_query_inside_passes: bool,
    pub limits: KeyLimits,
}

impl AdapterReport {
    pub fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let features = adapter.features();
        let compute = adapter
            .get_downlevel_capabilities()
            .flags
            .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS);
        AdapterReport {
            subgroups: features
                .contains(wgpu::Features::SUBGROUP)
                .then_some((info.subgroup_min_size, info.subgroup_max_size)),
            name: info.name,
            backend: info.backend,
            device_type: info.device_type,
            driver: info.driver,
            driver_info: info.driver_info,
            compute,
            f16: features.contains(wgpu::Features::SHADER_F16),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            timestamp_query_inside_passes: features
                .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES),
            limits: KeyLimits::from(&adapter.limits()),
        }
    }

    /// Whether this is a software rasterizer (lavapipe, llvmpipe, WARP) rather than a GPU.
    pub fn is_software(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }

    /// `discrete GPU`, `CPU (software)`, ...
    pub fn device_type_name(&self) -> &'static str {
        match self.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete GPU",
            wgpu::DeviceType::IntegratedGpu => "integrated GPU",
            wgpu::DeviceType::VirtualGpu => "virtual GPU",
            wgpu::DeviceType::Cpu => "CPU (software)",
            wgpu::DeviceType::Other => "other",
        }
    }

    /// Sort key for [`choose`]: real GPUs before software ones, then the native APIs before GL.
    fn rank(&self) -> (u8, u8) {
        let device = match self.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let backend = match self.backend {
            wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
            _ => 1,
        };
        (device, backend)
    }
}

/// The backends tessera looks at: Vulkan, Metal and DX12 (the APIs the kernels are written
/// for), or `WGPU_BACKEND` (a comma list such as `vulkan,gl`) when set. GL is opt-in: its
/// compute support is partial (no timestamps inside passes, lower storage limits).
pub fn backends() -> wgpu::Backends {
    // Only those compiled in, so that messages do not claim that Metal was tried on Linux.
    wgpu::Backends::PRIMARY.with_env() & wgpu::Instance::enabled_backend_features()
}

/// `vulkan, metal, dx12, browser_webgpu` for messages.
pub fn backend_names(backends: wgpu::Backends) -> String {
    let names: Vec<String> = backends
        .iter_names()
        .map(|(n, _)| n.to_lowercase())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// A wgpu instance over [`backends`]. Other `WGPU_*` variables (validation flags, ...) apply.
pub fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    desc.backends = backends();
    wgpu::Instance::new(desc)
}

/// Every adapter the instance can see, in the order the drivers list them.
pub fn enumerate(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(backends()))
}

/// Reports on every adapter visible to a fresh instance, in [`choose`]'s order of preference.
pub fn adapter_reports() -> Vec<AdapterReport> {
    let mut reports: Vec<AdapterReport> = enumerate(&instance())
        .iter()
        .map(AdapterReport::of)
        .collect();
    // Stable sort: equally ranked adapters keep the driver's order.
    reports.sort_by_key(|r| (!r.compute, r.rank()));
    reports
}

/// Picks an adapter that runs compute shaders: a real GPU before a software one, Vulkan,
/// Metal or DX12 before GL. With `name`, only adapters whose name contains it
/// (case-insensitive) are considered.
pub fn choose(
    adapters: Vec<wgpu::Adapter>,
    name: Option<&str>,
) -> Result<wgpu::Adapter, BackendError> {
    let mut candidates: Vec<(AdapterReport, wgpu::Adapter)> = adapters
        .into_iter()
        .map(|a| (AdapterReport::of(&a), a))
        .collect();
    let available: Vec<String> = candidates
        .iter()
        .map(|(r, _)| format!("{} ({})", r.name, r.backend))
        .collect();
    let wanted = name.map(str::to_lowercase);
    candidates.retain(|(r, _)| {
        r.compute
            && wanted
                .as_ref()
                .is_none_or(|w| r.name.to_lowercase().contains(w))
    });
    candidates.sort_by_key(|(r, _)| r.rank());
    match (candidates.into_iter().next(), name) {
        (Some((_, adapter)), _) => Ok(adapter),
        // Adapters without compute shaders are as good as none.
        (None, None) => Err(BackendError::NoAdapter {
            backends: backend_names(backends()),
        }),
        (None, Some(wanted)) => Err(BackendError::NoMatchingAdapter {
            wanted: wanted.to_string(),
            available,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, device_type: wgpu::DeviceType, backend: wgpu::Backend) -> AdapterReport {
        AdapterReport {
            name: name.into(),
            backend,
            device_type,
            driver: String::new(),
            driver_info: String::new(),
            compute: true,
            f16: false,
            subgroups: None,
            timestamp_query: false,
            timestamp_query_inside_passes: false,
            limits: KeyLimits::from(&wgpu::Limits::default()),
        }
    }

    #[test]
    fn real_gpus_rank_before_software_and_native_apis_before_gl() {
        use wgpu::{Backend as B, DeviceType as T};
        let mut reports = [
            report("lavapipe", T::Cpu, B::Vulkan),
            report("llvmpipe gl", T::Cpu, B::Gl),
            report("igpu", T::IntegratedGpu, B::Vulkan),
            report("dgpu gl", T::DiscreteGpu, B::Gl),
            report("dgpu", T::DiscreteGpu, B::Vulkan),
        ];
        reports.sort_by_key(AdapterReport::rank);
        let order: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            order,
            ["dgpu", "dgpu gl", "igpu", "lavapipe", "llvmpipe gl"]
        );
        assert!(reports[3].is_software() && !reports[2].is_software());
    }

    #[test]
    fn key_limits_copy_the_wgpu_limits() {
        let l = KeyLimits::from(&wgpu::Limits::default());
        assert_eq!(l.max_storage_buffer_binding_size, 128 << 20);
        assert_eq!(l.max_compute_workgroup_storage_size, 16 << 10);
        assert_eq!(l.max_compute_invocations_per_workgroup, 256);
        assert_eq!(l.max_compute_workgroups_per_dimension, 65535);
    }
}
