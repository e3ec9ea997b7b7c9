#!/usr/bin/env bash
# No k loop of the x86-64 kernels keeps a value on the stack: builds the
# release CLI and runs scripts/fma_loop_spills.py on it (objdump -d). The
# kernels hold some values out of registers with `core::hint::black_box`,
# which the compiler treats as a hint only; this step notices when a compiler
# stops taking it. It also fails when a kernel calls a SIMD intrinsic out of
# line (code kept apart from the kernel's target features).
#
# Needs objdump (binutils, which the Rust toolchain's linker, cc, brings)
# and python3; prints `SPILLS: NOT RUN: reason` and fails without them.
set -uo pipefail
cd "$(dirname "$0")/.."

not_run() {
    echo "SPILLS: NOT RUN: $*"
    exit 1
}

[ "$(uname -m)" = x86_64 ] || not_run "not an x86-64 host (the script reads x86-64 code)"
command -v objdump >/dev/null 2>&1 || not_run "no objdump (install binutils)"
command -v python3 >/dev/null 2>&1 || not_run "no python3"
cargo build --release --bin pointwise || exit 1
python3 scripts/fma_loop_spills.py target/release/pointwise
