// Preset `m3ae_base`, declared through the public macro path as a user would.
tessera_dsl::m3ae! {
    /// M3AE base (young-geng/m3ae_public): 256 px, patch 16, 64 bert-base-uncased tokens.
    pub M3aeBase {
        image: 256 x 256 x 3, patch: 16, text: 64, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(M3aeBase::SPEC, tessera_dsl::presets::M3aeBase::SPEC);
    assert_eq!(M3aeBase::DIMS, tessera_dsl::presets::M3aeBase::DIMS);
    let handle = m3ae_base::EncoderSeq::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(m3ae_base::EncoderSeq::NUMEL > 0);
}
