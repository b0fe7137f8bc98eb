//! The stage list of the hierarchical families (UM-Swin, MixMIM, HiViT's MLP stages) and the
//! rules between stages: windows divide grids, merging doubles the width, heads divide widths.
//! Lists are fixed arrays so specs stay `Copy` and usable in `const`.
use super::error::{Family, Rule, ShapeError};
use super::name::{role_what, stage_name};
use super::rules::{head_dim, size, tri};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Most stages a hierarchical spec may have.
pub const MAX_STAGES: usize = 6;

/// One stage of a hierarchical encoder: width, blocks, heads and attention window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Stage {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub window: usize,
}

const EMPTY: Stage = Stage {
    dim: 0,
    depth: 0,
    heads: 0,
    window: 0,
};

/// Up to [`MAX_STAGES`] stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stages {
    /// Stages given; may exceed `MAX_STAGES`, which `validate` then reports.
    pub len: usize,
    pub items: [Stage; MAX_STAGES],
}

impl Stages {
    /// Each stage's depth (zero past the stages given), as the size tables list them.
    pub fn depths(&self) -> [usize; MAX_STAGES] {
        core::array::from_fn(|i| self.items[i].depth)
    }

    /// Each stage's head count (zero past the stages given).
    pub fn heads(&self) -> [usize; MAX_STAGES] {
        core::array::from_fn(|i| self.items[i].heads)
    }

    /// Copies `stages` (at most [`MAX_STAGES`]; the count is kept so validation can reject more).
    pub const fn new(stages: &[Stage]) -> Stages {
        let mut items = [EMPTY; MAX_STAGES];
        let mut i = 0;
        while i < stages.len() && i < MAX_STAGES {
            items[i] = stages[i];
            i += 1;
        }
        Stages {
            len: stages.len(),
            items,
        }
    }

    /// The stages given (capped at [`MAX_STAGES`]).
    pub const fn as_slice(&self) -> &[Stage] {
        self.items.split_at(capped(self.len)).0
    }

    /// The stage count, or the stage-count rule's error.
    pub const fn count(&self, family: Family, least: usize) -> Result<usize, ShapeError> {
        if self.len < least || self.len > MAX_STAGES {
            return Err(ShapeError::new(family, Rule::StageCount)
                .n(self.len)
                .s(" stages given; a spec holds ")
                .n(least)
                .s(" to ")
                .n(MAX_STAGES)
                .done());
        }
        Ok(self.len)
    }
}

/// A short list of sizes (HiViT's MLP-stage depths), fixed-size for the same reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SizeList {
    pub len: usize,
    pub items: [usize; MAX_STAGES],
}

impl SizeList {
    pub const fn new(values: &[usize]) -> SizeList {
        let mut items = [0; MAX_STAGES];
        let mut i = 0;
        while i < values.len() && i < MAX_STAGES {
            items[i] = values[i];
            i += 1;
        }
        SizeList {
            len: values.len(),
            items,
        }
    }

    pub const fn as_slice(&self) -> &[usize] {
        self.items.split_at(capped(self.len)).0
    }
}

const fn capped(len: usize) -> usize {
    if len < MAX_STAGES {
        len
    } else {
        MAX_STAGES
    }
}

/// The first `N` entries of a per-stage array, for the `STAGE_*` consts a macro emits.
pub const fn take<const N: usize>(values: &[usize; MAX_STAGES]) -> [usize; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N && i < MAX_STAGES {
        out[i] = values[i];
        i += 1;
    }
    out
}

/// The effective window of a stage, `min(window, grid)` (official Swin/MixMIM blocks clamp it),
/// or the window rule's error when it does not divide the stage's grid.
pub const fn stage_window(
    family: Family,
    stage: usize,
    window: usize,
    grid: usize,
) -> Result<usize, ShapeError> {
    let effective = if window < grid { window } else { grid };
    if !grid.is_multiple_of(effective) {
        return Err(ShapeError::new(family, Rule::WindowDividesGrid)
            .s("window ")
            .n(window)
            .s(" does not divide the ")
            .nxn(grid, grid)
            .s(" token grid of ")
            .s(stage_name(stage).as_str())
            .done());
    }
    Ok(effective)
}

/// Patch merging doubles the width: `stages[s].dim == 2 * stages[s-1].dim`.
pub const fn merge_doubles(family: Family, stages: &[Stage]) -> Result<(), ShapeError> {
    let mut s = 1;
    while s < stages.len() {
        if stages[s].dim != 2 * stages[s - 1].dim {
            return Err(ShapeError::new(family, Rule::MergeDoublesWidth)
                .s(stage_name(s).as_str())
                .s(" width ")
                .n(stages[s].dim)
                .s(" is not twice ")
                .s(stage_name(s - 1).as_str())
                .s(" width ")
                .n(stages[s - 1].dim)
                .s(", as patch merging (C -> 2C) makes it")
                .done());
        }
        s += 1;
    }
    Ok(())
}

/// Checks every stage's sizes and heads; returns the head widths.
pub const fn stage_heads(
    family: Family,
    stages: &[Stage],
) -> Result<[usize; MAX_STAGES], ShapeError> {
    let mut head_dims = [0; MAX_STAGES];
    let mut s = 0;
    while s < stages.len() {
        let name = stage_name(s);
        let st = stages[s];
        let n = name.as_str();
        tri!(size(family, role_what(n, " width").as_str(), st.dim));
        tri!(size(family, role_what(n, " depth").as_str(), st.depth));
        tri!(size(family, role_what(n, " heads").as_str(), st.heads));
        tri!(size(family, role_what(n, " window").as_str(), st.window));
        head_dims[s] = tri!(head_dim(family, n, st.dim, st.heads));
        s += 1;
    }
    Ok(head_dims)
}

#[cfg(feature = "serde")]
mod serde_impls {
    //! Lists serialize as plain sequences.
    use super::{SizeList, Stage, Stages, EMPTY, MAX_STAGES};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    impl Serialize for Stages {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.as_slice().serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for Stages {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let list = alloc::vec::Vec::<Stage>::deserialize(d)?;
            let mut items = [EMPTY; MAX_STAGES];
            for (slot, st) in items.iter_mut().zip(&list) {
                *slot = *st;
            }
            Ok(Stages {
                len: list.len(),
                items,
            })
        }
    }

    impl Serialize for SizeList {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.as_slice().serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for SizeList {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let list = alloc::vec::Vec::<usize>::deserialize(d)?;
            let mut items = [0; MAX_STAGES];
            for (slot, v) in items.iter_mut().zip(&list) {
                *slot = *v;
            }
            Ok(SizeList {
                len: list.len(),
                items,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_clamp_to_the_grid() {
        assert_eq!(stage_window(Family::MixMim, 2, 14, 7), Ok(7));
        assert_eq!(stage_window(Family::MixMim, 0, 14, 56), Ok(14));
        let e = stage_window(Family::UmSwin, 1, 7, 8).unwrap_err();
        assert!(e
            .as_str()
            .starts_with("UM-Swin: window 7 does not divide the 8x8 token grid of stage 2"));
    }
}
