//! UM-MAE Swin's per-step inputs, from masks drawn for training or from an evaluation batch in
//! the official format (`imgs`, `mask` as the official uniform-sampling generator makes it,
//! and `secondary_noise`, what the model's one `torch.rand(N, L)` draws).
use tessera_dsl::mask::stable_argsort;
use tessera_dsl::spec::{UmSwinDims, UmSwinSpec};

use super::graph::{inputs, Stages};
use super::layout::{merge_positions, window_coords, Cells, Layout};
use crate::model::{InputValues, ModelError, StepInputs, StepShape};

/// The cells secondary masking replaces, as official: sort `mask + noise` ascending (masked
/// cells sort after every visible one) and keep the first `vis_final`; the other visible cells
/// are replaced.
pub fn secondary_replaced(
    mask: &[f32],
    noise: &[f32],
    vis_final: usize,
) -> Result<Vec<bool>, ModelError> {
    // The official code adds the f32 mask to the f32 noise.
    let key: Vec<f32> = mask.iter().zip(noise).map(|(&m, &r)| m + r).collect();
    let order = stable_argsort(&key)?;
    let mut replaced = vec![false; mask.len()];
    for &c in &order[vis_final..] {
        replaced[c] = mask[c] < 0.5;
    }
    Ok(replaced)
}

/// The inputs of one step: `imgs` `[N, C, H, W]` and, per sample, the mask over the `M x M`
/// cells (1 = masked) and the replaced cells.
pub fn inputs(
    spec: &UmSwinSpec,
    d: &UmSwinDims,
    images: Vec<f32>,
    masks: &[Vec<f32>],
    replaced: Vec<Vec<bool>>,
) -> Result<StepInputs, ModelError> {
    let cells = Cells {
        grid: d.mask_grid,
        k: spec.mask_cell / spec.patch,
    };
    let geometry = Stages::pretraining(d);
    let n = masks.len();
    let (mut compact, mut repl, mut rows, mut dec, mut loss) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut coords: Vec<[Vec<f32>; 2]> = vec![[Vec::new(), Vec::new()]; d.num_stages];
    for (i, (mask, replaced)) in masks.iter().zip(replaced).enumerate() {
        let layout = Layout::new(cells, mask, replaced).ok_or_else(|| {
            ModelError::Batch(format!(
                "the mask of sample {i} does not keep exactly one visible cell in every 2x2 \
                 block, which UM-MAE's compaction needs"
            ))
        })?;
        compact.extend(layout.compact_index());
        repl.extend(layout.compact_replaced());
        rows.extend(layout.rows());
        dec.extend(layout.decoder_positions(spec.decoder_positions));
        loss.extend((0..d.mask_cells).map(|r| f32::from(u8::from(r >= d.visible_cells))));
        let mut pos = layout.compact_positions();
        for (st, pair) in coords.iter_mut().enumerate() {
            if st > 0 {
                pos = merge_positions(&pos, geometry.grids[st - 1]);
            }
            let (grid, w, shift) = (
                geometry.grids[st],
                geometry.windows[st],
                geometry.shifts[st],
            );
            pair[0].extend(window_coords(&pos, grid, w, 0));
            if shift > 0 {
                pair[1].extend(window_coords(&pos, grid, w, shift));
            }
        }
    }
    let mut tensors = vec![
        (inputs::IMGS.to_string(), InputValues::F32(images)),
        (inputs::COMPACT.into(), InputValues::U32(compact)),
        (inputs::ROWS.into(), InputValues::U32(rows)),
        (inputs::DECODER_POSITIONS.into(), InputValues::U32(dec)),
        (inputs::LOSS_ROWS.into(), InputValues::F32(loss)),
    ];
    if d.secondary_masked > 0 {
        tensors.push((inputs::REPLACED.into(), InputValues::F32(repl)));
    }
    for (st, pair) in coords.into_iter().enumerate() {
        for (shifted, values) in pair.into_iter().enumerate() {
            if !values.is_empty() {
                tensors.push((inputs::coords(st, shifted == 1), InputValues::F32(values)));
            }
        }
    }
    Ok(StepInputs {
        shape: StepShape::new(n, d.compact_grid * d.compact_grid),
        tensors,
        mask: masks.concat(),
    })
}
