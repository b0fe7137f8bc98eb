#!/usr/bin/env bash
# Builds, on a machine with the Rust toolchain, everything a lent GPU machine runs (it has no
# toolchain and no network) and packs it into ./gpu-bundle.tar.xz (ignored by git):
#   gpu-bundle/tessera           the release CLI, stripped
#   gpu-bundle/tests/<name>      the GPU test executables of scripts/gpu-tests.txt, stripped
#   gpu-bundle/lib/libvulkan.so.1  this machine's Vulkan loader, used only where the GPU
#                                machine has none (wgpu loads it at run time)
#   gpu-bundle/MANIFEST, SHA256SUMS  what was built from which commit; checksums
# The device tool carries it (carry: ["gpu-bundle.tar.xz"], at most 64 MiB in all); on the
# GPU machine `bash scripts/gpu-check.sh` unpacks and runs it. Fails when it would not fit.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin # ldconfig, for users whose PATH lacks them
cd "$(dirname "$0")/.."

LIMIT=$((64 * 1024 * 1024)) # the device tool's limit on carried files
ARCHIVE=gpu-bundle.tar.xz
STAGE=target/gpu-bundle/gpu-bundle
TESTS=$(awk '!/^#/ && NF {print $1}' scripts/gpu-tests.txt)

# Every test source that opens an adapter must be listed, or the GPU machine never runs it.
# A test's sources are its file plus the module directories it declares (`mod harness;`),
# except the shared `common` helpers, which every test declares: a test opens an adapter when
# its own sources call `require_gpu()` or the shared `wgpu_device()`.
missing=()
for f in tests/*.rs */tests/*.rs; do
  srcs=("$f")
  for m in $(sed -n 's/^ *\(pub \)\{0,1\}mod \([a-z_0-9]*\).*/\2/p' "$f"); do
    [ "$m" = common ] && continue
    for s in "$(dirname "$f")/$m".rs "$(dirname "$f")/$m"/*.rs; do
      [ -f "$s" ] && srcs+=("$s")
    done
  done
  if grep -qE 'require_gpu\(|wgpu_device\(' "${srcs[@]}"; then
    name=$(basename "$f" .rs)
    grep -qx "$name" <<<"$TESTS" || missing+=("$f")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu-build: these tests open a GPU adapter but are not in scripts/gpu-tests.txt: ${missing[*]}" >&2
  exit 1
fi

# The same command as the test suite (README, .ci/run): same profile, same feature
# unification, so after `cargo test --workspace --release` it rebuilds nothing.
mkdir -p target
cargo test --workspace --release --no-run --message-format=json-render-diagnostics \
  > target/gpu-build-artifacts.json
# "bundle-path source-path" for the CLI and each wanted test executable.
pairs=$(python3 - target/gpu-build-artifacts.json $TESTS <<'EOF'
import json, sys
wanted = set(sys.argv[2:])
found = {}
for line in open(sys.argv[1]):
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
        continue
    target = msg["target"]
    if target["kind"] == ["bin"] and target["name"] == "tessera" and not msg["profile"]["test"]:
        key = "tessera"
    elif target["kind"] == ["test"] and target["name"] in wanted:
        key = "tests/" + target["name"]
    else:
        continue
    found.setdefault(key, set()).add(msg["executable"])
for key in ["tessera"] + ["tests/" + t for t in sorted(wanted)]:
    exes = found.get(key, set())
    if len(exes) != 1:
        sys.exit(f"gpu-build: expected one executable for {key}, cargo reported {sorted(exes)}")
    print(key, exes.pop())
EOF
)

rm -rf "$(dirname "$STAGE")"
mkdir -p "$STAGE/tests" "$STAGE/lib"
while read -r dest src; do
  strip -o "$STAGE/$dest" "$src"
done <<<"$pairs"
vulkan=$(ldconfig -p 2>/dev/null | awk '$1 == "libvulkan.so.1" && !p {p = $NF} END {print p}')
if [ -n "$vulkan" ]; then
  cp -L "$vulkan" "$STAGE/lib/libvulkan.so.1"
else
  echo "gpu-build: warning: no libvulkan.so.1 here to bundle; the GPU machine must have its own"
fi

# The newest glibc symbol version the executables need: the GPU machine's glibc must be at
# least that (gpu-check.sh compares and says so).
glibc=$(objdump -T "$STAGE/tessera" "$STAGE"/tests/* | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' \
  | sort -uV | tail -1)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit+uncommitted-changes"
fi
{
  echo "commit $commit"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "glibc_needed $glibc"
  echo "tests $(echo $TESTS)"
} > "$STAGE/MANIFEST"
(cd "$STAGE" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)

# xz -9: its 64 MiB dictionary spans all the executables, which share most of their code
# (6.6 MiB, against 9.3 at -6 and 17 with gzip).
tar -C "$(dirname "$STAGE")" -cf - gpu-bundle | xz -9 -T1 > "$ARCHIVE.tmp"
mv "$ARCHIVE.tmp" "$ARCHIVE"

echo "gpu-build: bundled (stripped sizes):"
(cd "$STAGE" && find . -type f | sort | xargs ls -l | awk '{printf "  %-28s %6.1f MiB\n", $NF, $5 / 1048576}')
cat "$STAGE/MANIFEST" | sed 's/^/  /'
size=$(stat -c %s "$ARCHIVE")
awk -v s="$size" -v l="$LIMIT" -v a="$ARCHIVE" \
  'BEGIN {printf "gpu-build: %s is %.1f MiB (%d bytes); the carry limit is %.0f MiB\n", a, s / 1048576, s, l / 1048576}'
if [ "$size" -gt "$LIMIT" ]; then
  echo "gpu-build: $ARCHIVE does not fit in the $((LIMIT / 1048576)) MiB the device tool carries" >&2
  exit 1
fi
