//! A pyramid variant no paper published, declared in a few lines: HiViT pre-trained with
//! UM-MAE's uniform sampling (one visible patch in every 2x2 block) instead of random masking.
//! HiViT can drop whole patches before its first layer because its MLP-only stages never mix
//! patches, so uniform sampling needs no compaction trick here (UM-Swin does). The shapes are
//! checked when this file compiles: `image: 56 x 56 x 1` would not (a 7x7 patch grid cannot be
//! tiled by 2x2 blocks, rule `uniform_even_grid`).
//!
//! Print its spec as TOML and pre-train it from the command line on Fashion-MNIST, whose 28-px
//! images MAE's augmentation (`--augment`, a random resized crop) brings to 64 px:
//!
//! ```text
//! cargo run --release --example uniform_hivit > uniform_hivit.toml   # = examples/uniform_hivit.toml
//! cargo run --release -- pretrain --config uniform_hivit.toml --augment --epochs 1 \
//!     --limit 512 --batch 64 --out runs/uniform-hivit
//! ```
use tessera::dsl::ModelSpec;

tessera::hivit! {
    /// HiViT with uniform sampling: 16 of the 64 patches visible, one per 2x2 block.
    pub UniformHiVitFmnist {
        image: 64 x 64 x 1, patch: 8, inner_patches: 4,
        mlp_stages: [1, 1], stem_mlp: 3,
        main: vit { dim: 64, depth: 4, heads: 4, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 32, depth: 2, heads: 4, mlp: 4 },
        mask: uniform(3 / 4), target: norm_pix,
    }
}

fn main() {
    // The derived sizes are plain consts; the table goes to stderr, the spec to stdout.
    eprintln!("{}", UniformHiVitFmnist::DIMS);
    eprintln!(
        "UniformHiVitFmnist keeps {} of {} patches per image, each as {}x{} sub-tokens",
        UniformHiVitFmnist::KEEP,
        UniformHiVitFmnist::TOKENS,
        UniformHiVitFmnist::INNER,
        UniformHiVitFmnist::INNER
    );
    println!(
        "{}",
        tessera::spec_file::to_toml(&ModelSpec::HiVit(UniformHiVitFmnist::SPEC))
    );
}
