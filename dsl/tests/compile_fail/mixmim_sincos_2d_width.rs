// MixMIM: the fixed 2-D sin-cos table of stage 1 needs a width divisible by 4.
tessera_dsl::mixmim! {
    pub Broken {
        image: 224 x 224 x 3, patch: 4,
        stages: [(130, 2, 2, 14), (260, 2, 4, 14), (520, 18, 4, 14), (1040, 2, 8, 7)],
        mlp: 4,
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: mixed(1 / 2), target: norm_pix,
    }
}

fn main() {}
