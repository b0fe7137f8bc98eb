//! The device arena: one buffer holding every tensor of a plan, laid out from the plan's slots
//! with each tensor's offset aligned for storage bindings.
//!
//! The plan places tensors at element offsets (aligned to 64 bytes); storage bindings need
//! `min_storage_buffer_offset_alignment` (256 bytes on most devices). The re-layout keeps the
//! plan's sharing exactly: the distinct slot boundaries of a space are sorted and each gap
//! between neighbours is rounded up to the alignment. The map is monotone, so slots the plan
//! keeps apart stay apart, slots it overlaps (transients with disjoint lifetimes, views) still
//! overlap, and every slot starts aligned with room for all its elements.
use std::sync::mpsc;

use tessera_dsl::graph::{BufSlot, Plan, Space};

use super::launch::View;
use super::{BackendError, GpuContext};

/// Element offsets of one arena space mapped to aligned byte offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceMap {
    /// Sorted distinct slot boundaries (element offsets).
    points: Vec<usize>,
    /// Byte offset of each point.
    bytes: Vec<u64>,
}

impl SpaceMap {
    /// The map of a space whose slots are `(offset, len)` in elements of 4 bytes.
    pub fn new(slots: impl IntoIterator<Item = (usize, usize)>, align: u64) -> Self {
        let mut points = vec![0];
        for (off, len) in slots {
            points.push(off);
            points.push(off + len);
        }
        points.sort_unstable();
        points.dedup();
        let mut bytes = Vec::with_capacity(points.len());
        let mut at = 0u64;
        for (i, &p) in points.iter().enumerate() {
            if i > 0 {
                at += ((p - points[i - 1]) as u64 * 4).next_multiple_of(align);
            }
            bytes.push(at);
        }
        SpaceMap { points, bytes }
    }

    /// Byte offset of element offset `elem`, which must be a slot boundary.
    pub fn byte_offset(&self, elem: usize) -> u64 {
        let i = self
            .points
            .binary_search(&elem)
            .expect("offsets come from the slots the map was built from");
        self.bytes[i]
    }

    /// Bytes the space occupies.
    pub fn total(&self) -> u64 {
        *self.bytes.last().unwrap_or(&0)
    }
}

/// Where everything of a plan lives in the device buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArenaLayout {
    pub data: SpaceMap,
    pub index: SpaceMap,
    /// Byte offset of the index space (after the data space).
    pub index_base: u64,
    /// Byte offset of the scratch area (after the index space): intermediate values of
    /// kernels, shared by every step (steps run one after another).
    pub scratch_base: u64,
    pub scratch_bytes: u64,
    pub align: u64,
    /// Bytes of the buffer.
    pub size: u64,
}

impl ArenaLayout {
    /// The layout of `plan` with `align`-byte aligned tensors and a scratch area for the
    /// largest set of scratch views any step asks for (`scratch`: element counts per step).
    pub fn of<'a>(plan: &Plan, align: u64, scratch: impl Iterator<Item = &'a [usize]>) -> Self {
        let slots = |space: Space| {
            plan.slots
                .iter()
                .flatten()
                .filter(move |s| s.space == space)
                .map(|s| (s.offset, s.len))
        };
        let data = SpaceMap::new(slots(Space::Data), align);
        let index = SpaceMap::new(slots(Space::Index), align);
        let index_base = data.total().next_multiple_of(align);
        let scratch_base = (index_base + index.total()).next_multiple_of(align);
        let scratch_bytes = scratch
            .map(|views| scratch_offsets(views, align).1)
            .max()
            .unwrap_or(0);
        // At least one aligned block, so that empty tensors (bound as one element) fit.
        let size = (scratch_base + scratch_bytes).max(align);
        ArenaLayout {
            data,
            index,
            index_base,
            scratch_base,
            scratch_bytes,
            align,
            size,
        }
    }

    /// Byte offset of a slot of the plan (or of a zero-length placeholder slot).
    pub fn offset(&self, slot: BufSlot) -> u64 {
        match slot.space {
            Space::Data => self.data.byte_offset(slot.offset),
            Space::Index => self.index_base + self.index.byte_offset(slot.offset),
        }
    }
}

/// Offsets (relative to the scratch area) of views of `lens` elements placed one after another
/// at aligned offsets, and the bytes they take.
fn scratch_offsets(lens: &[usize], align: u64) -> (Vec<u64>, u64) {
    let mut at = 0;
    let offsets = lens
        .iter()
        .map(|&n| {
            let o = at;
            at += (n.max(1) as u64 * 4).next_multiple_of(align);
            o
        })
        .collect();
    (offsets, at)
}

/// A plan's arena on the device.
#[derive(Debug)]
pub struct Arena {
    pub buffer: wgpu::Buffer,
    pub layout: ArenaLayout,
}

