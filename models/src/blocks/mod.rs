//! The block library every family builds from. A block is a function of a [`Scope`] (where its
//! parameters live in the state dict), its input node and its sizes; it declares each
//! parameter once, at the official key with its initialisation, and returns its output node.
//!
//! - [`linear`], [`layer_norm`], [`mlp`], [`self_attention`] (packed qkv), [`vit_block`] and
//!   [`vit_stack`]: the timm ViT pieces of every encoder and decoder.
//! - [`patch_embed_2d`] (images) and [`patch_embed_3d`] (tubelets of clips); [`sincos_table`].
//! - The pyramid pieces: [`window_attention`] (windows, cyclic shift via [`shift_mask`],
//!   [`relative_position_bias`] or UM-MAE's position MLP, an optional extra mask),
//!   [`patch_merging`] (Swin) and [`patch_merge_conv`] (UM-MAE), HiViT's [`mlp_block`] and its
//!   [`inner_patch_embed`] (each patch keeps its own sub-token grid).
//! - [`pixel_target`]: the (normalized) patch pixels a reconstruction loss compares with.
mod attention;
mod conv;
mod inner_patch_embed;
mod linear;
mod mlp;
mod mlp_block;
mod norm;
mod patch_embed;
mod patch_merge;
mod pixel_target;
mod pos_embed;
mod rel_pos;
mod scope;
mod swin;
mod vit;
mod window;
mod window_attention;

#[cfg(test)]
mod tests;

pub use attention::{self_attention, Attention};
pub use conv::{conv1x1, patch_merge_conv, ConvInit};
pub use inner_patch_embed::{inner_patch_embed, InnerPatchEmbed};
pub use linear::{linear, Linear, LinearInit};
pub use mlp::{mlp, Activation, Mlp};
pub use mlp_block::mlp_block;
pub use norm::layer_norm;
pub use patch_embed::{patch_embed_2d, patch_embed_3d, PatchInit};
pub use patch_merge::patch_merging;
pub use pixel_target::pixel_target;
pub use pos_embed::sincos_table;
pub use rel_pos::{relative_position_bias, relative_position_index};
pub use scope::{Builder, Built, Constant, Scope};
pub use swin::{swin_block, SwinBlock};
pub use vit::{vit_block, vit_stack, VitBlock};
pub use window::shift_mask;
pub use window_attention::{window_attention, RelPos, WindowAttention};
