//! `tessera mask` checked from outside: run the binary, read the safetensors back and recompute
//! every invariant from the raw tensors, without the masking library.
mod common;

use std::path::Path;
use std::process::Output;

use safetensors::tensor::{Dtype, SafeTensors};
use tessera::mask_png::{cell_px_for, colour, tile_origin, Cell};

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("mask-cli", name)
}

fn tessera(args: &[&str]) -> Output {
    common::tessera()
        .args(args)
        .output()
        .expect("the tessera binary runs")
}

/// Runs `tessera mask ARGS --out FILE` and returns the file's bytes.
fn mask_file(name: &str, args: &[&str]) -> Vec<u8> {
    let out = scratch(name);
    let mut all = vec!["mask"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = tessera(&all);
    assert!(
        o.status.success(),
        "tessera {all:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(&out).unwrap()
}

/// A tensor's shape and values as i64 (masks are f32 0/1, ids i64; both convert exactly).
fn read(bytes: &[u8], name: &str, dtype: Dtype) -> (Vec<usize>, Vec<i64>) {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let t = st
        .tensor(name)
        .unwrap_or_else(|_| panic!("tensor {name} missing"));
    assert_eq!(t.dtype(), dtype, "{name}");
    let values = match dtype {
        Dtype::F32 => t
            .data()
            .chunks_exact(4)
            .map(|c| {
                let v = f32::from_le_bytes(c.try_into().unwrap());
                assert!(v == 0.0 || v == 1.0, "{name} holds {v}");
                v as i64
            })
            .collect(),
        Dtype::I64 => t
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        _ => unreachable!(),
    };
    (t.shape().to_vec(), values)
}

/// Checks `ids_keep` / `ids_restore` against one mask row (1 = removed) and returns the number
/// of kept tokens: ids_restore is a permutation whose inverse lists the kept tokens first, in
/// the order of ids_keep, then the removed ones.
fn check_ids(mask: &[i64], keep: &[i64], restore: &[i64]) -> usize {
    let len = mask.len();
    assert_eq!(restore.len(), len);
    let mut shuffle = vec![usize::MAX; len];
    for (i, &r) in restore.iter().enumerate() {
        let r = r as usize;
        assert!(
            r < len && shuffle[r] == usize::MAX,
            "ids_restore is not a permutation"
        );
        shuffle[r] = i;
    }
    let kept = mask.iter().filter(|&&v| v == 0).count();
    assert_eq!(keep.len(), kept, "ids_keep length vs zeros of the mask");
    for (j, &i) in shuffle.iter().enumerate() {
        assert_eq!(
            mask[i],
            i64::from(j >= kept),
            "position {j} of the shuffled order"
        );
        if j < kept {
            assert_eq!(keep[j] as usize, i, "ids_keep[{j}]");
        }
    }
    kept
}

/// The common layout: `mask` [N, L], `ids_keep` [N, K], `ids_restore` [N, L]. Returns the
/// mask rows.
fn check_flat(bytes: &[u8], n: usize, l: usize, expected_keep: usize) -> Vec<Vec<i64>> {
    let (ms, mask) = read(bytes, "mask", Dtype::F32);
    let (ks, keep) = read(bytes, "ids_keep", Dtype::I64);
    let (rs, restore) = read(bytes, "ids_restore", Dtype::I64);
    assert_eq!(ms, [n, l]);
    assert_eq!(ks, [n, expected_keep]);
    assert_eq!(rs, [n, l]);
    (0..n)
        .map(|s| {
            let row = &mask[s * l..(s + 1) * l];
            let k = &keep[s * expected_keep..(s + 1) * expected_keep];
            assert_eq!(
                check_ids(row, k, &restore[s * l..(s + 1) * l]),
                expected_keep
            );
            row.to_vec()
        })
        .collect()
}

#[test]
fn random_keeps_floor_l_one_minus_r_per_sample_and_follows_the_seed() {
    let args = [
        "--strategy",
        "random",
        "--grid",
        "14x14",
        "--mask-ratio",
        "3/4",
        "--count",
        "4",
    ];
    let a = mask_file(
        "random-a.safetensors",
        &[&args[..], &["--seed", "7"]].concat(),
    );
    let rows = check_flat(&a, 4, 196, 49); // int(196 * 0.25)
    assert_ne!(rows[0], rows[1], "samples draw their own noise");
    let b = mask_file(
        "random-b.safetensors",
        &[&args[..], &["--seed", "7"]].concat(),
    );
    assert_eq!(a, b, "same seed, same file");
    let (_, header) = SafeTensors::read_metadata(&a).unwrap();
    let config = &header.metadata().as_ref().unwrap()["config"];
    for field in [
        r#""strategy":"random""#,
        r#""seed":7"#,
        r#""ratio":"3/4""#,
        r#""count":4"#,
    ] {
        assert!(config.contains(field), "{config} lacks {field}");
    }
    let c = mask_file(
        "random-c.safetensors",
        &[&args[..], &["--seed", "8"]].concat(),
    );
    assert_ne!(
        check_flat(&c, 4, 196, 49),
        rows,
        "another seed, other masks"
    );
    // A ratio that is not a multiple of 1/L: floor(10 * 7 * 0.7) = 49 kept of 70.
    let d = mask_file(
        "random-d.safetensors",
        &[
            "--strategy",
            "random",
            "--grid",
            "7x10",
            "--mask-ratio",
            "0.3",
        ],
    );
    check_flat(&d, 1, 70, 49);
}

#[test]
fn uniform_with_secondary_masking_satisfies_the_um_mae_invariants() {
    // The command of the issue.
    let bytes = mask_file(
        "uniform.safetensors",
        &[
            "--strategy",
            "uniform",
            "--grid",
            "14x14",
            "--mask-ratio",
            "3/4",
            "--secondary",
            "1/4",
            "--count",
            "8",
            "--seed",
            "1",
        ],
    );
    let rows = check_flat(&bytes, 8, 196, 49);
    let (_, keep) = read(&bytes, "ids_keep", Dtype::I64);
    let (ss, secondary) = read(&bytes, "secondary", Dtype::F32);
    assert_eq!(ss, [8, 196]);
    for (s, row) in rows.iter().enumerate() {
        for bh in 0..7 {
            for bw in 0..7 {
                let visible = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .filter(|(dr, dc)| row[(2 * bh + dr) * 14 + 2 * bw + dc] == 0)
                    .count();
                assert_eq!(visible, 1, "sample {s} block ({bh}, {bw})");
            }
        }
        // Kept tokens in raster order, as UM-MAE takes x[~mask].
        let k = &keep[s * 49..(s + 1) * 49];
        assert!(k.windows(2).all(|p| p[0] < p[1]));
        let sec = &secondary[s * 196..(s + 1) * 196];
        // 49 visible: int(49 * 0.75) = 36 stay real, 13 are hidden, all at kept positions.
        assert_eq!(sec.iter().filter(|&&v| v == 1).count(), 13, "sample {s}");
        assert!((0..196).all(|i| sec[i] == 0 || row[i] == 0));
    }
    assert_ne!(rows[0], rows[1]);
}

#[test]
fn block_masks_floor_l_r_tokens() {
    let bytes = mask_file(
        "block.safetensors",
        &[
            "--strategy",
            "block",
            "--grid",
            "14x14",
            "--mask-ratio",
            "0.4",
            "--count",
            "3",
            "--seed",
            "3",
        ],
    );
    // floor(196 * 0.4) = 78 masked, 118 kept.
    let rows = check_flat(&bytes, 3, 196, 118);
    assert_ne!(rows[0], rows[2]);
}

#[test]
fn tube_masks_repeat_one_spatial_mask_through_time() {
    let bytes = mask_file(
        "tube.safetensors",
        &[
            "--strategy",
            "tube",
            "--grid",
            "8x8",
            "--frames",
            "8",
            "--tubelet",
            "2",
            "--mask-ratio",
            "9/10",
            "--count",
            "2",
            "--seed",
            "5",
        ],
    );
    let (ms, mask) = read(&bytes, "mask", Dtype::F32);
    let (ks, keep) = read(&bytes, "ids_keep", Dtype::I64);
    let (rs, restore) = read(&bytes, "ids_restore", Dtype::I64);
    // 4 slices of 64 tokens, floor(0.9 * 64) = 57 masked per slice, 7 visible.
    assert_eq!((ms, ks, rs), (vec![2, 4, 64], vec![2, 28], vec![2, 256]));
    for s in 0..2 {
        let row = &mask[s * 256..(s + 1) * 256];
        for t in 0..4 {
            assert_eq!(row[t * 64..(t + 1) * 64], row[..64], "sample {s} slice {t}");
        }
        assert_eq!(row[..64].iter().filter(|&&v| v == 1).count(), 57);
        check_ids(
            row,
            &keep[s * 28..(s + 1) * 28],
            &restore[s * 256..(s + 1) * 256],
        );
    }
    assert_ne!(mask[..64], mask[256..320], "each clip draws its own tube");
}

#[test]
fn mixed_masks_are_shared_complementary_and_upsample_exactly() {
    let bytes = mask_file(
        "mixed.safetensors",
        &[
            "--strategy",
            "mixed",
            "--grid",
            "32x48",
            "--stages",
            "4",
            "--count",
            "4",
            "--seed",
            "2",
        ],
    );
    // Coarsest grid 32/8 x 48/8 = 4x6 = 24 cells, floor(24 / 2) = 12 from the partner.
    let rows = check_flat(&bytes, 4, 24, 12);
    assert!(
        rows.iter().all(|r| r == &rows[0]),
        "one mask for the batch, as officially"
    );
    let (ps, partner) = read(&bytes, "partner", Dtype::I64);
    assert_eq!(ps, [4]);
    assert_eq!(partner, [3, 2, 1, 0]);
    for s in 0..4 {
        let (h, w) = (32 >> s, 48 >> s);
        let (shape, stage) = read(&bytes, &format!("mask_stage{s}"), Dtype::F32);
        assert_eq!(shape, [4, h * w]);
        let f = 8 >> s;
        for b in 0..4 {
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(
                        stage[b * h * w + y * w + x],
                        rows[b][(y / f) * 6 + x / f],
                        "stage {s} ({y}, {x})"
                    );
                }
            }
        }
    }
    // Mixed sample i takes image i where the mask is 0 and image partner[i] where it is 1:
    // across the batch every token of every image appears exactly once.
    let (_, stage0) = read(&bytes, "mask_stage0", Dtype::F32);
    let mut uses = vec![0; 4 * 32 * 48];
    for i in 0..4 {
        for t in 0..32 * 48 {
            let src = if stage0[i * 32 * 48 + t] == 1 {
                partner[i] as usize
            } else {
                i
            };
            uses[src * 32 * 48 + t] += 1;
        }
    }
    assert!(uses.iter().all(|&u| u == 1));
}

