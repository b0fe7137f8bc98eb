//! Masks rebuilt from the noise the official implementations consumed, compared with the masks
//! they produced. The values are copied from the official reference fixtures (MAE, UM-MAE ViT and
//! Swin, MixMIM, M3AE, VideoMAE; batch of 2 each, rows concatenated) so the test does not depend on
//! files outside the crate.
use tessera_dsl::mask::{
    builtin::{Mixed, Modality, Random, Tube, Uniform},
    check_rows,
    mixed::mixed_from_noise,
    modality::modality_from_noise,
    random::random_from_noise,
    tube::tube_from_spatial,
    uniform::{compact, secondary_from_noise, SecondaryRule},
    Grid, Layout, Mask, MaskStrategy, Rows, Violation,
};
use tessera_dsl::Ratio;

const MAE_NOISE: [f32; 32] = [
    0.48170137, 0.72987336, 0.6018672, 0.25875837, 0.7537031, 0.23538184, 0.13606066, 0.88508755,
    0.06396192, 0.07436979, 0.7410055, 0.17793751, 0.40562928, 0.76533175, 0.78943586, 0.2715873,
    0.7484978, 0.73457503, 0.9614227, 0.3517627, 0.8934694, 0.45004982, 0.29501498, 0.13847852,
    0.22820842, 0.12610406, 0.82522434, 0.40401196, 0.8369865, 0.17070091, 0.80159366, 0.25583124,
];
const MAE_MASK: [u8; 32] = [
    1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1,
];
const UMVIT_MASK: [u8; 72] = [
    1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1,
    1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1,
    1, 1, 1, 1, 1, 1, 0, 1,
];
// The official noise, as printed (one line per 8 values, not one per value).
#[rustfmt::skip]
const UMVIT_NOISE: [f32; 18] = [
    0.13319206, 0.6150877, 0.6022312, 0.9848449, 0.09951866, 0.940683, 0.4426008, 0.6533432,
    0.33896476, 0.13629025, 0.59249264, 0.49488527, 0.22696865, 0.1283325, 0.69778126, 0.58511496,
    0.25375116, 0.038279474,
];
const UMVIT_SECONDARY: [u8; 72] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
];
const UMSWIN_MASK: [u8; 32] = [
    1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1,
];
// The official noise, as printed (one line per 8 values, not one per value).
#[rustfmt::skip]
const UMSWIN_NOISE: [f32; 32] = [
    0.9148738, 0.6132508, 0.97211117, 0.17088532, 0.37292343, 0.69797546, 0.6819051, 0.8931387,
    0.108214855, 0.9789378, 0.7946255, 0.004000187, 0.45267433, 0.8675705, 0.11411017, 0.015062153,
    0.45128787, 0.22205901, 0.826219, 0.6778398, 0.47153723, 0.3683436, 0.22943616, 0.9788875,
    0.580724, 0.37743962, 0.7033276, 0.37041146, 0.4704547, 0.45468497, 0.4195279, 0.29952192,
];
const UMSWIN_SECONDARY: [u8; 32] = [
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
];
const MIXMIM_NOISE: [f32; 4] = [0.31445265, 0.2948835, 0.35453063, 0.9691961];
const MIXMIM_MASK: [u8; 4] = [1, 1, 0, 0];
const M3AE_IMAGE_NOISE: [f32; 16] = [
    0.56569064, 0.73123515, 0.2582333, 0.82709885, 0.8383748, 0.9631061, 0.11472334, 0.89227706,
    0.9768793, 0.8288028, 0.93615365, 0.88051623, 0.8308752, 0.73660016, 0.86555904, 0.24544136,
];
const M3AE_TEXT_NOISE: [f32; 12] = [
    0.86487496, 0.4408633, 0.60194737, 0.54887146, 0.95274675, 0.877462, 0.85543334, 0.18756554,
    0.4726923, 0.45738754, 0.35164723, 0.6145929,
];
const M3AE_IMAGE_MASK: [u8; 32] = [
    0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0,
];
const M3AE_TEXT_MASK: [u8; 24] = [
    1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1,
];
const M3AE_IMAGE_IDS_RESTORE: [usize; 16] = [3, 4, 2, 6, 9, 14, 0, 12, 15, 7, 13, 11, 8, 5, 10, 1];
const M3AE_TEXT_IDS_RESTORE: [usize; 12] = [9, 2, 6, 5, 11, 10, 8, 0, 4, 3, 1, 7];
const VIDEOMAE_MASK: [u8; 256] = [
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1,
    1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1,
];

