//! The derived-size tables that `tessera check` prints (`Display` of each family's dims).
use super::common::VitDims;
use core::fmt::{self, Display, Formatter};

/// Writes one `name  value` line with the name padded to a fixed column.
pub fn row(f: &mut Formatter<'_>, name: &str, value: impl Display) -> fmt::Result {
    writeln!(f, "{name:<22}{value}")
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

impl Display for VitDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "width {}, {} blocks, {} heads of {}, mlp {}",
            self.dim, self.depth, self.heads, self.head_dim, self.mlp_hidden
        )
    }
}

/// `pix` or `norm_pix` (per-patch normalised pixels).
pub fn target_name(norm_pix: bool) -> &'static str {
    if norm_pix {
        "norm_pix"
    } else {
        "pix"
    }
}
