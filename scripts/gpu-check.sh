#!/usr/bin/env bash
# The GPU check. Runs on a lent GPU machine (no Rust toolchain, no network) from the repository
# root, with the gpu-bundle.tar.xz that scripts/gpu-build.sh made and the device tool carried.
# Parts, in order of value, each with its own time limit, all within one time budget (8 minutes
# by default, so that a slow part cannot eat the machine's 15 minutes and bring back nothing):
#   bundle           unpack into a temporary directory; checksums; glibc
#   adapters         what wgpu sees (`tessera devices`); NVIDIA ICD fallback when it sees no GPU
#   matmul-N         WGSL matmul GFLOP/s at 4096³ and 8192³
#   mae-bN           MAE ViT-B/16 training step (forward, backward, AdamW) at batch 64
#   mae-max-batch    the largest batch that trains: doubling from 128 until one fails (halving
#                    from 32 when batch 64 failed)
#   cpu-...          the CPU backend on the same machine's cores, for the ratio
#   <test name>      the GPU test executables of scripts/gpu-tests.txt (equivalence with the
#                    CPU backend, parity with the official MAE numbers)
# Everything measured goes under $OUT as JSON (results.json gathers it, NAME.json is each
# benchmark's own output, NAME.log its stderr); the summary table is printed last. Exit status
# 0 only when every part that ran passed.
#
# Usage: bash scripts/gpu-check.sh [--quick] [--budget SECONDS] [--only PART,...] [--bundle FILE]
#   --quick    small shapes that a software adapter (lavapipe) runs in seconds; software
#              adapters then count as adapters (the rehearsal, scripts/gpu-rehearsal.sh)
#   --budget   total seconds for all parts (default 480; 300 with --quick)
#   --only     run only these parts: names from the summary, or the groups `bench`, `cpu`,
#              `tests`; the bundle and adapters parts always run
#   --bundle   the archive (default gpu-bundle.tar.xz in the repository root)
set -uo pipefail # no -e: a failing part is recorded and the check goes on
PATH=$PATH:/usr/sbin:/sbin # ldconfig, for users whose PATH lacks them

QUICK=0
BUDGET=
ONLY=
ARCHIVE=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --budget) BUDGET=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --bundle) ARCHIVE=$2; shift ;;
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $ARCHIVE in
  '') ;;
  /*) ;;
  *) ARCHIVE=$PWD/$ARCHIVE ;; # relative to where it was called from
esac
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ARCHIVE=${ARCHIVE:-$ROOT/gpu-bundle.tar.xz}

if [ -n "$BUDGET" ] && ! [[ $BUDGET =~ ^[0-9]+$ ]]; then
  echo "gpu-check: --budget takes whole seconds, not $BUDGET" >&2
  exit 2
fi
if [ "$QUICK" = 1 ]; then
  BUDGET=${BUDGET:-300}
  MATMUL_SIZES="128 256"
  MODEL=mae_fmnist_small BATCH=2 WARMUP=1 ITERS=2
  MAX_BATCH_CAP=8
  CPU_MATMUL=256 CPU_MODEL=mae_fmnist_small CPU_BATCH=2
else
  BUDGET=${BUDGET:-480}
  MATMUL_SIZES="4096 8192"
  MODEL=mae_vit_base_patch16 BATCH=64 WARMUP=2 ITERS=5
  MAX_BATCH_CAP=4096
  # Same matmul shape as the GPU's first; ViT-B/16 at batch 8 takes seconds a step on 16 cores.
  CPU_MATMUL=4096 CPU_MODEL=mae_vit_base_patch16 CPU_BATCH=8
fi
# Part names: mae-vitb16-b64, cpu-mae-fmnist_small-b2, ...
short() { local s=${1#mae_}; echo "${s/vit_base_patch16/vitb16}"; }
RESERVE=5   # seconds kept back for the summary
MIN_PART=10 # a part with less time than this left is skipped, not started

OUT=${OUT:-/tmp/tessera-gpu-check-$$}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
START=$SECONDS

export TESSERA_REQUIRE_GPU=1 # the GPU tests fail instead of skipping without an adapter
export NODEVICE_SELECT=1     # Mesa's device-select layer complains on every device open
export TESSERA_ROOT=$ROOT    # the tests read fixtures from this tree, not the build machine's
export RUST_BACKTRACE=1

# ---------------------------------------------------------------------------------------------
# Bookkeeping: one record per part; the summary and results.json are made from them.
NAMES=() STATUSES=() SECS=() TEXTS=() RESULTS=() ERRORS=()

# JSON string body: backslashes and quotes escaped, control characters dropped.
json_escape() { printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'; }
# A number or string field of the first object in a JSON file (compact or pretty).
json_num() { grep -o "\"$2\": *[-0-9.eE+]*" "$1" 2>/dev/null | head -1 | sed 's/.*: *//'; }
json_str() { grep -o "\"$2\": *\"[^\"]*\"" "$1" 2>/dev/null | head -1 | sed 's/.*: *"//; s/"$//'; }
# The file's content when it is a JSON object or array, else null.
json_or_null() {
  case $(head -c 1 "$1" 2>/dev/null) in
    '{' | '[') cat "$1" ;;
    *) echo null ;;
  esac
}
# The last non-empty line of a log, for a failure's one-line reason.
last_line() { grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -1 | cut -c 1-200; }

