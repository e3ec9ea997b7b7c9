#!/usr/bin/env bash
# A short, bounded libFuzzer run of fuzz/fuzz_targets/conv.rs (AddressSanitizer
# on): arbitrary bytes become one convolution call through the public API on
# every ISA this CPU has, checked against a model of the API's rules (invalid
# calls: a typed error and an untouched output), the scalar path, the f64
# reference, and the untouched channels. See docs/safety.md.
#
#   bash .ci/fuzz.sh              # 60 s
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh
#
# Installs the nightly toolchain and cargo-fuzz when missing; prints
# `FUZZ: NOT RUN: reason` and fails if it cannot. The working corpus lives in
# $CARGO_TARGET_DIR/fuzz/corpus/conv (default target/fuzz/...), seeded from the
# committed fuzz/corpus/conv, which it never writes. A crash is saved under
# fuzz/artifacts/conv/; reproduce with `cargo +nightly fuzz run conv <file>`.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}

not_run() {
    echo "FUZZ: NOT RUN: $*"
    exit 1
}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || not_run "cannot install the nightly toolchain"
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked >/dev/null 2>&1 || not_run "cannot install cargo-fuzz"
fi

target_dir=${CARGO_TARGET_DIR:-$PWD/target}/fuzz
corpus=$target_dir/corpus/conv
mkdir -p "$corpus" || not_run "cannot create $corpus"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS
cd fuzz
cargo +nightly fuzz build conv --target-dir "$target_dir" || not_run "cargo fuzz build failed"
echo "fuzzing for $seconds s (corpus $corpus)"
cargo +nightly fuzz run conv "$corpus" corpus/conv --target-dir "$target_dir" -- \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1
status=$?
grep -E 'INITED|DONE|ERROR|panicked|SUMMARY|Test unit written|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
if [ $status -ne 0 ]; then
    tail -n 80 "$log"
    echo "FUZZ: FAILED after $((SECONDS - start)) s (the crashing input is in fuzz/artifacts/conv/)"
    exit 1
fi
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
[ -n "$done_line" ] || not_run "libFuzzer did not report a DONE line"
echo "FUZZ: ok in $((SECONDS - start)) s: ${done_line#*DONE }"