/// Visible tokens of a 0/1 mask, raster order.
fn visible(mask: &[u8]) -> Vec<usize> {
    (0..mask.len()).filter(|&i| mask[i] == 0).collect()
}

#[test]
fn mae_random_masking_from_noise_matches_official() {
    // 32x32 image, patch 8: L = 16, ratio 0.75 -> 4 kept per sample.
    for s in 0..2 {
        let m = random_from_noise(&MAE_NOISE[s * 16..][..16], Ratio::of(3, 4)).unwrap();
        assert_eq!(m.mask(), &MAE_MASK[s * 16..][..16], "sample {s}");
        assert_eq!(m.len_keep(), 4);
    }
}

#[test]
fn m3ae_per_modality_masks_match_official() {
    let m = modality_from_noise(
        &M3AE_IMAGE_NOISE,
        Ratio::of(3, 4),
        &M3AE_TEXT_NOISE,
        Ratio::of(3, 4),
    )
    .unwrap();
    assert_eq!(m.image.ids_restore(), &M3AE_IMAGE_IDS_RESTORE);
    assert_eq!(m.text.ids_restore(), &M3AE_TEXT_IDS_RESTORE);
    // One permutation for the whole batch: both official rows equal the shared mask.
    for s in 0..2 {
        assert_eq!(m.image.mask(), &M3AE_IMAGE_MASK[s * 16..][..16]);
        assert_eq!(m.text.mask(), &M3AE_TEXT_MASK[s * 12..][..12]);
    }
}

#[test]
fn mixmim_mask_from_noise_matches_official() {
    // 64x64 image: stage grids 16, 8, 4, 2; mask on the 2x2 grid, ratio 0.5.
    let m = mixed_from_noise(Grid::new(16, 16), 4, &MIXMIM_NOISE, Ratio::of(1, 2)).unwrap();
    assert_eq!(m.coarse(), &MIXMIM_MASK);
}

#[test]
fn um_mae_vit_secondary_quirk_matches_official() {
    // 6x6 grid: 9 visible, int(9 * 0.75) = 6 real, 3 replaced.
    for s in 0..2 {
        let mask = Mask::from_binary(&UMVIT_MASK[s * 36..][..36]).unwrap();
        compact(mask.mask(), Grid::new(6, 6)).expect("the official mask is uniform");
        let noise = &UMVIT_NOISE[s * 9..][..9];
        let quirk = secondary_from_noise(&mask, noise, Ratio::of(1, 4), SecondaryRule::OfficialVit)
            .unwrap();
        assert_eq!(
            quirk.hidden(),
            &UMVIT_SECONDARY[s * 36..][..36],
            "sample {s}"
        );
        assert_eq!((quirk.len_real(), quirk.len_hidden()), (6, 3));
        // The fixture README says the MAE rule selects a different set for every sample.
        let smallest =
            secondary_from_noise(&mask, noise, Ratio::of(1, 4), SecondaryRule::Smallest).unwrap();
        assert_ne!(smallest.hidden(), quirk.hidden());
    }
}

#[test]
fn um_mae_swin_secondary_matches_official() {
    // 4x4 cells: 4 visible, int(4 * 0.75) = 3 real, 1 replaced; noise given for every cell.
    for s in 0..2 {
        let mask = Mask::from_binary(&UMSWIN_MASK[s * 16..][..16]).unwrap();
        compact(mask.mask(), Grid::new(4, 4)).expect("the official mask is uniform");
        let noise: Vec<f32> = visible(mask.mask())
            .iter()
            .map(|&i| UMSWIN_NOISE[s * 16 + i])
            .collect();
        let sec =
            secondary_from_noise(&mask, &noise, Ratio::of(1, 4), SecondaryRule::Smallest).unwrap();
        assert_eq!(
            sec.hidden(),
            &UMSWIN_SECONDARY[s * 16..][..16],
            "sample {s}"
        );
    }
}

#[test]
fn videomae_masks_are_tubes_in_slice_major_order() {
    // 8 slices of a 4x4 grid, 14 of 16 masked per slice.
    for s in 0..2 {
        let row = &VIDEOMAE_MASK[s * 128..][..128];
        let spatial = &row[..16];
        assert_eq!(spatial.iter().filter(|&&v| v == 1).count(), 14);
        let tube = tube_from_spatial(spatial, 8).unwrap();
        assert_eq!(tube.mask(), row);
        assert_eq!(tube.ids_keep(), visible(row).as_slice());
    }
}

