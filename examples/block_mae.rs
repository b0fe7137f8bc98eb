//! A masked-image-modeling variant no paper published, declared in a few lines: MAE's
//! asymmetric encoder with BEiT/SimMIM's block-wise masking, sized for Fashion-MNIST. The
//! shapes are checked when this file compiles (`mask: block(2 / 5, cell: 2)` would not: cells
//! of 2x2 tokens cannot tile the 7x7 token grid, rule `block_cell_divides_grid`).
//!
//! Print its spec as TOML and pre-train it from the command line:
//!
//! ```text
//! cargo run --release --example block_mae > block_mae.toml   # = examples/block_mae.toml
//! cargo run --release -- pretrain --config block_mae.toml --epochs 1 --limit 512 --batch 64 \
//!     --out runs/block
//! ```
use tessera::dsl::ModelSpec;

tessera::mim! {
    /// MAE with block-wise masking: 2/5 of the 49 tokens masked in rectangles.
    pub BlockMaeFmnist {
        image: 28 x 28 x 1, patch: 4,
        encoder: vit { dim: 128, depth: 6, heads: 4, mlp: 4 },
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: block(2 / 5), target: norm_pix,
    }
}

fn main() {
    // The derived sizes are plain consts; the table goes to stderr, the spec to stdout.
    eprintln!("{}", BlockMaeFmnist::DIMS);
    eprintln!(
        "BlockMaeFmnist keeps {} of {} tokens per image",
        BlockMaeFmnist::KEEP,
        BlockMaeFmnist::TOKENS
    );
    println!(
        "{}",
        tessera::spec_file::to_toml(&ModelSpec::Mae(BlockMaeFmnist::SPEC))
    );
}
