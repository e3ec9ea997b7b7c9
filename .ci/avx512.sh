#!/usr/bin/env bash
# AVX-512 kernels on a CI machine without AVX-512, under the Bochs emulator of
# ../shared/tools/avx512-emu: `bash .ci/avx512.sh` (from anywhere; .ci/run
# calls it). It runs the same way on a machine that has AVX-512: the emulated
# run checks the kernels on a second implementation of the instruction set,
# while `cargo test` covers them natively.
#
# 1. Builds the harness=false `isa_oracle` test as a static release binary
#    (crt-static: nothing from the host is needed in the guest). `--target` is
#    explicit so that RUSTFLAGS does not reach build scripts, and the static
#    build goes to target/x86_64-unknown-linux-gnu/, apart from the host one.
# 2. Boots it in Bochs (tigerlake model, AVX-512 F/CD/BW/DQ/VL) as
#    `isa_oracle avx512 --quick`: the full kernel sweep (every m, n and depth
#    remainder) and a trimmed set of convolution checks, with AVX-512 forced.
#    Naming `avx512` makes the binary fail loudly if it does not detect it.
#
# Prints the binary's `avx512: N passed, N failed` line and the wall times.
# Exits non-zero when a test fails, and when the emulator cannot run (missing
# tool, boot failure, guest panic, timeout): then it prints
# `AVX-512 (emulated): NOT RUN: <reason>` first, so that CI cannot pass
# without having run the AVX-512 tests.
#
# Environment: AVX512_CI_TIMEOUT (seconds for the emulated run, default 900);
# the emulator's own AVX512EMU_* variables (see its README) pass through.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null) || root=$(cd "$here/.." && pwd)
cd "$root"
start=$SECONDS

TARGET=x86_64-unknown-linux-gnu
EMU="$root/../shared/tools/avx512-emu/run"
TIMEOUT=${AVX512_CI_TIMEOUT:-900}

not_run() {
    echo "AVX-512 (emulated): NOT RUN: $*"
    exit 1
}
failed() {
    echo "AVX-512 (emulated): FAILED: $*"
    exit 1
}

[ "$(uname -m)" = x86_64 ] || not_run "the host is $(uname -m), not x86-64: the static x86-64 build needs a cross toolchain"
[ -e "$EMU" ] || not_run "the emulator is missing: no $EMU"
[ -x "$EMU" ] || not_run "the emulator is not executable: $EMU"

# 1. The static test binary. cargo prints one JSON line per artifact; the test
#    executable is the `isa_oracle` artifact with a non-null "executable".
echo "--- avx512/build: cargo test --release --no-run --test isa_oracle --target $TARGET (crt-static)"
json=$(mktemp)
log=$(mktemp)
trap 'rm -f "$json" "$log"' EXIT
build_start=$SECONDS
RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static" \
    cargo test --release --no-run --test isa_oracle --target "$TARGET" --message-format=json-render-diagnostics \
    >"$json" || failed "the static isa_oracle build failed"
bin=$(grep '"reason":"compiler-artifact"' "$json" | grep '"name":"isa_oracle"' \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -n "$bin" ] && [ -x "$bin" ] || failed "no isa_oracle executable in cargo's output"
echo "--- avx512/build: $bin ($((SECONDS - build_start)) s)"
if file "$bin" 2>/dev/null | grep -q 'dynamically linked'; then
    echo "warning: $bin is dynamically linked; the emulator will copy the host's libraries"
fi

# 2. The emulated run. The emulator streams the binary's output as it comes.
echo "--- avx512/emulated: avx512-emu/run --timeout $TIMEOUT $(basename "$bin") avx512 --quick"
run_start=$SECONDS
"$EMU" --timeout "$TIMEOUT" "$bin" avx512 --quick 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
wall=$((SECONDS - run_start))
echo "--- avx512/emulated: exit status $status, wall time ${wall} s (boot included); avx512.sh: $((SECONDS - start)) s"

case $status in
    124) not_run "the emulated run timed out after ${TIMEOUT} s (AVX512_CI_TIMEOUT)" ;;
    125) not_run "the emulator or the guest boot failed (exit 125; see the avx512-emu lines above)" ;;
    126) not_run "guest kernel panic (exit 126)" ;;
esac
summary=$(grep -E '^avx512: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
if [ -z "$summary" ]; then
    grep -q '^avx512: NOT RUN' "$log" && not_run "$(grep '^avx512: NOT RUN' "$log" | head -n 1)"
    failed "isa_oracle printed no avx512 summary (exit status $status)"
fi
if [ "$status" -ne 0 ] || ! echo "$summary" | grep -Eq '^avx512: [1-9][0-9]* passed, 0 failed$'; then
    failed "$summary (exit status $status)"
fi
echo "AVX-512 (emulated): passed: $summary"