/// The official masks as checker rows, without index tensors (the fixtures hold masks only).
fn rows(mask: &[u8], batch: usize) -> Rows<'_> {
    Rows {
        batch,
        mask,
        ids_keep: None,
        ids_restore: None,
    }
}

#[test]
fn official_masks_keep_the_invariants_their_strategies_declare() {
    let r34 = Ratio::of(3, 4);
    let cases: [(&dyn MaskStrategy, Layout, Ratio, Vec<u8>); 6] = [
        (
            &Random,
            Layout::image(Grid::new(4, 4)),
            r34,
            MAE_MASK.to_vec(),
        ),
        (
            &Uniform,
            Layout::image(Grid::new(6, 6)),
            r34,
            UMVIT_MASK.to_vec(),
        ),
        (
            &Uniform,
            Layout::image(Grid::new(4, 4)),
            r34,
            UMSWIN_MASK.to_vec(),
        ),
        (
            &Tube,
            Layout::video(Grid::new(4, 4), 8),
            Ratio::of(9, 10),
            VIDEOMAE_MASK.to_vec(),
        ),
        // MixMIM's one mask, shared by the batch of 2.
        (
            &Mixed,
            Layout::pyramid(Grid::new(16, 16), 4),
            Ratio::of(1, 2),
            [MIXMIM_MASK, MIXMIM_MASK].concat(),
        ),
        // M3AE: each sample's image tokens, then its text tokens.
        (
            &Modality { text_ratio: r34 },
            Layout::image(Grid::new(4, 4)).with_text(12),
            r34,
            (0..2)
                .flat_map(|s| {
                    let image = &M3AE_IMAGE_MASK[s * 16..][..16];
                    let text = &M3AE_TEXT_MASK[s * 12..][..12];
                    [image, text].concat()
                })
                .collect(),
        ),
    ];
    for (strategy, layout, ratio, mask) in cases {
        let report = check_rows(&strategy.invariants(), &layout, ratio, &rows(&mask, 2)).unwrap();
        assert!(report.is_clean(), "{}: {report}", strategy.name());
    }
    // With the index tensors MAE's code derives from the noise: ids_restore = argsort of the
    // ascending noise order (written out here with a plain sort), ids_keep its first 4.
    let mut ids_keep = Vec::new();
    let mut ids_restore = vec![0i64; 32];
    for s in 0..2 {
        let noise = &MAE_NOISE[s * 16..][..16];
        let mut order: Vec<usize> = (0..16).collect();
        order.sort_by(|&a, &b| noise[a].total_cmp(&noise[b]));
        for (position, &t) in order.iter().enumerate() {
            ids_restore[s * 16 + t] = position as i64;
        }
        ids_keep.extend(order[..4].iter().map(|&t| t as i64));
    }
    let with_ids = Rows {
        ids_keep: Some(&ids_keep),
        ids_restore: Some(&ids_restore),
        ..rows(&MAE_MASK, 2)
    };
    let layout = Layout::image(Grid::new(4, 4));
    let report = check_rows(&Random.invariants(), &layout, Ratio::of(3, 4), &with_ids).unwrap();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_corrupted_official_mask_is_reported_with_its_sample_and_token() {
    // Token 4 (row 1, col 0) of the UM-MAE Swin fixture's sample 1 is masked; make it visible.
    let mut mask = UMSWIN_MASK;
    assert_eq!(mask[16 + 4], 1);
    mask[16 + 4] = 0;
    let layout = Layout::image(Grid::new(4, 4));
    let report = check_rows(
        &Uniform.invariants(),
        &layout,
        Ratio::of(3, 4),
        &rows(&mask, 2),
    )
    .unwrap();
    // Its 2x2 block (0, 0) now keeps two cells, the corrupted one and token 5.
    assert_eq!(report.total(), 2, "{report}");
    let Violation::Count {
        sample,
        at,
        kept,
        expected,
        ref tokens,
        ..
    } = report.violations()[0]
    else {
        panic!("{report}");
    };
    assert_eq!((sample, kept, expected), (1, 2, 1));
    assert_eq!(at.to_string(), "2x2 window (0, 0)");
    let indices: Vec<usize> = tokens.iter().map(|t| t.index()).collect();
    assert_eq!(indices, [4, 5]);
    // And the sample keeps one token more than floor(16 / 4).
    assert!(matches!(
        report.violations()[1],
        Violation::Count {
            sample: 1,
            kept: 5,
            expected: 4,
            ..
        }
    ));
}
