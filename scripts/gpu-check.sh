#!/usr/bin/env bash
# Runs on the GPU machine (no Rust toolchain, no network) from the repository root, using the
# executables that scripts/gpu-build.sh collected in ./gpu-bundle. Prints the adapters, runs the
# test executables on the GPU, runs the benchmarks and prints a short table last.
set -uo pipefail
cd "$(dirname "$0")/.."
B=gpu-bundle
export TESSERA_REQUIRE_GPU=1
mkdir -p "${OUT:-/tmp/tessera-gpu-out}"
OUTDIR="${OUT:-/tmp/tessera-gpu-out}"

echo "== nvidia-smi"; nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
echo "== adapters"
if ! $B/tessera devices; then echo "tessera devices failed"; fi
if ! $B/tessera devices --json 2>/dev/null | grep -q '"backend"'; then
  # No Vulkan ICD is registered: point the loader at the NVIDIA driver's Vulkan entry point.
  lib=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/{print $NF; exit}')
  [ -n "$lib" ] || lib=$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 2>/dev/null | head -1)
  if [ -n "$lib" ]; then
    icd="$OUTDIR/nvidia_icd.json"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$lib" > "$icd"
    export VK_ICD_FILENAMES="$icd"
    echo "== no adapter; retrying with VK_ICD_FILENAMES=$icd"
    $B/tessera devices || true
  else
    echo "no libGLX_nvidia.so.0 found; no Vulkan ICD to try"
  fi
fi

echo "== GPU test executables"
pass=0; fail=0
for t in $B/tests/*; do
  name=$(basename "$t")
  if timeout 300 "$t" --test-threads=1 > "$OUTDIR/$name.log" 2>&1; then
    pass=$((pass+1)); echo "ok   $name"
  else
    fail=$((fail+1)); echo "FAIL $name"; tail -20 "$OUTDIR/$name.log"
  fi
done

echo "== benchmarks"
rows=()
bench() { # label, args...
  local label=$1; shift
  if out=$(timeout 240 $B/tessera bench "$@" --json 2>"$OUTDIR/bench-$label.err"); then
    echo "$out" > "$OUTDIR/bench-$label.json"; rows+=("$label|$out")
  else
    rows+=("$label|FAILED: $(tail -1 "$OUTDIR/bench-$label.err")")
  fi
}
bench vitb16-b64-wgpu --model mae_vit_base_patch16 --batch 64 --backend wgpu
bench matmul4096-wgpu --matmul 4096 --backend wgpu
bench tiny32-b64-wgpu --model mae_tiny_32 --batch 64 --backend wgpu

echo
echo "== summary (tests: $pass passed, $fail failed)"
printf '%-20s %s\n' "bench" "result (json)"
for r in "${rows[@]}"; do printf '%-20s %s\n' "${r%%|*}" "${r#*|}"; done
