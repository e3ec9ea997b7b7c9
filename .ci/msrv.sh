#!/usr/bin/env bash
# The oldest Rust the crates claim (`rust-version` in Cargo.toml) compiles
# them: `cargo check` of every target of the workspace for x86-64, with the
# default features and with none, and of the library and its tests for
# aarch64, where the NEON kernels live. A check, not a build: what differs
# between compilers is what they accept (an intrinsic that a newer Rust made
# safe to call needs an `unsafe` block in an older one), not the code made.
#
# Installs that toolchain (minimal profile) and its aarch64 standard library
# when missing; prints `MSRV: NOT RUN: reason` and fails if it cannot.
# Builds into $CARGO_TARGET_DIR/msrv (default target/msrv).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

not_run() {
    echo "MSRV: NOT RUN: $*"
    exit 1
}

msrv=$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$msrv" ] || not_run "no rust-version in Cargo.toml"
for manifest in kernels/Cargo.toml benches/Cargo.toml; do
    grep -qx "rust-version = \"$msrv\"" "$manifest" || not_run "$manifest does not claim rust-version $msrv as Cargo.toml does"
done
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1 || not_run "cannot install Rust $msrv"
fi
rustup target add --toolchain "$msrv" aarch64-unknown-linux-gnu >/dev/null 2>&1 \
    || not_run "cannot add the aarch64 standard library to Rust $msrv"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/msrv"
status=0
check() {
    echo "--- msrv: cargo +$msrv check $*"
    cargo +"$msrv" check --quiet "$@" || status=1
}
check --workspace --all-targets
check -p pointwise -p pointwise-kernels --all-targets --no-default-features
check -p pointwise -p pointwise-kernels --lib --tests --target aarch64-unknown-linux-gnu
echo "MSRV: $([ $status -eq 0 ] && echo ok || echo FAILED): Rust $msrv in $((SECONDS - start)) s"
exit $status