impl Arena {
    /// Allocates the (zero-filled) buffer of `plan`; `label` names the plan in errors;
    /// `scratch` lists the scratch views (element counts) of each step.
    pub fn new<'a>(
        ctx: &GpuContext,
        plan: &Plan,
        label: &str,
        scratch: impl Iterator<Item = &'a [usize]>,
    ) -> Result<Self, BackendError> {
        let limits = ctx.device.limits();
        let align = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
        let layout = ArenaLayout::of(plan, align, scratch);
        if layout.size > limits.max_buffer_size {
            return Err(BackendError::Limit {
                what: format!(
                    "the arena of {label} ({} f32 + {} u32 elements planned, aligned to \
                     {align} bytes) on {}",
                    plan.data_len, plan.index_len, ctx.report.name
                ),
                needed: layout.size,
                allowed: limits.max_buffer_size,
            });
        }
        let buffer = ctx.scoped(&format!("allocating the arena of {label}"), || {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: layout.size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        Ok(Arena { buffer, layout })
    }

    /// The binding view of a slot.
    pub fn view(&self, slot: BufSlot) -> View<'_> {
        View {
            buffer: &self.buffer,
            offset: self.layout.offset(slot),
            len: slot.len,
        }
    }

    /// One step's scratch views of `lens` elements (as planned when the arena was made).
    pub fn scratch(&self, lens: &[usize]) -> Vec<View<'_>> {
        let (offsets, bytes) = scratch_offsets(lens, self.layout.align);
        assert!(
            bytes <= self.layout.scratch_bytes,
            "scratch {lens:?} was not planned"
        );
        offsets
            .into_iter()
            .zip(lens)
            .map(|(o, &len)| View {
                buffer: &self.buffer,
                offset: self.layout.scratch_base + o,
                len,
            })
            .collect()
    }

    /// Queues `bytes` (a multiple of 4) for the slot; they land before the next submission.
    pub fn write(&self, ctx: &GpuContext, slot: BufSlot, bytes: &[u8]) {
        if !bytes.is_empty() {
            ctx.queue
                .write_buffer(&self.buffer, self.layout.offset(slot), bytes);
        }
    }

    /// The 32-bit words of every slot in `slots`, with one copy submission and one mapping.
    pub fn read(&self, ctx: &GpuContext, slots: &[BufSlot]) -> Result<Vec<Vec<u32>>, BackendError> {
        let total: u64 = slots.iter().map(|s| s.len as u64 * 4).sum();
        if total == 0 {
            return Ok(slots.iter().map(|_| Vec::new()).collect());
        }
        let staging = ctx.scoped("creating a readback buffer", || {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tessera arena readback"),
                size: total,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        let submission = ctx.scoped("copying tensors for reading", || {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            let mut at = 0;
            for s in slots.iter().filter(|s| s.len > 0) {
                let bytes = s.len as u64 * 4;
                encoder.copy_buffer_to_buffer(
                    &self.buffer,
                    self.layout.offset(*s),
                    &staging,
                    at,
                    bytes,
                );
                at += bytes;
            }
            ctx.queue.submit([encoder.finish()])
        })?;
        let (sender, receiver) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = sender.send(r);
        });
        ctx.wait(submission, "reading tensors back")?;
        receiver.recv_timeout(ctx.timeout).map_err(|_| {
            BackendError::Timeout(ctx.timeout, "mapping tensors for reading".into())
        })??;
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| BackendError::Wgpu {
                during: "mapping tensors for reading".into(),
                message: e.to_string(),
            })?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&view);
        drop(view);
        staging.unmap();
        let mut out = Vec::with_capacity(slots.len());
        let mut at = 0;
        for s in slots {
            out.push(words[at..at + s.len].to_vec());
            at += s.len;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: (u64, u64), b: (u64, u64)) -> bool {
        a.1 > 0 && b.1 > 0 && a.0 < b.0 + b.1 && b.0 < a.0 + a.1
    }

    #[test]
    fn relayout_keeps_disjoint_slots_apart_and_aligns() {
        // Transients sharing memory in odd places, a view of a slot, empty slots.
        let slots = [
            (0, 5),
            (16, 3),
            (16, 3),
            (16, 40),
            (32, 7),
            (64, 1),
            (48, 0),
            (0, 1),
        ];
        let m = SpaceMap::new(slots, 256);
        let elems = |s: (usize, usize)| (s.0 as u64, s.1 as u64);
        let bytes = |s: (usize, usize)| (m.byte_offset(s.0), s.1 as u64 * 4);
        for (i, &a) in slots.iter().enumerate() {
            assert_eq!(bytes(a).0 % 256, 0, "slot {a:?} at {}", bytes(a).0);
            // Room for every element up to the slot's end.
            assert!(m.byte_offset(a.0 + a.1) - bytes(a).0 >= a.1 as u64 * 4);
            for &b in &slots[..i] {
                if !overlap(elems(a), elems(b)) {
                    assert!(!overlap(bytes(a), bytes(b)), "{a:?} and {b:?} collide");
                }
                if a.0 == b.0 {
                    assert_eq!(bytes(a).0, bytes(b).0);
                }
            }
        }
        assert!(m.total() >= 65 * 4);
    }
}
