#!/usr/bin/env bash
# NEON kernels on an x86-64 CI machine, under QEMU user-mode emulation:
# `bash .ci/neon.sh` (from anywhere; .ci/run calls it). On an aarch64 host the
# same steps run natively.
#
# 1. Installs what a fresh machine lacks: the Rust target (rustup), the cross
#    linker and libc (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) and
#    qemu-user (apt-get, with `apt-get update` when the package lists are stale).
# 2. Builds the library and the CLI for aarch64, and the kernels crate alone
#    without default features and with NEON only. Every other target (tests,
#    benches, examples) is compiled by clippy in step 5, without codegen: a
#    release build of them all took a minute of CI's 20.
# 3. Runs the harness=false `isa_oracle` test for neon under qemu-aarch64: the
#    full kernel sweep and the convolution checks. Only that target runs:
#    libtest starts a thread per test, and its targets hang under QEMU.
# 4. Checks dispatch under QEMU: the CLI picks NEON by itself and under
#    POINTWISE_ISA=neon, and runs the NEON kernel (and the scalar one under
#    POINTWISE_ISA=scalar, so the variable is known to be read).
# 5. Clippy for aarch64: .ci/run's clippy is the host's, which never compiles
#    the NEON kernels.
#
# Prints `neon: N passed, N failed`. Exits non-zero on any failure; when the
# target or the tools cannot be installed, prints `NEON: NOT RUN: <reason>` and
# exits non-zero, so that CI cannot pass without having run the NEON tests.
#
# The linker and runner are set here through CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_*
# rather than in .cargo/config.toml: a runner in the config would also wrap
# `cargo test --target aarch64-unknown-linux-gnu` of the libtest targets (which
# hang under QEMU), and would put QEMU in front of native binaries on an
# aarch64 machine. The `-L` sysroot is Debian's layout, which belongs with the
# apt-get lines below. Values already set in the environment win.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

TARGET=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu

not_run() {
    echo "NEON: NOT RUN: $*"
    exit 1
}

failed=()
step() {
    local name=$1
    shift
    echo "--- neon/$name: $*"
    if ! "$@"; then
        echo "--- neon/$name: FAILED"
        failed+=("$name")
    fi
}

native=false
[ "$(uname -m)" = aarch64 ] && native=true

# 1a. The Rust target.
if ! rustc --print target-list >/dev/null 2>&1; then
    not_run "no working rustc"
fi
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$TARGET/lib" ]; then
    command -v rustup >/dev/null 2>&1 || not_run "the $TARGET standard library is missing and there is no rustup to add it"
    rustup target add "$TARGET" || not_run "rustup target add $TARGET failed"
    rustup component add clippy >/dev/null 2>&1 || true
fi

# 1b. Cross linker, aarch64 libc and QEMU (not needed on an aarch64 host).
qemu=""
if ! $native; then
    find_tools() {
        missing=()
        command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
        [ -e "$SYSROOT/lib/crt1.o" ] && [ -e "$SYSROOT/lib/libc.so" ] || missing+=(libc6-dev-arm64-cross)
        qemu=$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)
        [ -n "$qemu" ] || missing+=(qemu-user)
    }
    find_tools
    if [ ${#missing[@]} -gt 0 ]; then
        echo "neon: installing ${missing[*]}"
        command -v apt-get >/dev/null 2>&1 || not_run "missing ${missing[*]} and no apt-get to install them"
        sudo=()
        if [ "$(id -u)" -ne 0 ]; then
            command -v sudo >/dev/null 2>&1 || not_run "missing ${missing[*]}; installing them needs root or sudo"
            sudo=(sudo -n)
        fi
        export DEBIAN_FRONTEND=noninteractive
        install=("${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}")
        # A fresh image has no package lists: update only when the install fails.
        "${install[@]}" || { "${sudo[@]}" apt-get update && "${install[@]}"; } \
            || not_run "apt-get install ${missing[*]} failed"
        find_tools
        [ ${#missing[@]} -eq 0 ] || not_run "still missing after apt-get: ${missing[*]}"
    fi
    : "${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:=aarch64-linux-gnu-gcc}"
    : "${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:=$qemu -L $SYSROOT}"
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER
    echo "neon: linker $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER, runner $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER"
    "$qemu" --version | head -n 1
fi

# 2. The library and the CLI build for aarch64 (clippy checks the rest).
step build-lib-cli cargo build --release --target "$TARGET" -p pointwise --lib --bins
step build-kernels-no-default cargo build --release --target "$TARGET" -p pointwise-kernels --no-default-features
step build-kernels-neon-only cargo build --release --target "$TARGET" -p pointwise-kernels --no-default-features \
    --features neon

# 3. The oracle test. Naming `neon` makes it fail loudly if NEON is not detected.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "--- neon/isa_oracle: cargo test --release --target $TARGET --test isa_oracle -- neon"
cargo test --release --target "$TARGET" --test isa_oracle -- neon 2>&1 | tee "$log"
oracle_status=${PIPESTATUS[0]}
if ! grep -Eq '^neon: [0-9]+ passed, [0-9]+ failed$' "$log"; then
    grep -q '^neon: NOT RUN' "$log" || echo "NEON: NOT RUN: isa_oracle printed no neon summary (exit status $oracle_status)"
    failed+=(isa_oracle)
elif [ "$oracle_status" -ne 0 ] || ! grep -Eq '^neon: [1-9][0-9]* passed, 0 failed$' "$log"; then
    echo "--- neon/isa_oracle: FAILED (exit status $oracle_status)"
    failed+=(isa_oracle)
fi

# 4. Dispatch: one small layer through the CLI (cargo run applies the runner),
#    with the ISA detected, then forced by POINTWISE_ISA.
layers=$(mktemp)
trap 'rm -f "$log" "$layers"' EXIT
echo "neon.check,1,5,7,37,53,1,1" >"$layers"
check_dispatch() {
    local kernel=$1 out
    shift
    out=$(env "$@" cargo run -q --release --target "$TARGET" --bin pointwise -- --layers "$layers" --csv) \
        || { echo "$out"; return 1; }
    echo "$out" | tail -n 1
    # The layer's row names the ISA and then the kernel that ran.
    echo "$out" | grep -Eq "^neon\.check,(.*,)?$kernel," || { echo "expected $kernel to run"; return 1; }
}
neon_kernel='neon,f32_pw_[0-9]+x[0-9]+__neon'
step dispatch-detected check_dispatch "$neon_kernel" -u POINTWISE_ISA
step dispatch-forced check_dispatch "$neon_kernel" POINTWISE_ISA=neon
# The variable is read: forcing the fallback under QEMU runs the scalar kernel.
step dispatch-forced-scalar check_dispatch 'scalar,f32_pw_[0-9]+x[0-9]+__scalar' POINTWISE_ISA=scalar

# 5. Lints of the aarch64-only code.
if cargo clippy --version >/dev/null 2>&1; then
    step clippy cargo clippy --target "$TARGET" --workspace --all-targets -- -D warnings
else
    echo "--- neon/clippy: FAILED: clippy is not installed"
    failed+=(clippy)
fi

echo "neon.sh: $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "NEON FAILED: ${failed[*]}"
    exit 1
fi
echo "NEON passed"
