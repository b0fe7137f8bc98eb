//! Pictures: the reconstruction grid of the official MAE visualization, the loss plot, and the
//! small canvas and bitmap font they are drawn with (no font files, no plotting library).
pub mod canvas;
pub mod clip_recon;
pub mod clip_strip;
pub mod font;
pub mod loss_plot;
pub mod recon;
pub mod recon_grid;
pub mod token_layout;

pub use canvas::Canvas;
pub use clip_recon::{reconstruct_clip, ClipRecon, TubeLayout};
pub use clip_strip::draw_clip_strips;
pub use recon::{reconstruct_one, PatchLayout, ReconRow};
pub use recon_grid::{draw_recon_grid, Denormalize, GridText};
pub use token_layout::TokenLayout;
