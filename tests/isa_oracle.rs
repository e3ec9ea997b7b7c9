//! The cross-ISA oracle test: a `harness = false` binary that starts no
//! threads, so it runs under QEMU (aarch64) and the Bochs AVX-512 emulator.
//!
//! For every ISA this CPU supports other than scalar (or those named on the
//! command line), it runs the full micro-kernel sweep and convolution-level
//! checks with that ISA forced, then prints `ISA: N passed, N failed` and exits
//! non-zero on any failure. An ISA that was asked for but cannot run here
//! prints a loud `NOT RUN` line and fails.
//!
//! `isa_oracle [ISA...] [--quick]`: `--quick` trims the convolution checks (for
//! the emulator, where 512-bit FMAs run at a few million per second), and
//! the depths at which a kernel tuned for some processors is swept
//! ([`TUNED_QUICK_DEPTHS`]); the sweep of every generic kernel keeps every
//! remainder case either way.

mod common;

use pointwise::dispatch;
use pointwise::kernels::{Isa, KERNELS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let named: Vec<Isa> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(|a| Isa::from_name(a).unwrap_or_else(|| panic!("unknown ISA {a:?}")))
        .collect();
    let isas: Vec<Isa> = if named.is_empty() {
        dispatch::available_isas().into_iter().filter(|&i| i != Isa::Scalar).collect()
    } else {
        named
    };
    if isas.is_empty() {
        println!("isa_oracle: NOT RUN: no SIMD ISA is available on this CPU in this build");
    }
    let mut any_failed = false;
    for isa in isas {
        if !dispatch::is_available(isa) {
            println!("{}: NOT RUN: {}", isa.name(), dispatch::check(isa).unwrap_err());
            any_failed = true;
            continue;
        }
        let mut tally = common::sweep::Tally::default();
        for kernel in KERNELS.iter().filter(|k| k.isa == isa) {
            let tuned = kernel.generic() != kernel;
            let depths = if quick && tuned { TUNED_QUICK_DEPTHS } else { common::sweep::DEPTHS };
            let t = common::sweep::sweep(kernel, depths);
            println!("  {}: kernel sweep {} passed, {} failed", kernel.name, t.passed, t.failed);
            merge(&mut tally, t);
        }
        let t = common::convs::check_random(isa, if quick { 60 } else { 400 }, 0x0a11);
        println!("  {}: convolutions {} passed, {} failed", isa.name(), t.passed, t.failed);
        merge(&mut tally, t);
        for failure in &tally.first_failures {
            println!("  FAILED: {failure}");
        }
        println!("{}: {} passed, {} failed", isa.name(), tally.passed, tally.failed);
        any_failed |= tally.failed > 0 || tally.passed == 0;
    }
    std::process::exit(if any_failed { 1 } else { 0 });
}

/// The depths at which `--quick` sweeps a tuned kernel: its k loops are
/// its generic kernel's (swept at every depth of `DEPTHS`); what it does
/// differently is the walk around them. Depths within a vector and past it,
/// the tuned kernels' bounds (the Zen 4 kernel walks by vector up to 256),
/// and one past them. Under the emulator the full sweep of the Zen 4 kernel
/// doubled the run, to 529 s.
const TUNED_QUICK_DEPTHS: &[usize] = &[1, 2, 15, 16, 17, 64, 256, 257];

fn merge(into: &mut common::sweep::Tally, from: common::sweep::Tally) {
    into.passed += from.passed;
    into.failed += from.failed;
    into.first_failures.extend(from.first_failures);
}
