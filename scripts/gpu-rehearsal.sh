#!/usr/bin/env bash
# Rehearses the GPU check here, the way the device tool runs it on a lent GPU machine, so that
# the first real run works: builds the bundle (scripts/gpu-build.sh, which reuses the release
# build of the tests), copies what the device tool copies (tracked and untracked-but-not-ignored
# files, plus the carried gpu-bundle.tar.xz) to a temporary directory outside the repository,
# and runs `bash scripts/gpu-check.sh --quick` there with no cargo on PATH and no cargo
# variables, on whatever Vulkan adapter this machine has (lavapipe in CI).
# It also rehearses the NVIDIA ICD fallback (lavapipe's library posing as the driver's), and
# checks that gpu-check fails when it must:
#   - a bundle with a test executable missing;
#   - a damaged fixture in the copied tree: the tests must read the copy (TESSERA_ROOT), not
#     the source tree they were built from, which still exists here;
#   - the bundle's CLI replaced by one that fails `eval`: the tests must run it (TESSERA_BIN).
# Exit status 0 only when all of that holds. CI runs it after the tests (.ci/run).
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin # ldconfig, for users whose PATH lacks them
cd "$(dirname "$0")/.."
REPO=$(pwd)
START=$SECONDS

echo "== rehearsal: building the bundle"
bash scripts/gpu-build.sh
BUILD_S=$((SECONDS - START))
BUNDLE_BYTES=$(stat -c %s gpu-bundle.tar.xz)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-gpu-rehearsal.XXXXXX")
case "$WORK/" in
  "$REPO"/*) echo "rehearsal: $WORK is inside the repository" >&2; exit 1 ;;
esac
ok=0
# Kept for a look when the rehearsal fails.
trap 'if [ $ok = 1 ]; then rm -rf "$WORK"; else echo "rehearsal: files kept in $WORK" >&2; fi' EXIT

# A copy of the working tree as the device tool makes it, with the bundle carried into it.
copy_tree() {
  mkdir -p "$1"
  git ls-files -z --cached --others --exclude-standard \
    | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$1"
  cp gpu-bundle.tar.xz "$1/"
}

# PATH without the directories that hold cargo or rustc, and no cargo variables: the GPU
# machine has no toolchain.
CLEAN_PATH=
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -x "$d/cargo" ] || [ -x "$d/rustc" ] || CLEAN_PATH+=${CLEAN_PATH:+:}$d
done
if PATH=$CLEAN_PATH command -v cargo > /dev/null; then
  echo "rehearsal: cannot hide cargo" >&2
  exit 1
fi
UNSET=()
for v in $(compgen -e | grep -E '^(CARGO|RUSTUP|TESSERA_BIN$|TESSERA_ROOT$)' || true); do
  UNSET+=(-u "$v")
done

# gpu_check DIR OUT ARGS...: gpu-check.sh run from DIR as the device tool runs it, with the
# variables of EXTRA_ENV (NAME=VALUE ...) added. Its temporary files (the unpacked bundle, what
# the tests write, also when they fail on purpose below) go to $WORK/tmp.
EXTRA_ENV=()
mkdir -p "$WORK/tmp"
gpu_check() {
  local dir=$1 out=$2
  shift 2
  (cd "$dir" && env "${UNSET[@]}" PATH="$CLEAN_PATH" OUT="$out" TMPDIR="$WORK/tmp" \
    "${EXTRA_ENV[@]}" bash scripts/gpu-check.sh "$@")
}

# part_status RESULTS_JSON PART: the part's status in gpu-check's results.json.
part_status() {
  sed -n "s/.*{\"part\":\"$2\",\"status\":\"\([A-Za-z]*\)\".*/\1/p" "$1" | tail -1
}

fail() {
  echo "rehearsal FAILED: $*" >&2
  exit 1
}

echo
echo "== rehearsal: gpu-check.sh --quick in $WORK/tree"
copy_tree "$WORK/tree"
t=$SECONDS
gpu_check "$WORK/tree" "$WORK/out" --quick | tee "$WORK/check.txt" || fail "gpu-check.sh --quick failed"
CHECK_S=$((SECONDS - t))
R=$WORK/out/results.json
grep -q '"ok":true' "$R" || fail "results.json does not say ok"
# Every part ran and passed: bundle, adapters, 2 matmuls, the step, the largest batch, 2 CPU
# benchmarks and each GPU test executable.
n_tests=$(awk '!/^#/ && NF' scripts/gpu-tests.txt | wc -l)
n_ok=$(grep -o '{"part":"[^"]*","status":"ok"' "$R" | wc -l)
[ "$n_ok" = $((8 + n_tests)) ] || fail "$n_ok parts ok in $R, expected $((8 + n_tests))"
[[ "$(tail -1 "$WORK/check.txt")" == "gpu-check: all "*" parts ok" ]] ||
  fail "the summary is not the last thing printed"

