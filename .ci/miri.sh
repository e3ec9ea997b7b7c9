#!/usr/bin/env bash
# Miri: the crate's unsafe code interpreted with every access checked (bounds
# of each allocation, alignment, Stacked Borrows aliasing, uninitialised
# reads, data races between threads, strict pointer provenance).
#
# Miri cannot execute AVX or NEON intrinsics, so the crate is built with
# --no-default-features: only the scalar kernel is compiled, and the driver,
# packing, shape checks and the kernel ABI run exactly as they do for the
# SIMD kernels (same row pointers, strides and tile arguments). Shapes are
# small (Miri is ~1000x slower than native code). What runs:
#   tests/miri.rs   every layout triple, strides, groups (inside NCHWc blocks
#                   too), channel slices, residual, every activation, tile
#                   remainders, a plan run on two threads, calls handed to
#                   pointwise's own worker thread, invalid calls, the
#                   kernel ABI on exact-size rows, and the kernel sweep on
#                   depths 0, 1, 8, 17 (without the multi-row-tile cases)
#   tests/errors.rs every error path
# With MIRI_AVX2=1 (the default on x86-64) a second pass runs the AVX2 kernel
# under Miri too (see below).
# Not run under Miri (too slow, and covered natively and by tests/miri.rs):
# tests/kernels.rs (sweep up to depth 257: > 15 min), tests/conv.rs (K up to
# 8192), tests/threads.rs and tests/no_alloc.rs (large layers, rayon pools),
# tests/activations.rs (millions of points), the isa_oracle binary.
#
# Installs the nightly toolchain's miri and rust-src components when missing;
# prints `MIRI: NOT RUN: reason` and fails if it cannot. Honours
# CARGO_TARGET_DIR and MIRIFLAGS.
set -uo pipefail
cd "$(dirname "$0")/.."

not_run() {
    echo "MIRI: NOT RUN: $*"
    exit 1
}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || not_run "cannot install the nightly toolchain"
fi
rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 || not_run "cannot add the miri and rust-src components"
cargo +nightly miri setup >/dev/null 2>&1 || not_run "cargo miri setup failed (building Miri's sysroot)"

export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
start=$SECONDS
cargo +nightly miri test --no-default-features --no-fail-fast --test miri --test errors -- --skip workers_on_two_threads
status=$?
# The workers outlive the test (they live as long as the process), which Miri
# reports as an error unless leaks are ignored; so that test runs alone, on
# two emulated cores (Threads::Count never uses more threads than cores).
MIRIFLAGS="$MIRIFLAGS -Zmiri-num-cpus=2 -Zmiri-ignore-leaks" \
    cargo +nightly miri test --no-default-features --test miri -- --exact workers_on_two_threads
workers_status=$?
[ $workers_status -eq 0 ] || status=$workers_status
echo "MIRI (scalar): $([ $status -eq 0 ] && echo ok || echo FAILED) in $((SECONDS - start)) s (MIRIFLAGS=$MIRIFLAGS)"

# Miri does emulate the AVX2 and FMA intrinsics the AVX2 kernel uses (not the
# AVX-512 ones: llvm.x86.avx512.max.ps.512 is unsupported), when they are
# enabled at compile time; runtime detection then reports AVX2 under Miri.
# A second pass runs the AVX2 kernel through its ABI on exact-size rows and
# through the API on every tile remainder (about 90 s; the whole of
# tests/miri.rs on AVX2 takes about 15 minutes). MIRI_AVX2=0 skips it. It
# builds into its own target directory: the RUSTFLAGS differ.
if [ "${MIRI_AVX2:-1}" = 1 ] && [ "$(uname -m)" = x86_64 ]; then
    start2=$SECONDS
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/miri-avx2" RUSTFLAGS="-Ctarget-cpu=x86-64-v3" \
        cargo +nightly miri test --no-default-features --features avx2 --test miri -- \
        kernels_on_exact_rows tile_remainders
    avx2_status=$?
    echo "MIRI (avx2): $([ $avx2_status -eq 0 ] && echo ok || echo FAILED) in $((SECONDS - start2)) s"
    [ $avx2_status -eq 0 ] || status=$avx2_status
fi
echo "MIRI: $([ $status -eq 0 ] && echo ok || echo FAILED) in $((SECONDS - start)) s"
exit $status
