#!/usr/bin/env bash
# AddressSanitizer over the tests that run the SIMD kernels natively, through
# the kernel ABI and through the public API, on buffers allocated to their
# exact logical size (no slack), so that a read or write one element past any
# heap buffer is reported: tests/kernels.rs (every kernel's sweep), tests/conv.rs,
# tests/miri.rs (exact-size rows), tests/guard_pages.rs, tests/numerics.rs,
# tests/errors.rs, tests/threads.rs.
#
# Needs the nightly toolchain (-Zsanitizer); installs it when missing. Builds for
# the explicit host target so that build scripts are not instrumented. The
# standard library is not rebuilt with ASan (no -Zbuild-std): the checks cover
# this crate's code and every buffer it touches, which is what matters here.
# Honours CARGO_TARGET_DIR. Prints `ASAN: NOT RUN: reason` and fails if it cannot run.
set -uo pipefail
cd "$(dirname "$0")/.."

not_run() {
    echo "ASAN: NOT RUN: $*"
    exit 1
}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || not_run "cannot install the nightly toolchain"
fi
host=$(rustup run nightly rustc -vV | sed -n 's/^host: //p')
case "$host" in
    x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu) ;;
    *) not_run "AddressSanitizer is not set up for host $host" ;;
esac

export RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes"
export RUSTDOCFLAGS="$RUSTFLAGS"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}"
start=$SECONDS
# Only this CPU's ISAs run natively; every one it has is exercised (see tests/kernels.rs).
# The kernels at opt-level 1, as in the fuzz build: at the test profile's
# opt-level 2, the AddressSanitizer build of their many inlined instances made
# this step's build take 183 s in CI, against 110 s this way (fresh target
# directory, same machine). The checks see the same accesses.
cargo +nightly test --target "$host" --config 'profile.test.package.pointwise-kernels.opt-level=1' \
    --test kernels --test conv --test miri --test guard_pages --test numerics --test errors --test threads \
    --no-fail-fast -- --test-threads=2
status=$?
echo "ASAN: $([ $status -eq 0 ] && echo ok || echo FAILED) in $((SECONDS - start)) s"
exit $status
