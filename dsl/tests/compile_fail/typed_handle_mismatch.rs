// Typed handles carry the spec's sizes: the 49 visible tokens are not the 196 patches.
tessera_dsl::mae! {
    pub Vit {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn embed_all(_tokens: vit::Embedded) {}

fn main() {
    let visible = vit::Visible::from_node(tessera_dsl::graph::NodeId(0));
    embed_all(visible);
}
