#!/usr/bin/env bash
# Builds, on this machine (which has the Rust toolchain), everything the GPU machine runs:
# the release CLI and the release test executables, collected in ./gpu-bundle (ignored by git).
# Carry it to the GPU machine (device tool: carry ["gpu-bundle"]) and run scripts/gpu-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf gpu-bundle && mkdir -p gpu-bundle/tests
cargo build --release --bin tessera
cp target/release/tessera gpu-bundle/
# Every test executable of the workspace, named after its target.
cargo test --workspace --release --no-run --message-format=json 2>/dev/null \
  | python3 -c '
import json, sys, shutil, os
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["profile"]["test"]:
        name = msg["target"]["name"] + "-" + msg["target"]["kind"][0]
        shutil.copy(msg["executable"], os.path.join("gpu-bundle/tests", name))
        print("bundled", name)
'
# Fixtures the tests read at run time travel with the working tree; nothing else is needed.
du -sh gpu-bundle
