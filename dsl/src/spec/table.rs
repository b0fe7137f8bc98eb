//! The derived-size tables that `tessera check` prints (`Display` of each family's dims).
use super::vit::VitDims;
use core::fmt::{self, Display, Formatter};

/// Writes one `name  value` line with the name padded to a fixed column.
pub fn row(f: &mut Formatter<'_>, name: &str, value: impl Display) -> fmt::Result {
    writeln!(f, "{name:<22}{value}")
}

/// The `image` row: a square image's side and channels, `224x224x3`.
pub fn image_row(f: &mut Formatter<'_>, side: usize, channels: usize) -> fmt::Result {
    row(f, "image", format_args!("{side}x{side}x{channels}"))
}

/// The `decoder` rows: its width, depth, heads and MLP (see [`VitDims`]'s display), and the
/// length of the sequence it runs on.
pub fn decoder_rows(f: &mut Formatter<'_>, decoder: VitDims, seq: usize) -> fmt::Result {
    row(f, "decoder", decoder)?;
    row(f, "decoder sequence", seq)
}

/// The `layer norm eps` row, in scientific notation (`1e-6`).
pub fn eps_row(f: &mut Formatter<'_>, eps: f64) -> fmt::Result {
    row(f, "layer norm eps", format_args!("{eps:e}"))
}

/// A list of per-stage values `a / b / c`.
pub struct PerStage<'a>(pub &'a [usize]);

impl Display for PerStage<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" / ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// Per-stage square grids `56x56 / 28x28`.
pub struct PerStageGrid<'a>(pub &'a [usize]);

impl Display for PerStageGrid<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" / ")?;
            }
            write!(f, "{v}x{v}")?;
        }
        Ok(())
    }
}
