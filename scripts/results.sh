#!/usr/bin/env bash
# Regenerates the README's results table: XNNPACK through ../shared/peers/run,
# then pointwise, gemm 0.19 and matrixmultiply in one process
# (benches/results.rs), back to back on this machine, 1 thread; RUNS times
# (3 unless --runs says), and then the best of the runs of each implementation
# per layer (scripts/best_of_runs.py): the machine is shared, and other
# tenants slow a run now and then.
#   bash scripts/results.sh                     # prints the table
#   bash scripts/results.sh --runs 1            # one run, as it came
#   bash scripts/results.sh --readme            # also replaces the table in README.md
#   bash scripts/results.sh --avx2 [--readme]   # AVX2 kernels on both sides: pointwise's
#                                                 (POINTWISE_ISA=avx2) against gemm's (built
#                                                 without its AVX-512 ones); no XNNPACK, which
#                                                 runs what the CPU has; the README's second table
# Each run's own table goes to stderr, so that a disturbed run shows.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
readme=false
avx2=false
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="${2:-}"; shift $(($# > 1 ? 2 : 1)) ;;
        --readme) readme=true; shift ;;
        --avx2) avx2=true; shift ;;
        *) echo "usage: bash scripts/results.sh [--runs N] [--avx2] [--readme]" >&2; exit 2 ;;
    esac
done
marker=results
if $avx2; then
    export POINTWISE_ISA=avx2
    marker=results-avx2
else
    # The main table is of the ISA dispatch picks, whatever the shell has set.
    unset POINTWISE_ISA
fi
case "$runs" in
    '' | *[!0-9]*) echo "--runs takes a positive number" >&2; exit 2 ;;
esac
[ "$((10#$runs))" -ge 1 ] || { echo "--runs takes a positive number" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tables=()
for run in $(seq 1 "$runs"); do
    if $avx2; then
        cargo run --release --quiet -p pointwise-benches --no-default-features --example results >"$work/run$run.md"
    else
        ../shared/peers/run tflite_xnnpack >"$work/xnn$run" 2>/dev/null || echo "warning: XNNPACK peers did not run; its column is n/a" >&2
        cargo run --release --quiet -p pointwise-benches --example results -- --xnnpack "$work/xnn$run" >"$work/run$run.md"
    fi
    { echo "run $run of $runs:"; cat "$work/run$run.md"; echo; } >&2
    tables+=("$work/run$run.md")
done
python3 scripts/best_of_runs.py "${tables[@]}" | tee "$work/table.md"
if $readme; then
    python3 - "$work/table.md" "$marker" <<'PY'
import sys
table = open(sys.argv[1]).read().strip()
readme = open("README.md").read()
start, end = f"<!-- {sys.argv[2]}:start -->", f"<!-- {sys.argv[2]}:end -->"
new = readme[: readme.index(start) + len(start)] + "\n" + table + "\n" + readme[readme.index(end):]
open("README.md", "w").write(new)
PY
fi
