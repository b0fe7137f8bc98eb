//! `tessera pretrain` from the outside: a run stopped mid-epoch and resumed ends with exactly
//! the parameters and optimizer state of the uninterrupted run (bit for bit, on the CPU
//! backend); Ctrl-C saves before exiting, also when the signal reaches the process twice at
//! once (a process group's SIGINT, as `timeout -s INT` sends it); a resume with different
//! settings is refused.
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tessera::models::checkpoint;
use tessera::models::tensors::TensorFile;
use tessera::models::train::checkpoint::{state_of, MODEL_FILE, OPTIM_FILE};

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("pretrain-resume", name)
}

fn tessera(args: &[&str]) -> Output {
    common::tessera()
        .args(args)
        .output()
        .expect("the tessera binary runs")
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tessera failed: {text}");
    text
}

/// 256 images of the embedded slice, batch 32: 8 steps an epoch, 2 epochs.
const RECIPE: &[&str] = &[
    "pretrain",
    "--model",
    "mae_fmnist_small",
    "--limit",
    "256",
    "--batch",
    "32",
    "--epochs",
    "2",
    "--lr",
    "2e-3",
    "--warmup-steps",
    "3",
    "--seed",
    "7",
];

fn pretrain(dir: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&str> = RECIPE.to_vec();
    let d = dir.to_str().unwrap();
    args.extend(["--out", d]);
    args.extend(extra);
    tessera(&args)
}

/// Every tensor of a file, sorted by name, as raw bit patterns.
fn bits(path: &Path) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    let f = TensorFile::read(path).unwrap();
    let mut v: Vec<_> = f
        .tensors
        .into_iter()
        .map(|(n, t)| (n, t.shape, t.data.iter().map(|x| x.to_bits()).collect()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn losses(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{}", f[0], f[2])
        })
        .collect()
}

#[test]
fn stopped_and_resumed_equals_uninterrupted_bit_for_bit() {
    let whole = scratch("whole");
    ok(&pretrain(&whole, &[]));

    let split = scratch("split");
    // Stop mid-epoch (step 5 of 8), then continue with no settings at all.
    let text = ok(&pretrain(&split, &["--stop-after", "5"]));
    assert!(text.contains("stopped after step 5 of 16"), "{text}");
    let file = TensorFile::read(&split.join(MODEL_FILE)).unwrap();
    let state = state_of(&file).unwrap();
    assert_eq!(
        (state.global_step, state.epoch, state.step_in_epoch),
        (5, 0, 5)
    );
    // The interrupted checkpoint is a plain model checkpoint for the other commands.
    checkpoint::load(&split.join(MODEL_FILE), None).unwrap();
    let d = split.to_str().unwrap();
    ok(&tessera(&["pretrain", "--out", d, "--resume"]));

    let (a, b) = (bits(&whole.join(MODEL_FILE)), bits(&split.join(MODEL_FILE)));
    assert_eq!(a.len(), b.len());
    let mut changed = 0;
    let init = scratch("init");
    ok(&pretrain(&init, &["--stop-after", "1"]));
    let first = bits(&init.join(MODEL_FILE));
    for ((x, y), f) in a.iter().zip(&b).zip(&first) {
        assert_eq!(x.0, y.0);
        assert!(x == y, "`{}` differs after resuming", x.0);
        changed += usize::from(x.2 != f.2);
    }
    // Training did move the parameters (so equality above is not trivially true).
    assert!(changed > 100, "only {changed} tensors changed");
    assert_eq!(
        bits(&whole.join(OPTIM_FILE)),
        bits(&split.join(OPTIM_FILE)),
        "optimizer moments differ"
    );
    assert_eq!(losses(&whole), losses(&split));
    assert_eq!(losses(&whole).len(), 16);
}

#[test]
fn a_resume_with_other_settings_is_refused_and_changes_nothing() {
    let dir = scratch("refuse");
    ok(&pretrain(&dir, &["--stop-after", "2"]));
    let before = std::fs::read(dir.join(MODEL_FILE)).unwrap();
    let d = dir.to_str().unwrap();
    let out = tessera(&["pretrain", "--out", d, "--resume", "--seed", "8"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--seed") && err.contains("differs"), "{err}");
    // Starting a new run over it is refused too: it would throw the saved run away.
    let out = pretrain(&dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already holds a run") && err.contains("--resume"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join(MODEL_FILE)).unwrap(), before);
}

#[test]
fn ctrl_c_saves_a_checkpoint_before_exiting() {
    let dir = scratch("sigint");
    let d = dir.to_str().unwrap();
    // The recipe with 50 epochs, so the run is still going when the signal comes.
    let mut args: Vec<&str> = RECIPE.to_vec();
    let at = args.iter().position(|a| *a == "--epochs").unwrap();
    args[at + 1] = "50";
    args.extend(["--out", d]);
    let mut child = common::tessera()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first progress line (printed after step 1), then interrupt.
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines.next().expect("progress lines").unwrap();
        if line.trim_start().starts_with("step ") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let state = state_of(&TensorFile::read(&dir.join(MODEL_FILE)).unwrap()).unwrap();
    assert!(
        state.global_step >= 1 && state.global_step < 400,
        "{}",
        state.global_step
    );
    assert!(
        rest.iter().any(|l| l.contains("--resume")),
        "the user is told how to continue: {rest:?}"
    );
    // The metrics file matches the checkpoint.
    assert_eq!(losses(&dir).len() as u64, state.global_step);
}

#[cfg(unix)]
#[test]
fn a_signal_delivered_twice_at_once_still_saves() {
    use std::os::unix::process::CommandExt;
    let dir = scratch("sigint-group");
    let d = dir.to_str().unwrap();
    let mut args: Vec<&str> = RECIPE.to_vec();
    let at = args.iter().position(|a| *a == "--epochs").unwrap();
    args[at + 1] = "50";
    args.extend(["--out", d]);
    // Its own process group, so the group signal below reaches tessera and nothing else.
    let mut child = common::tessera()
        .args(&args)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines.next().expect("progress lines").unwrap();
        if line.trim_start().starts_with("step ") {
            break;
        }
    }
    // What `timeout -s INT` does: the child, then the whole group, a moment apart (procps'
    // kill for the group: the shell's builtin does not take a negative id everywhere).
    let pid = child.id();
    let status = Command::new("sh")
        .args([
            "-c",
            &format!("kill -INT {pid} && env kill -s INT -- -{pid}"),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?} {stderr}");
    assert!(!stderr.contains("exiting without saving"), "{stderr}");
    assert_eq!(stderr.matches("Ctrl-C: saving").count(), 1, "{stderr}");
    let state = state_of(&TensorFile::read(&dir.join(MODEL_FILE)).unwrap()).unwrap();
    assert!(state.global_step >= 1, "{}", state.global_step);
    assert_eq!(losses(&dir).len() as u64, state.global_step);
    assert!(rest.iter().any(|l| l.contains("--resume")), "{rest:?}");
}
