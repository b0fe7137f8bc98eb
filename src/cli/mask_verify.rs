//! `tessera mask --verify FILE`: checks masks made elsewhere (a PyTorch data pipeline, the
//! official code, another run) against a strategy's invariants and the official index
//! conventions, and reports the first violations with the sample, token or window and the
//! rule. Exit 1 when any rule is broken; 2 when the file or the arguments cannot be used.
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tessera_dsl::mask::{check_rows, Layout, MaskStrategy, Rows};
use tessera_dsl::Ratio;

use super::bad_input;

/// Violations printed; the total is always given.
const SHOWN: usize = 10;

/// Mask values as the checkers read them: 0 kept, 1 removed, 2 anything else (reported).
fn mask_values(view: &TensorView, path: &Path) -> anyhow::Result<Vec<u8>> {
    let code = |v: f64| {
        if v == 0.0 {
            0u8
        } else if v == 1.0 {
            1
        } else {
            2
        }
    };
    let data = view.data();
    let values = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| code(f32::from_le_bytes(c.try_into().unwrap()).into()))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| code(f64::from_le_bytes(c.try_into().unwrap())))
            .collect(),
        Dtype::BOOL | Dtype::U8 => data.iter().map(|&v| v.min(2)).collect(),
        Dtype::I64 => data
            .chunks_exact(8)
            .map(|c| code(i64::from_le_bytes(c.try_into().unwrap()) as f64))
            .collect(),
        Dtype::I32 => data
            .chunks_exact(4)
            .map(|c| code(i32::from_le_bytes(c.try_into().unwrap()).into()))
            .collect(),
        other => {
            return Err(bad_input(format!(
                "{}: tensor `mask` has dtype {other:?}; expected F32, F64, BOOL, U8, I32 or I64 \
                 holding 0 (kept) and 1 (removed)",
                path.display()
            )))
        }
    };
    Ok(values)
}

/// An index tensor as i64.
fn indices(view: &TensorView, name: &str, path: &Path) -> anyhow::Result<Vec<i64>> {
    let data = view.data();
    match view.dtype() {
        Dtype::I64 => Ok(data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect()),
        Dtype::I32 => Ok(data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()).into())
            .collect()),
        other => Err(bad_input(format!(
            "{}: tensor `{name}` has dtype {other:?}; expected I64 or I32",
            path.display()
        ))),
    }
}

/// The batch size of a tensor whose rows hold `per_row` values, or why its shape is wrong.
fn rows_of(
    view: &TensorView,
    name: &str,
    per_row: Option<usize>,
    path: &Path,
    expected: &str,
) -> anyhow::Result<usize> {
    let shape = view.shape();
    let row: usize = shape.iter().skip(1).product();
    let fits = shape.len() >= 2 && per_row.is_none_or(|l| row == l);
    if !fits {
        return Err(bad_input(format!(
            "{}: tensor `{name}` has shape {shape:?}; expected {expected}",
            path.display()
        )));
    }
    Ok(shape[0])
}

/// Checks the masks in `path` (tensor `mask`, and `ids_keep` / `ids_restore` when present)
/// over `layout` at `ratio` against `strategy`'s invariants.
pub fn run(
    path: &Path,
    strategy: &dyn MaskStrategy,
    layout: Layout,
    ratio: Ratio,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        bad_input(format!(
            "{} is not a valid safetensors file: {e}",
            path.display()
        ))
    })?;
    let len = layout
        .tokens()
        .map_err(|e| bad_input(format!("--strategy {}: {e}", strategy.name())))?;
    let mask_view = st.tensor("mask").map_err(|_| {
        bad_input(format!(
            "{}: there is no tensor `mask` (0 = kept, 1 = removed, one row per sample)",
            path.display()
        ))
    })?;
    let expected = format!("[N, {len}] (one value per token of {layout}, frames flattened)");
    let n = rows_of(&mask_view, "mask", Some(len), path, &expected)?;
    let mask = mask_values(&mask_view, path)?;
    let mut present = Vec::new();
    let ids_restore = match st.tensor("ids_restore") {
        Ok(v) => {
            let shape = format!("[{n}, {len}]");
            if rows_of(&v, "ids_restore", Some(len), path, &shape)? != n {
                return Err(bad_input(format!(
                    "{}: `ids_restore` has {:?} rows where `mask` has {n}",
                    path.display(),
                    v.shape()[0]
                )));
            }
            present.push("ids_restore");
            Some(indices(&v, "ids_restore", path)?)
        }
        Err(_) => None,
    };
    let ids_keep = match st.tensor("ids_keep") {
        Ok(v) => {
            if rows_of(&v, "ids_keep", None, path, &format!("[{n}, K]"))? != n {
                return Err(bad_input(format!(
                    "{}: `ids_keep` has {} rows where `mask` has {n}",
                    path.display(),
                    v.shape()[0]
                )));
            }
            present.push("ids_keep");
            Some(indices(&v, "ids_keep", path)?)
        }
        Err(_) => None,
    };
    let invariants = strategy.invariants();
    let rows = Rows {
        batch: n,
        mask: &mask,
        ids_keep: ids_keep.as_deref(),
        ids_restore: ids_restore.as_deref(),
    };
    let report = check_rows(&invariants, &layout, ratio, &rows)
        .map_err(|e| bad_input(format!("--strategy {}: {e}", strategy.name())))?;
    let promises: Vec<String> = invariants.iter().map(ToString::to_string).collect();
    println!(
        "{}: {n} mask(s) over {layout} checked against {} at ratio {ratio} ({}); index tensors: {}",
        path.display(),
        strategy.name(),
        promises.join("; "),
        if present.is_empty() {
            "none".to_string()
        } else {
            present.join(", ")
        }
    );
    for inv in report.unchecked() {
        println!("not checked (no index tensors in the file): {inv}");
    }
    if report.is_clean() {
        println!("no violation");
        return Ok(());
    }
    for v in report.violations().iter().take(SHOWN) {
        println!("{v}");
    }
    if report.total() > SHOWN {
        println!("... and {} more", report.total() - SHOWN);
    }
    anyhow::bail!(
        "{} violation{} of `{}` in {}",
        report.total(),
        if report.total() == 1 { "" } else { "s" },
        strategy.name(),
        path.display()
    )
}
