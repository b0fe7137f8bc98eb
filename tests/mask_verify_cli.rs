//! `tessera mask --verify`: masks the official code made verify clean, masks tessera writes
//! verify clean, and a hand-corrupted file is reported with the sample, window or token and
//! the rule it breaks (exit 1; bad arguments stay exit 2).
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("mask-verify", name)
}

fn tessera(args: &[&str]) -> Output {
    common::tessera()
        .arg("mask")
        .args(args)
        .output()
        .expect("the tessera binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fixture(path: &str) -> PathBuf {
    common::repo_root().join("tests/fixtures").join(path)
}

/// A tensor of a file as f32 values and its shape.
fn read_f32(path: &Path, name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor(name).unwrap();
    assert_eq!(t.dtype(), Dtype::F32, "{name}");
    let values = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (t.shape().to_vec(), values)
}

/// Writes `mask` (f32) and optional i64 index tensors.
fn write(path: &Path, mask: (&[usize], &[f32]), ids: &[(&str, &[usize], &[i64])]) {
    let mask_bytes: Vec<u8> = mask.1.iter().flat_map(|v| v.to_le_bytes()).collect();
    let id_bytes: Vec<Vec<u8>> = ids
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let mut views = vec![(
        "mask",
        TensorView::new(Dtype::F32, mask.0.to_vec(), &mask_bytes).unwrap(),
    )];
    for ((name, shape, _), bytes) in ids.iter().zip(&id_bytes) {
        views.push((
            name,
            TensorView::new(Dtype::I64, shape.to_vec(), bytes).unwrap(),
        ));
    }
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

fn assert_clean(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains("no violation"),
        "{what}: {}",
        text(&o.stdout)
    );
}

#[test]
fn masks_the_official_code_made_verify_clean() {
    // MAE: the mask official `random_masking` built from the fixture's noise.
    let mae = fixture("mae-official/mae_public.expected.safetensors");
    let o = tessera(&[
        "--verify",
        mae.to_str().unwrap(),
        "--strategy",
        "random",
        "--grid",
        "4x4",
    ]);
    assert_clean(&o, "MAE");
    assert!(text(&o.stdout).contains("index tensors: none"));
    // With the index tensors the official code derives from that noise: ids_restore =
    // argsort(argsort(noise)), ids_keep the first len_keep of argsort(noise).
    let (_, noise) = read_f32(
        &fixture("mae-official/mae_public.batch.safetensors"),
        "noise",
    );
    let (shape, mask) = read_f32(&mae, "mask");
    let (mut keep, mut restore) = (Vec::new(), vec![0i64; 32]);
    for s in 0..2 {
        let row = &noise[s * 16..][..16];
        let mut order: Vec<usize> = (0..16).collect();
        order.sort_by(|&a, &b| row[a].total_cmp(&row[b]));
        for (position, &t) in order.iter().enumerate() {
            restore[s * 16 + t] = position as i64;
        }
        keep.extend(order[..4].iter().map(|&t| t as i64));
    }
    let with_ids = scratch("mae-with-ids.safetensors");
    write(
        &with_ids,
        (&shape, &mask),
        &[
            ("ids_keep", &[2, 4], &keep),
            ("ids_restore", &[2, 16], &restore),
        ],
    );
    let o = tessera(&[
        "--verify",
        with_ids.to_str().unwrap(),
        "--strategy",
        "random",
        "--grid",
        "4x4",
    ]);
    assert_clean(&o, "MAE with ids");
    assert!(text(&o.stdout).contains("index tensors: ids_restore, ids_keep"));
    // UM-MAE on Swin: the masks its data loader made (RandomMaskingGenerator, regular).
    let um = fixture("um-mae-swin/um_mae_swin_public.batch.safetensors");
    let o = tessera(&[
        "--verify",
        um.to_str().unwrap(),
        "--strategy",
        "uniform",
        "--grid",
        "4x4",
    ]);
    assert_clean(&o, "UM-MAE Swin");
    // Without index tensors, ids_keep's raster order cannot be checked, and the report says so.
    assert!(text(&o.stdout).contains("not checked (no index tensors in the file): ids_keep"));
}

#[test]
fn masks_tessera_writes_verify_clean() {
    for (strategy, extra) in [
        ("random", vec!["--grid", "14x14"]),
        ("block", vec!["--grid", "14x14", "--ratio", "2/5"]),
        ("uniform", vec!["--grid", "14x14", "--secondary", "1/4"]),
        ("tube", vec!["--grid", "6x6", "--frames", "8"]),
        ("mixed", vec!["--grid", "16x16", "--stages", "3"]),
    ] {
        let file = scratch(&format!("own-{strategy}.safetensors"));
        let mut make = vec!["--strategy", strategy, "--batch", "4", "--seed", "3"];
        make.extend(&extra);
        make.extend(["--out", file.to_str().unwrap()]);
        let o = tessera(&make);
        assert!(o.status.success(), "{}", text(&o.stderr));
        // The same arguments, less those of generation.
        let mut check = vec!["--verify", file.to_str().unwrap(), "--strategy", strategy];
        let mut it = extra.iter();
        while let Some(&flag) = it.next() {
            let value = *it.next().unwrap();
            if flag != "--secondary" {
                check.extend([flag, value]);
            }
        }
        assert_clean(&tessera(&check), strategy);
    }
}

#[test]
fn a_corrupted_file_is_reported_with_the_sample_and_token_that_break_the_rule() {
    let (shape, mut mask) = read_f32(
        &fixture("um-mae-swin/um_mae_swin_public.batch.safetensors"),
        "mask",
    );
    // Sample 1, token 4 (row 1, col 0) was masked; now its 2x2 block keeps two cells.
    assert_eq!(mask[16 + 4], 1.0);
    mask[16 + 4] = 0.0;
    let bad = scratch("corrupted-uniform.safetensors");
    write(&bad, (&shape, &mask), &[]);
    let o = tessera(&[
        "--verify",
        bad.to_str().unwrap(),
        "--strategy",
        "uniform",
        "--grid",
        "4x4",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(
            "sample 1, 2x2 window (0, 0): keeps 2 tokens, expected 1: token 4 (row 1, col 0), \
             token 5 (row 1, col 1) [keeps exactly 1 token of every 2x2 window]"
        ),
        "{out}"
    );
    assert!(!out.contains("sample 0"), "{out}");
    assert!(
        text(&o.stderr).contains("2 violations of `uniform`"),
        "{}",
        text(&o.stderr)
    );

    // A tube whose frame 2 differs at one position.
    let tube = scratch("corrupted-tube.safetensors");
    let o = tessera(&[
        "--strategy",
        "tube",
        "--grid",
        "4x4",
        "--frames",
        "6",
        "--batch",
        "2",
        "--out",
        tube.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (shape, mut mask) = read_f32(&tube, "mask");
    assert_eq!(shape, [2, 3, 16]);
    // Sample 0, frame 2, row 3, col 1: token 2 * 16 + 13 = 45.
    mask[45] = 1.0 - mask[45];
    write(&tube, (&shape, &mask), &[]);
    let o = tessera(&[
        "--verify",
        tube.to_str().unwrap(),
        "--strategy",
        "tube",
        "--grid",
        "4x4",
        "--frames",
        "6",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(
        out.contains("sample 0, token 45 (frame 2, row 3, col 1): differs from frame 0"),
        "{out}"
    );

    // MAE index tensors that disagree with the mask: two ids_restore entries swapped.
    let mae = fixture("mae-official/mae_public.expected.safetensors");
    let (shape, mask) = read_f32(&mae, "mask");
    let mut restore: Vec<i64> = vec![0; 32];
    for s in 0..2 {
        let (mut kept, mut removed) = (0, 4);
        for t in 0..16 {
            let slot = if mask[s * 16 + t] == 0.0 {
                &mut kept
            } else {
                &mut removed
            };
            restore[s * 16 + t] = *slot;
            *slot += 1;
        }
    }
    // Sample 1 keeps tokens 7, 8, 9 and 13 (positions 0..4); token 0 is removed.
    restore.swap(16, 16 + 7);
    let swapped = scratch("corrupted-ids.safetensors");
    write(
        &swapped,
        (&shape, &mask),
        &[("ids_restore", &[2, 16], &restore)],
    );
    let o = tessera(&[
        "--verify",
        swapped.to_str().unwrap(),
        "--strategy",
        "random",
        "--grid",
        "4x4",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(
        out.contains(
            "sample 1, token 0 (row 0, col 0): the mask removes it but ids_restore places it \
             among the kept tokens"
        ),
        "{out}"
    );
}

#[test]
fn unusable_files_and_arguments_exit_2() {
    let um = fixture("um-mae-swin/um_mae_swin_public.batch.safetensors");
    for (args, says) in [
        (
            vec![
                "--verify",
                "/nonexistent/m.safetensors",
                "--strategy",
                "random",
                "--grid",
                "4x4",
            ],
            "cannot read",
        ),
        // 16 values per row do not make a 5x5 grid.
        (
            vec![
                "--verify",
                um.to_str().unwrap(),
                "--strategy",
                "random",
                "--grid",
                "5x5",
            ],
            "expected [N, 25]",
        ),
        // Uniform windows do not tile an odd grid.
        (
            vec![
                "--verify",
                um.to_str().unwrap(),
                "--strategy",
                "uniform",
                "--grid",
                "1x16",
            ],
            "do not tile",
        ),
        (
            vec![
                "--verify",
                um.to_str().unwrap(),
                "--strategy",
                "random",
                "--grid",
                "4x4",
                "--out",
                "x",
            ],
            "cannot be used with",
        ),
    ] {
        let o = tessera(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(says),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
}