# record NAME STATUS SECONDS TEXT [RESULT_JSON] [ERROR]
record() {
  NAMES+=("$1") STATUSES+=("$2") SECS+=("$3") TEXTS+=("$4") RESULTS+=("${5:-null}") ERRORS+=("${6:-}")
  printf '%-7s %-24s %4ss  %s\n' "$2" "$1" "$3" "$4${6:+ — $6}"
}

# Whether --only selects a part (by name or group).
wanted() {
  [ -z "$ONLY" ] && return 0
  local w
  for w in "$@"; do
    [[ ",$ONLY," == *",$w,"* ]] && return 0
  done
  return 1
}

# The time limit for a part: its own cap, or what is left of the budget when that is less.
limit_for() {
  local left=$((BUDGET - (SECONDS - START) - RESERVE))
  if [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}

# run_limited LIMIT STDOUT_FILE STDERR_FILE CMD...: sets RC (124 on timeout) and DT (seconds).
# With the same file for both, stderr and stdout go there interleaved.
run_limited() {
  local limit=$1 out=$2 err=$3 t0=$SECONDS
  shift 3
  # timeout signals the command's whole process group (test executables start the CLI).
  if [ "$out" = "$err" ]; then
    timeout -k 10 "$limit" "$@" > "$out" 2>&1
  else
    timeout -k 10 "$limit" "$@" > "$out" 2> "$err"
  fi
  RC=$?
  DT=$((SECONDS - t0))
  if [ "$RC" = 137 ]; then RC=124; fi # killed after ignoring the first signal
}

status_of() {
  case $1 in
    0) echo ok ;;
    124) echo TIMEOUT ;;
    *) echo FAIL ;;
  esac
}

# Prints the end of a failed part's log, so the reason shows even without $OUT.
show_tail() { echo "  --- last lines of $1:"; tail -n "${2:-15}" "$1" 2>/dev/null | sed 's/^/  | /'; }

