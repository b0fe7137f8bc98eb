//! A device ready for work: instance, adapter, device and queue, with wgpu's errors and device
//! loss captured so that they come back as [`BackendError`]s instead of panics or hangs.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use super::adapter::{self, AdapterReport, WANTED_FEATURES};
use super::BackendError;

/// How long to wait for submitted work before calling it a hang. Generous because lavapipe
/// runs kernels on two CPU cores.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors wgpu reported outside an error scope, and the device-lost notice, recorded by the
/// callbacks for the next [`GpuContext::check`].
#[derive(Default)]
struct Sink {
    errors: Mutex<Vec<String>>,
    lost: Mutex<Option<(wgpu::DeviceLostReason, String)>>,
}

/// Which adapter to open.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Only adapters whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
    /// Wait limit for submitted work; [`DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
}

pub struct GpuContext {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub report: AdapterReport,
    pub timeout: Duration,
    sink: Arc<Sink>,
}

impl GpuContext {
    /// Opens the adapter [`adapter::choose`] picks, with the adapter's own limits (not wgpu's
    /// conservative defaults) and the [`WANTED_FEATURES`] it offers.
    pub fn new(options: &GpuOptions) -> Result<Self, BackendError> {
        let instance = adapter::instance();
        let adapter = adapter::choose(
            adapter::enumerate(&instance),
            options.adapter_name.as_deref(),
        )?;
        let report = AdapterReport::of(&adapter);
        let desc = wgpu::DeviceDescriptor {
            label: Some("tessera"),
            required_features: adapter.features() & WANTED_FEATURES,
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&desc)).map_err(|source| {
                BackendError::RequestDevice {
                    adapter: report.name.clone(),
                    source,
                }
            })?;

        let sink = Arc::new(Sink::default());
        let errors = Arc::clone(&sink);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            errors
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e.to_string());
        }));
        let lost = Arc::clone(&sink);
        device.set_device_lost_callback(move |reason, message| {
            *lost.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some((reason, message));
        });

        Ok(GpuContext {
            instance,
            adapter,
            device,
            queue,
            report,
            timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
            sink,
        })
    }

    /// Returns the device loss or the uncaptured wgpu errors recorded since the last check
    /// (clearing them), naming `during` as what was being done.
    pub fn check(&self, during: &str) -> Result<(), BackendError> {
        // wgpu runs the device-lost callback from its maintenance pass, not at the moment of
        // loss, and a lost device reports no validation errors (as WebGPU specifies): without
        // this non-blocking poll a lost device would go unnoticed until the next wait.
        let _ = self.device.poll(wgpu::PollType::Poll);
        if let Some((reason, message)) = self
            .sink
            .lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            let message = if message.is_empty() {
                "the driver gave no details".into()
            } else {
                message
            };
            return Err(BackendError::DeviceLost {
                reason: format!("{reason:?}"),
                message,
            });
        }
        let mut errors = self.sink.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.is_empty() {
            return Ok(());
        }
        let message = errors.join("\n");
        errors.clear();
        Err(BackendError::Wgpu {
            during: during.to_string(),
            message,
        })
    }

    /// Runs `f` inside validation and out-of-memory error scopes: a resource or pipeline that
    /// wgpu rejects becomes an error here, at the call that caused it.
    pub fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T, BackendError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        // A lost device makes some wgpu calls panic instead of reporting; stop before them.
        self.check(during)?;
        let value = f();
        // Scopes pop in reverse order of their pushes.
        let errors = [validation.pop(), oom.pop()].map(pollster::block_on);
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(BackendError::Wgpu {
                during: during.to_string(),
                message: e.to_string(),
            });
        }
        self.check(during)?;
        Ok(value)
    }

    /// A new buffer holding `contents` (a multiple of 4 bytes), usable as `usage`.
    pub fn upload(
        &self,
        label: &str,
        contents: &[u8],
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer, BackendError> {
        // create_buffer + write_buffer rather than wgpu's create_buffer_init, which panics
        // when the device is lost.
        self.scoped(&format!("uploading `{label}`"), || {
            let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: contents.len() as u64,
                usage: usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.queue.write_buffer(&buffer, 0, contents);
            buffer
        })
    }

    /// Blocks until `submission` has finished, or fails after the context's timeout.
    pub fn wait(
        &self,
        submission: wgpu::SubmissionIndex,
        during: &str,
    ) -> Result<(), BackendError> {
        let poll = self.device.poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: Some(self.timeout),
        });
        self.check(during)?;
        match poll {
            Ok(_) => Ok(()),
            Err(wgpu::PollError::Timeout) => {
                Err(BackendError::Timeout(self.timeout, during.into()))
            }
            Err(e) => Err(BackendError::Wgpu {
                during: during.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Copies the first `len` f32s of `buffer` (which needs `COPY_SRC`) back to the host.
    pub fn read_f32(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, BackendError> {
        let bytes = (len * size_of::<f32>()) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.scoped("creating a readback buffer", || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tessera readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        let submission = self.queue.submit([encoder.finish()]);

        let (sender, receiver) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            // The receiver only disappears if this function already returned an error.
            let _ = sender.send(result);
        });
        self.wait(submission, "reading a buffer back")?;
        // `wait` returns after the map callback ran; a missing result means it never will.
        let mapped = receiver.recv_timeout(self.timeout).map_err(|_| {
            BackendError::Timeout(self.timeout, "mapping a buffer for reading".into())
        })?;
        mapped?;
        // Copies through an aligned Vec: the mapping's alignment is the driver's business.
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| BackendError::Wgpu {
                during: "mapping a buffer for reading".into(),
                message: e.to_string(),
            })?;
        let data: Vec<f32> = bytemuck::pod_collect_to_vec(&view);
        drop(view);
        staging.unmap();
        Ok(data)
    }
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.report.name)
            .finish_non_exhaustive()
    }
}
