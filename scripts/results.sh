#!/usr/bin/env bash
# Regenerates the README's results table: XNNPACK through ../shared/peers/run,
# then pointwise, gemm 0.19 and matrixmultiply in one process
# (examples/results.rs), back to back on this machine, 1 thread.
#   bash scripts/results.sh            # prints the table
#   bash scripts/results.sh --readme   # also replaces the table in README.md
set -euo pipefail
cd "$(dirname "$0")/.."
xnn=$(mktemp)
trap 'rm -f "$xnn" "$xnn.md"' EXIT
../shared/peers/run tflite_xnnpack >"$xnn" 2>/dev/null || echo "warning: XNNPACK peers did not run; its column is n/a" >&2
cargo run --release --quiet --example results -- --xnnpack "$xnn" | tee "$xnn.md"
if [ "${1:-}" = "--readme" ]; then
    python3 - "$xnn.md" <<'PY'
import sys, re
table = open(sys.argv[1]).read().strip()
readme = open("README.md").read()
start, end = "<!-- results:start -->", "<!-- results:end -->"
new = readme[: readme.index(start) + len(start)] + "\n" + table + "\n" + readme[readme.index(end):]
open("README.md", "w").write(new)
PY
fi
