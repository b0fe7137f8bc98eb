//! Liveness-based buffer plan: every transient tensor gets an offset in one arena so that no
//! two tensors live at the same step overlap (greedy by size, best fit; cf. meganeura's
//! `memplan.rs` and TFLite's "greedy by size").
use alloc::vec::Vec;

/// A transient buffer: `size` elements, live from step `first` to step `last` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub size: usize,
    pub first: usize,
    pub last: usize,
}

impl Interval {
    fn overlaps_in_time(&self, o: &Interval) -> bool {
        self.first <= o.last && o.first <= self.last
    }
}

/// Rounds `x` up to a multiple of `align`.
pub fn align_up(x: usize, align: usize) -> usize {
    x.div_ceil(align) * align
}

/// Offsets (relative to the transient region) for `bufs` and the region's total size.
/// Largest buffers are placed first; each goes into the smallest gap between the buffers
/// already placed that are live at the same time, or after them all.
pub fn assign(bufs: &[Interval], align: usize) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..bufs.len()).collect();
    order.sort_by(|&a, &b| {
        bufs[b]
            .size
            .cmp(&bufs[a].size)
            .then(bufs[a].first.cmp(&bufs[b].first))
    });
    let mut offsets = alloc::vec![usize::MAX; bufs.len()];
    let mut placed: Vec<usize> = Vec::with_capacity(bufs.len());
    let mut total = 0;
    let mut busy: Vec<(usize, usize)> = Vec::new();
    for &i in &order {
        let b = bufs[i];
        let size = align_up(b.size.max(1), align);
        busy.clear();
        busy.extend(
            placed
                .iter()
                .filter(|&&j| bufs[j].overlaps_in_time(&b))
                .map(|&j| {
                    (
                        offsets[j],
                        offsets[j] + align_up(bufs[j].size.max(1), align),
                    )
                }),
        );
        busy.sort_unstable();
        let mut best: Option<(usize, usize)> = None; // (gap size, offset)
        let mut cursor = 0;
        for &(start, end) in busy.iter() {
            if start >= cursor + size {
                let gap = start - cursor;
                if best.is_none_or(|(g, _)| gap < g) {
                    best = Some((gap, cursor));
                }
            }
            cursor = cursor.max(end);
        }
        let off = best.map_or(cursor, |(_, o)| o);
        offsets[i] = off;
        total = total.max(off + size);
        placed.push(i);
    }
    (offsets, total)
}
