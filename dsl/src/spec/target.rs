//! What a masked autoencoder reconstructs.

/// The reconstruction target of the masked patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Target {
    /// The (data-set normalized) pixels of the patch.
    Pix,
    /// The pixels normalized per patch (MAE's `norm_pix_loss`; VideoMAE's per-channel variant
    /// in that family), which the papers recommend.
    NormPix,
}

impl Target {
    /// The target an official `norm_pix_loss` (VideoMAE: `normlize_target`) switch selects.
    pub const fn from_norm_pix_loss(norm_pix_loss: bool) -> Target {
        if norm_pix_loss {
            Target::NormPix
        } else {
            Target::Pix
        }
    }

    pub const fn is_norm_pix(self) -> bool {
        matches!(self, Target::NormPix)
    }

    /// `pix` or `norm_pix`, as specs write it.
    pub const fn name(self) -> &'static str {
        match self {
            Target::Pix => "pix",
            Target::NormPix => "norm_pix",
        }
    }
}

impl core::fmt::Display for Target {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