# ---------------------------------------------------------------------------------------------
# bundle: unpack, check that nothing is missing or damaged, and that this glibc is new enough.
BUNDLE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-gpu-bundle.XXXXXX")
trap 'rm -rf "$BUNDLE_TMP"' EXIT
B=$BUNDLE_TMP/gpu-bundle
TESTS=$(awk '!/^#/ && NF {print $1 " " $2}' "$ROOT/scripts/gpu-tests.txt")
check_bundle() {
  local t0=$SECONDS problems=() note=""
  if [ ! -f "$ARCHIVE" ]; then
    record bundle FAIL 0 "no $ARCHIVE" null "run scripts/gpu-build.sh and carry gpu-bundle.tar.xz"
    return
  fi
  if ! tar -xJf "$ARCHIVE" -C "$BUNDLE_TMP" 2> "$OUT/bundle.log"; then
    record bundle FAIL $((SECONDS - t0)) "cannot unpack $ARCHIVE" null "$(last_line "$OUT/bundle.log")"
    return
  fi
  if ! (cd "$B" && sha256sum --quiet -c SHA256SUMS) >> "$OUT/bundle.log" 2>&1; then
    problems+=("checksums: $(grep -c 'FAILED' "$OUT/bundle.log") file(s) missing or damaged")
  fi
  local name cap
  while read -r name cap; do
    [ -x "$B/tests/$name" ] || problems+=("no tests/$name")
  done <<<"$TESTS"
  [ -x "$B/tessera" ] || problems+=("no tessera")
  local need have
  need=$(awk '$1 == "glibc_needed" {print $2}' "$B/MANIFEST" 2>/dev/null)
  have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
  if [ -n "$need" ] && [ -n "$have" ] &&
    [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    problems+=("glibc $have here; the executables need $need (build on an older system)")
  fi
  BUNDLE_COMMIT=$(awk '$1 == "commit" {print $2}' "$B/MANIFEST" 2>/dev/null)
  if command -v git > /dev/null && git -C "$ROOT" rev-parse HEAD > /dev/null 2>&1; then
    local head
    head=$(git -C "$ROOT" rev-parse --short=12 HEAD)
    [[ "$BUNDLE_COMMIT" == "$head"* ]] || note="; tree is at $head"
  fi
  local size
  size=$(stat -c %s "$ARCHIVE")
  local text
  text=$(awk -v s="$size" -v c="${BUNDLE_COMMIT:-?}" -v g="${have:-?}" \
    -v n="${need:-?}" 'BEGIN {printf "%.1f MiB, built from %s; glibc %s (needs %s)", s / 1048576, c, g, n}')$note
  local result="{\"archive_bytes\":$size,\"commit\":\"$(json_escape "${BUNDLE_COMMIT:-}")\",\"glibc\":\"$(json_escape "${have:-}")\",\"glibc_needed\":\"$(json_escape "${need:-}")\"}"
  if [ ${#problems[@]} -eq 0 ]; then
    record bundle ok $((SECONDS - t0)) "$text" "$result"
  else
    record bundle FAIL $((SECONDS - t0)) "$text" "$result" "$(printf '%s; ' "${problems[@]}" | sed 's/; $//')"
  fi
}
check_bundle
export TESSERA_BIN=$B/tessera # the CLI the tests run, instead of the build machine's path

# ---------------------------------------------------------------------------------------------
# adapters
GPU_OK=0
have_lib() {
  ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n {found = 1} END {exit !found}' && return 0
  local d
  for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}
# The NVIDIA driver's Vulkan entry point: from the linker cache, LD_LIBRARY_PATH (where
# containers often put the driver, e.g. /usr/local/nvidia/lib64) or the usual directories.
find_nvidia_glx() {
  local lib d dirs
  lib=$(ldconfig -p 2>/dev/null | awk '$1 == "libGLX_nvidia.so.0" && !p {p = $NF} END {print p}')
  if [ -n "$lib" ]; then echo "$lib"; return; fi
  IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
  for d in "${dirs[@]}" /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -n "$d" ] && [ -e "$d/libGLX_nvidia.so.0" ] && { echo "$d/libGLX_nvidia.so.0"; return; }
  done
}
# Whether adapters.json lists an adapter that counts: a hardware one (any one with --quick).
adapter_counts() {
  if [ "$QUICK" = 1 ]; then
    grep -q '"name"' "$OUT/adapters.json"
  else
    grep -q '"software": *false' "$OUT/adapters.json"
  fi
}
list_adapters() {
  timeout -k 5 60 "$B/tessera" devices > "$OUT/adapters.txt" 2>> "$OUT/adapters.log"
  timeout -k 5 60 "$B/tessera" devices --json > "$OUT/adapters.json" 2>> "$OUT/adapters.log"
}
check_adapters() {
  local t0=$SECONDS notes=()
  {
    echo "== nvidia-smi"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
    echo "== Vulkan ICD files"
    ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 || true
    echo "== Vulkan and NVIDIA libraries"
    ldconfig -p 2>/dev/null | grep -Ei 'vulkan|nvidia' || true
  } > "$OUT/adapters.log" 2>&1
  # wgpu loads the Vulkan loader at run time; some GPU images ship the driver without it.
  if ! have_lib libvulkan.so.1 && [ -f "$B/lib/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH=$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    notes+=("Vulkan loader from the bundle")
  fi
  echo "== tessera devices" >> "$OUT/adapters.log"
  list_adapters
  if ! adapter_counts; then
    # Containers often carry the NVIDIA driver without registering its Vulkan ICD: point the
    # loader at the driver's Vulkan entry point, libGLX_nvidia.so.0, and look again.
    local lib
    lib=$(find_nvidia_glx)
    if [ -n "$lib" ]; then
      local icd=$OUT/nvidia_icd.json
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' \
        "$lib" > "$icd"
      # VK_DRIVER_FILES is the newer loaders' name for it; older ones read only the first.
      export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
      notes+=("ICD fallback: VK_ICD_FILENAMES=$icd")
      echo "== tessera devices with VK_ICD_FILENAMES=$icd" >> "$OUT/adapters.log"
      list_adapters
    else
      notes+=("no libGLX_nvidia.so.0 for an ICD fallback")
    fi
  fi
  cat "$OUT/adapters.txt"
  # The card and driver as NVIDIA names them, for the record.
  local smi
  smi=$(timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
    2>/dev/null | head -1)
  [ -z "$smi" ] || notes+=("nvidia-smi: $smi")
  # "NAME (backend, type)" for each adapter, from the text listing.
  local names
  names=$(awk '/^adapter [0-9]+:/ {sub(/^adapter [0-9]+: /, ""); sub(/  \[default\]$/, ""); n = $0}
    /^  backend:/ {b = $2} /^  type:/ {sub(/^  type: */, ""); printf "%s%s (%s, %s)", sep, n, b, $0; sep = "; "}' \
    "$OUT/adapters.txt")
  local text=${names:-none}${notes[*]:+ [$(printf '%s; ' "${notes[@]}" | sed 's/; $//')]}
  if adapter_counts; then
    GPU_OK=1
    record adapters ok $((SECONDS - t0)) "$text" "$(json_or_null "$OUT/adapters.json")"
  else
    local why="no GPU adapter"
    [ "$QUICK" = 1 ] || why="no hardware GPU adapter (software ones do not count without --quick)"
    record adapters FAIL $((SECONDS - t0)) "$text" "$(json_or_null "$OUT/adapters.json")" "$why"
    show_tail "$OUT/adapters.log" 30
  fi
}
check_adapters

# ---------------------------------------------------------------------------------------------
# benchmarks: `tessera bench ... --json` prints one JSON object.

# The summary text of a benchmark's JSON.
bench_text() {
  if [ -n "$(json_num "$1" gflops)" ]; then
    awk -v g="$(json_num "$1" gflops)" -v ms="$(json_num "$1" ms)" -v c="$(json_str "$1" clock)" \
      'BEGIN {printf "%.1f GFLOP/s (%.2f ms, %s)", g, ms, c}'
  else
    awk -v ms="$(json_num "$1" ms_per_step)" -v ips="$(json_num "$1" images_per_s)" \
      -v peak="$(json_num "$1" planned_peak_bytes)" \
      'BEGIN {printf "%.1f ms/step, %.1f img/s, planned peak %.2f GiB", ms, ips, peak / 2^30}'
  fi
}

# Skips (and records) a part that needs a GPU when there is none, or any part when the budget
# is spent; otherwise sets LIMIT, the part's time limit.
start_part() { # NAME CAP NEEDS_GPU
  if [ "$3" = 1 ] && [ "$GPU_OK" != 1 ]; then
    record "$1" SKIPPED 0 "no GPU adapter"
    return 1
  fi
  LIMIT=$(limit_for "$2")
  if [ "$LIMIT" -lt "$MIN_PART" ]; then
    record "$1" SKIPPED 0 "time budget spent"
    return 1
  fi
}

# bench_part NAME CAP NEEDS_GPU BENCH_ARGS...
bench_part() {
  local name=$1 cap=$2 gpu=$3
  shift 3
  start_part "$name" "$cap" "$gpu" || return 0
  run_limited "$LIMIT" "$OUT/$name.json" "$OUT/$name.log" "$B/tessera" bench "$@" --json
  if [ "$RC" = 0 ]; then
    record "$name" ok "$DT" "$(bench_text "$OUT/$name.json")" "$(json_or_null "$OUT/$name.json")"
  else
    local st
    st=$(status_of "$RC")
    [ "$RC" = 124 ] && echo "timed out after ${LIMIT}s" >> "$OUT/$name.log"
    record "$name" "$st" "$DT" "exit $RC" null "$(last_line "$OUT/$name.log")"
    show_tail "$OUT/$name.log"
  fi
}

for n in $MATMUL_SIZES; do
  wanted "matmul-$n" bench && bench_part "matmul-$n" $((n >= 8192 ? 120 : 90)) 1 \
    --matmul "$n" --backend wgpu
done
BASE=mae-$(short "$MODEL")-b$BATCH
RC=skipped
wanted "$BASE" bench && bench_part "$BASE" 150 1 \
  --model "$MODEL" --batch "$BATCH" --backend wgpu --warmup "$WARMUP" --iters "$ITERS"
BASE_RC=$RC

# One try of the largest-batch search: a short run at batch $1 within $2 seconds. Sets RC and
# DT, and adds the try to ATTEMPTS (JSON).
try_batch() {
  local try=mae-max-batch-b$1
  run_limited "$2" "$OUT/$try.json" "$OUT/$try.log" "$B/tessera" bench --model "$MODEL" \
    --batch "$1" --backend wgpu --warmup 1 --iters 2 --json
  local err=""
  [ "$RC" = 0 ] || err=$(last_line "$OUT/$try.log")
  ATTEMPTS+="${ATTEMPTS:+,}{\"batch\":$1,\"status\":\"$(status_of "$RC")\",\"seconds\":$DT,\"result\":$(json_or_null "$OUT/$try.json"),\"error\":\"$(json_escape "$err")\"}"
}

# The largest batch that trains. From the base batch: double until a batch fails (too large for
# the device's limits or memory), times out, the next one cannot finish within what is left (a
# doubled batch takes about twice as long), or the cap is reached. When the base batch itself
# failed (not timed out), halve instead until one trains: that step time is then the only one.
max_batch() {
  local name=mae-max-batch
  start_part "$name" 150 1 || return 0
  local t0=$SECONDS end=$((SECONDS + LIMIT)) largest="" best="" stop="" b left last_dt=0
  ATTEMPTS=""
  if [ "$BASE_RC" = 0 ]; then
    largest=$BATCH best=$OUT/$BASE.json b=$((BATCH * 2)) stop="cap $MAX_BATCH_CAP reached"
    while [ "$b" -le "$MAX_BATCH_CAP" ]; do
      left=$((end - SECONDS))
      if [ "$left" -lt $((2 * last_dt)) ] || [ "$left" -lt "$MIN_PART" ]; then
        stop="time limit (batch $b would not finish)"
        break
      fi
      try_batch "$b" "$left"
      if [ "$RC" != 0 ]; then
        stop="batch $b $(status_of "$RC"): $(last_line "$OUT/mae-max-batch-b$b.log")"
        break
      fi
      largest=$b best=$OUT/mae-max-batch-b$b.json last_dt=$DT b=$((b * 2))
    done
  elif [ "$BASE_RC" != 124 ] && [ "$BASE_RC" != skipped ]; then
    b=$((BATCH / 2)) stop="batch $BATCH failed"
    while [ "$b" -ge 1 ]; do
      left=$((end - SECONDS))
      [ "$left" -ge "$MIN_PART" ] || { stop="time limit"; break; }
      try_batch "$b" "$left"
      if [ "$RC" = 0 ]; then
        largest=$b best=$OUT/mae-max-batch-b$b.json
        break
      fi
      stop="batch $b $(status_of "$RC"): $(last_line "$OUT/mae-max-batch-b$b.log")"
      b=$((b / 2))
    done
  else
    record "$name" SKIPPED 0 "the batch-$BATCH step ($BASE) did not run or timed out"
    return 0
  fi
  local result="{\"largest_batch\":${largest:-null},\"stopped\":\"$(json_escape "$stop")\",\"attempts\":[$ATTEMPTS]}"
  if [ -n "$largest" ]; then
    record "$name" ok $((SECONDS - t0)) "largest $largest: $(bench_text "$best"); stopped: $stop" "$result"
  else
    record "$name" FAIL $((SECONDS - t0)) "no batch trained" "$result" "$stop"
  fi
}
wanted mae-max-batch bench && max_batch

CPU_MM=cpu-matmul-$CPU_MATMUL
wanted "$CPU_MM" cpu bench && bench_part "$CPU_MM" 60 0 \
  --matmul "$CPU_MATMUL" --backend cpu --warmup 1 --iters 3
CPU_STEP=cpu-mae-$(short "$CPU_MODEL")-b$CPU_BATCH
wanted "$CPU_STEP" cpu bench && bench_part "$CPU_STEP" 120 0 \
  --model "$CPU_MODEL" --batch "$CPU_BATCH" --backend cpu --warmup 1 --iters 2

# ---------------------------------------------------------------------------------------------
# GPU test executables (libtest); they find the CLI and the fixtures through TESSERA_BIN and
# TESSERA_ROOT.
test_part() { # NAME CAP
  local name=$1 log=$OUT/test-$1.log
  start_part "$name" "$2" 1 || return 0
  if [ ! -x "$B/tests/$name" ]; then
    record "$name" FAIL 0 "not in the bundle"
    return 0
  fi
  run_limited "$LIMIT" "$log" "$log" "$B/tests/$name"
  local line passed failed ignored
  line=$(grep '^test result:' "$log" | tail -1)
  passed=$(grep -o '[0-9]* passed' <<<"$line" | cut -d' ' -f1)
  failed=$(grep -o '[0-9]* failed' <<<"$line" | cut -d' ' -f1)
  ignored=$(grep -o '[0-9]* ignored' <<<"$line" | cut -d' ' -f1)
  local result="{\"passed\":${passed:-null},\"failed\":${failed:-null},\"ignored\":${ignored:-null},\"exit\":$RC}"
  if [ "$RC" = 0 ] && [ -n "$passed" ] && [ "$passed" -gt 0 ]; then
    record "$name" ok "$DT" "$passed passed" "$result"
  else
    local which
    which=$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log" | paste -sd ' ' -)
    [ "$RC" = 124 ] && echo "timed out after ${LIMIT}s" >> "$log"
    record "$name" "$(status_of "$RC")" "$DT" "${passed:-?} passed, ${failed:-?} failed" "$result" \
      "${which:+failed: $which; }$(last_line "$log")"
    show_tail "$log" 25
  fi
}
while read -r name cap; do
  wanted "$name" tests && test_part "$name" "$cap"
done <<<"$TESTS"

# ---------------------------------------------------------------------------------------------
# results.json and the summary table, last.
TOTAL=$((SECONDS - START))
bad=0 parts=""
for i in "${!NAMES[@]}"; do
  [ "${STATUSES[$i]}" = ok ] || bad=$((bad + 1))
  parts+="${parts:+,}
  {\"part\":\"${NAMES[$i]}\",\"status\":\"${STATUSES[$i]}\",\"seconds\":${SECS[$i]},\"summary\":\"$(json_escape "${TEXTS[$i]}")\",\"error\":\"$(json_escape "${ERRORS[$i]}")\",\"result\":${RESULTS[$i]}}"
done
cat > "$OUT/results.json" <<EOF
{"mode":"$([ "$QUICK" = 1 ] && echo quick || echo full)","budget_s":$BUDGET,"seconds":$TOTAL,"ok":$([ "$bad" = 0 ] && echo true || echo false),
 "host":"$(json_escape "$(uname -nrm) $(nproc 2>/dev/null) cores")",
 "parts":[$parts]}
EOF

echo
echo "== gpu-check summary ($([ "$QUICK" = 1 ] && echo quick || echo full) mode, ${TOTAL}s of a ${BUDGET}s budget; JSON in $OUT)"
printf '%-24s %-7s %5s  %s\n' part status secs result
for i in "${!NAMES[@]}"; do
  printf '%-24s %-7s %5s  %s\n' "${NAMES[$i]}" "${STATUSES[$i]}" "${SECS[$i]}" \
    "${TEXTS[$i]}${ERRORS[$i]:+ — ${ERRORS[$i]}}"
done
if [ "$bad" = 0 ]; then
  echo "gpu-check: all ${#NAMES[@]} parts ok"
else
  echo "gpu-check: $bad of ${#NAMES[@]} parts not ok"
  exit 1
fi
