//! Disjoint borrows of one arena for one kernel launch: the outputs as `&mut` slices and the
//! inputs as shared slices, without copying or allocating. The buffer plan guarantees that a
//! step's outputs overlap neither each other nor its inputs; this checks it.
use core::ops::Range;

use super::KernelError;

/// Most inputs / outputs of one step.
pub const MAX_IN: usize = 8;
pub const MAX_OUT: usize = 4;

/// The shared input slices and the exclusive output slices of one step.
pub type Borrowed<'a, E> = ([&'a [E]; MAX_IN], [&'a mut [E]; MAX_OUT]);

/// Splits `arena` into `writes` (mutable, in the given order) and `reads` (shared).
pub fn split<'a, E>(
    arena: &'a mut [E],
    writes: &[Range<usize>],
    reads: &[Range<usize>],
) -> Result<Borrowed<'a, E>, KernelError> {
    if writes.len() > MAX_OUT || reads.len() > MAX_IN {
        return Err(KernelError::Plan("too many operands for one step".into()));
    }
    let mut order = [0usize; MAX_OUT];
    for (i, o) in order.iter_mut().enumerate().take(writes.len()) {
        *o = i;
    }
    let order = &mut order[..writes.len()];
    order.sort_unstable_by_key(|&i| writes[i].start);
    let mut outs: [&'a mut [E]; MAX_OUT] = [&mut [], &mut [], &mut [], &mut []];
    let mut gaps: [(usize, &'a [E]); MAX_OUT + 1] = [(0, &[]); MAX_OUT + 1];
    let mut rest: &'a mut [E] = arena;
    let mut base = 0;
    for (k, &i) in order.iter().enumerate() {
        let w = &writes[i];
        if w.start < base || w.end > base + rest.len() {
            return Err(KernelError::Plan(
                "overlapping or out-of-range outputs".into(),
            ));
        }
        let (gap, tail) = rest.split_at_mut(w.start - base);
        let (out, tail) = tail.split_at_mut(w.end - w.start);
        gaps[k] = (base, gap);
        outs[i] = out;
        rest = tail;
        base = w.end;
    }
    gaps[order.len()] = (base, rest);
    let gaps = &gaps[..=order.len()];
    let mut ins: [&'a [E]; MAX_IN] = [&[]; MAX_IN];
    for (j, r) in reads.iter().enumerate() {
        if r.is_empty() {
            continue;
        }
        let found = gaps
            .iter()
            .find(|(b, g)| *b <= r.start && r.end <= b + g.len())
            .ok_or_else(|| {
                KernelError::Plan("an input overlaps an output of the same step".into())
            })?;
        ins[j] = &found.1[r.start - found.0..r.end - found.0];
    }
    Ok((ins, outs))
}

#[cfg(test)]
mod tests {
    use super::*;

    use alloc::vec::Vec;

    #[test]
    fn splits_disjoint_and_rejects_overlap() {
        let mut a: Vec<i32> = (0..20).collect();
        let (ins, outs) = split(&mut a, &[12..15, 2..4], &[0..2, 5..12, 15..20]).unwrap();
        assert_eq!(ins[0], &[0, 1]);
        assert_eq!(ins[1], &[5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(ins[2], &[15, 16, 17, 18, 19]);
        assert_eq!(outs[0], &mut [12, 13, 14]);
        assert_eq!(outs[1], &mut [2, 3]);
        // An input overlapping an output.
        let w = core::iter::once(2..6).collect::<Vec<_>>();
        let r = core::iter::once(5..8).collect::<Vec<_>>();
        assert!(split(&mut a, &w, &r).is_err());
        assert!(split(&mut a, &[2..6, 4..8], &[]).is_err());
    }
}
