//! The derived-size tables that `tessera check` prints (`Display` of each family's dims).
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