#[test]
fn the_picture_shows_each_cell_in_its_colour() {
    let png_path = scratch("uniform.png");
    let bytes = mask_file(
        "uniform-png.safetensors",
        &[
            "--strategy",
            "uniform",
            "--grid",
            "6x8",
            "--secondary",
            "1/2",
            "--count",
            "2",
            "--png",
            png_path.to_str().unwrap(),
        ],
    );
    let (_, mask) = read(&bytes, "mask", Dtype::F32);
    let (_, secondary) = read(&bytes, "secondary", Dtype::F32);
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let cell = cell_px_for(8);
    let (tile_h, tile_w) = (6 * (cell + 1) + 1, 8 * (cell + 1) + 1);
    let pixel = |x: usize, y: usize| {
        let i = 3 * (y * info.width as usize + x);
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    // The centre of cell (r, c) of tile `t` in sample `s`'s row.
    let centre = |s: usize, t: usize, r: usize, c: usize| {
        let (x0, y0) = tile_origin(s, t, tile_h, tile_w);
        (
            x0 + c * (cell + 1) + 1 + cell / 2,
            y0 + r * (cell + 1) + 1 + cell / 2,
        )
    };
    let mut seen_hidden = 0;
    for s in 0..2 {
        let at = |r: usize, c: usize| s * 48 + r * 8 + c;
        for r in 0..6 {
            for c in 0..8 {
                let i = at(r, c);
                let expected = match (mask[i], secondary[i]) {
                    (1, _) => Cell::Removed,
                    (_, 1) => Cell::Hidden,
                    _ => Cell::Visible,
                };
                seen_hidden += usize::from(expected == Cell::Hidden);
                // First step: uniform sampling alone.
                let (x, y) = centre(s, 0, r, c);
                let primary = if mask[i] == 1 {
                    Cell::Removed
                } else {
                    Cell::Visible
                };
                assert_eq!(pixel(x, y), colour(primary), "sample {s} step 1 ({r}, {c})");
                // Second: with the secondary mask.
                let (x, y) = centre(s, 1, r, c);
                assert_eq!(
                    pixel(x, y),
                    colour(expected),
                    "sample {s} step 2 ({r}, {c})"
                );
            }
        }
        // Third: the compacted 3x4 map, each block's visible cell.
        for r in 0..3 {
            for c in 0..4 {
                let block = [
                    at(2 * r, 2 * c),
                    at(2 * r, 2 * c + 1),
                    at(2 * r + 1, 2 * c),
                    at(2 * r + 1, 2 * c + 1),
                ];
                let kept: Vec<usize> = block.into_iter().filter(|&i| mask[i] == 0).collect();
                assert_eq!(kept.len(), 1, "one visible cell per 2x2 block");
                let expected = if secondary[kept[0]] == 1 {
                    Cell::Hidden
                } else {
                    Cell::Visible
                };
                let (x, y) = centre(s, 2, r, c);
                assert_eq!(
                    pixel(x, y),
                    colour(expected),
                    "sample {s} compacted ({r}, {c})"
                );
            }
        }
    }
    // 12 visible per sample, int(12 / 2) = 6 real, 6 hidden.
    assert_eq!(seen_hidden, 12);
    // The 2x2 sampling cells are outlined: the line between cell columns 1 and 2 is darker
    // than the one between columns 0 and 1.
    let (x0, y0) = tile_origin(0, 0, tile_h, tile_w);
    let (thin, thick) = (
        pixel(x0 + cell + 1, y0 + 2),
        pixel(x0 + 2 * (cell + 1), y0 + 2),
    );
    let dark = |p: [u8; 3]| p.iter().map(|&v| v as u32).sum::<u32>();
    assert!(dark(thick) < dark(thin), "{thick:?} vs {thin:?}");
}

/// The pixels of a PNG as (width, height, rgb).
fn decode(path: &Path) -> (usize, usize, Vec<u8>) {
    let img = image::open(path).unwrap().to_rgb8();
    (img.width() as usize, img.height() as usize, img.into_raw())
}

#[test]
fn a_picture_alone_needs_no_out_and_mixed_cells_show_their_image() {
    let png_path = scratch("mixed-alone.png");
    let o = tessera(&[
        "mask",
        "--strategy",
        "mixed",
        "--grid",
        "16x16",
        "--stages",
        "2",
        "--png",
        png_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (w, _, rgb) = decode(&png_path);
    let has = |c: [u8; 3]| rgb.chunks_exact(3).any(|p| p == c);
    // Sample 0 and sample 1 take tokens from image 0 and image 1: both colours appear, and the
    // cells of removed/visible are not used.
    assert!(has(colour(Cell::Source(0))) && has(colour(Cell::Source(1))));
    assert!(!has(colour(Cell::Removed)), "width {w}");
    // Without --out or --png there is nothing to do: refused by the parser.
    let o = tessera(&["mask", "--strategy", "random", "--grid", "4x4"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Runs a bad command and returns its stderr after checking exit status 2 and that no output
/// file was written.
fn refused(name: &str, args: &[&str]) -> String {
    let out = scratch(name);
    let mut all = vec!["mask"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = tessera(&all);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "tessera {all:?}: {stderr}");
    assert!(!Path::new(&out).exists(), "{all:?} wrote a file");
    stderr
}

#[test]
fn bad_arguments_exit_2_with_a_message_naming_the_problem() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "--strategy",
                "random",
                "--grid",
                "14x14",
                "--mask-ratio",
                "1",
            ],
            &["--mask-ratio", "between 0 and 1"],
        ),
        (
            &[
                "--strategy",
                "random",
                "--grid",
                "14x14",
                "--mask-ratio",
                "5/4",
            ],
            &["--mask-ratio", "between 0 and 1"],
        ),
        (
            &[
                "--strategy",
                "random",
                "--grid",
                "14x14",
                "--mask-ratio",
                "0",
            ],
            &["--mask-ratio"],
        ),
        (
            &[
                "--strategy",
                "random",
                "--grid",
                "14x14",
                "--mask-ratio",
                "three",
            ],
            &["--mask-ratio", "fraction"],
        ),
        (
            &["--strategy", "random", "--grid", "14x"],
            &["--grid", "HxW"],
        ),
        (
            &["--strategy", "random", "--grid", "0x0"],
            &["--grid", "HxW"],
        ),
        (
            &["--strategy", "random", "--grid", "1x2"],
            &["keeps no token"],
        ),
        (
            &["--strategy", "uniform", "--grid", "14x13"],
            &["14x13", "2x2"],
        ),
        (
            &[
                "--strategy",
                "uniform",
                "--grid",
                "14x14",
                "--mask-ratio",
                "1/2",
            ],
            &["3/4", "1/2"],
        ),
        (
            &[
                "--strategy",
                "uniform",
                "--grid",
                "2x2",
                "--secondary",
                "1/2",
            ],
            &["keeps no token"],
        ),
        (&["--strategy", "tube", "--grid", "14x14"], &["--frames"]),
        (
            &["--strategy", "tube", "--grid", "14x14", "--frames", "15"],
            &["15 frames", "tubelet 2"],
        ),
        (
            &[
                "--strategy",
                "tube",
                "--grid",
                "14x14",
                "--frames",
                "16",
                "--tubelet",
                "0",
            ],
            &["tubelet 0"],
        ),
        (
            &["--strategy", "mixed", "--grid", "28x28"],
            &["28x28", "4 stages"],
        ),
        (
            &["--strategy", "mixed", "--grid", "56x56", "--count", "3"],
            &["even"],
        ),
        (
            &[
                "--strategy",
                "random",
                "--grid",
                "14x14",
                "--secondary",
                "1/4",
            ],
            &["--secondary", "uniform"],
        ),
        (
            &["--strategy", "random", "--grid", "14x14", "--frames", "16"],
            &["--frames", "tube"],
        ),
        (
            &["--strategy", "random", "--grid", "14x14", "--count", "0"],
            &["--count"],
        ),
    ];
    for (i, (args, words)) in cases.iter().enumerate() {
        let stderr = refused(&format!("bad-{i}.safetensors"), args);
        for w in *words {
            assert!(stderr.contains(w), "{args:?}: {stderr:?} lacks {w:?}");
        }
    }
    // An unknown strategy is refused by the argument parser, also with status 2.
    refused(
        "bad-strategy.safetensors",
        &["--strategy", "spiral", "--grid", "14x14"],
    );
}