# Failures gpu-check must report. Each runs only the part concerned.
echo
echo "== rehearsal: gpu-check.sh must fail on a bundle with a file missing"
mkdir -p "$WORK/broken"
tar -xJf gpu-bundle.tar.xz -C "$WORK/broken"
rm "$WORK/broken/gpu-bundle/tests/gpu_smoke"
tar -C "$WORK/broken" -cf - gpu-bundle | xz -0 > "$WORK/missing.tar.xz"
if gpu_check "$WORK/tree" "$WORK/out-missing" --quick --only gpu_smoke \
  --bundle "$WORK/missing.tar.xz" > "$WORK/missing.txt"; then
  fail "gpu-check passed with tests/gpu_smoke missing from the bundle"
fi
[ "$(part_status "$WORK/out-missing/results.json" bundle)" = FAIL ] || fail "bundle part not FAIL"
[ "$(part_status "$WORK/out-missing/results.json" gpu_smoke)" = FAIL ] || fail "gpu_smoke not FAIL"
tail -5 "$WORK/missing.txt"

echo
echo "== rehearsal: the tests must read the fixtures of the tree gpu-check runs in"
copy_tree "$WORK/tree-damaged"
: > "$WORK/tree-damaged/tests/fixtures/mae-official/mae_public.expected.safetensors"
if gpu_check "$WORK/tree-damaged" "$WORK/out-damaged" --quick --only eval_wgpu \
  > "$WORK/damaged.txt"; then
  fail "eval_wgpu passed with a damaged fixture: the tests do not read TESSERA_ROOT"
fi
[ "$(part_status "$WORK/out-damaged/results.json" eval_wgpu)" = FAIL ] || fail "eval_wgpu not FAIL"
tail -3 "$WORK/damaged.txt"

echo
echo "== rehearsal: the tests must run the bundle's CLI"
mkdir -p "$WORK/stub"
tar -xJf gpu-bundle.tar.xz -C "$WORK/stub"
mv "$WORK/stub/gpu-bundle/tessera" "$WORK/stub/gpu-bundle/tessera.real"
# Lists adapters like the real CLI (so the GPU parts run) and fails everything else.
cat > "$WORK/stub/gpu-bundle/tessera" <<'EOF'
#!/bin/sh
[ "$1" = devices ] && exec "$(dirname "$0")/tessera.real" "$@"
echo "stub CLI: $*" >&2
exit 3
EOF
chmod +x "$WORK/stub/gpu-bundle/tessera"
(cd "$WORK/stub/gpu-bundle" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
tar -C "$WORK/stub" -cf - gpu-bundle | xz -0 > "$WORK/stub.tar.xz"
if gpu_check "$WORK/tree" "$WORK/out-stub" --quick --only eval_wgpu \
  --bundle "$WORK/stub.tar.xz" > "$WORK/stub.txt"; then
  fail "eval_wgpu passed with a CLI that fails: the tests do not run TESSERA_BIN"
fi
[ "$(part_status "$WORK/out-stub/results.json" eval_wgpu)" = FAIL ] || fail "eval_wgpu not FAIL"
grep -q 'stub CLI' "$WORK/out-stub/test-eval_wgpu.log" || fail "eval_wgpu did not run the stub"
tail -3 "$WORK/stub.txt"

echo
echo "== rehearsal: the NVIDIA ICD fallback, with lavapipe's library posing as the driver's"
lvp=$(ldconfig -p 2>/dev/null | awk '$1 == "libvulkan_lvp.so" && !p {p = $NF} END {print p}')
[ -n "$lvp" ] || fail "no lavapipe (libvulkan_lvp.so) to rehearse with; apt-get install mesa-vulkan-drivers"
mkdir -p "$WORK/fake-nvidia"
ln -s "$lvp" "$WORK/fake-nvidia/libGLX_nvidia.so.0"
# The loader finds no driver at first (a missing ICD file), as on a GPU machine whose driver's
# ICD is not registered; gpu-check must find libGLX_nvidia.so.0 on LD_LIBRARY_PATH and retry.
EXTRA_ENV=(VK_ICD_FILENAMES="$WORK/no-icd.json" VK_DRIVER_FILES="$WORK/no-icd.json"
  LD_LIBRARY_PATH="$WORK/fake-nvidia${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
gpu_check "$WORK/tree" "$WORK/out-icd" --quick --only gpu_smoke > "$WORK/icd.txt" ||
  fail "gpu-check failed with the ICD fallback (see $WORK/icd.txt)"
EXTRA_ENV=()
grep -q 'ICD fallback' "$WORK/out-icd/results.json" || fail "the ICD fallback was not used"
[ "$(part_status "$WORK/out-icd/results.json" gpu_smoke)" = ok ] || fail "gpu_smoke not ok"
tail -4 "$WORK/icd.txt"

ok=1
echo
awk -v b="$BUNDLE_BYTES" -v bs="$BUILD_S" -v cs="$CHECK_S" -v all=$((SECONDS - START)) \
  'BEGIN {printf "rehearsal passed: bundle %.1f MiB (%d bytes, limit 64 MiB), built in %ds; gpu-check --quick %ds; rehearsal %ds in all\n", b / 1048576, b, bs, cs, all}'
