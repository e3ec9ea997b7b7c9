//! Shared by the benches: deterministic data and the peak notice.
#![allow(dead_code)]

use pointwise::{dispatch, peak, Isa};

pub use pointwise::measure::fill;

/// The ISAs to bench: every one compiled in. Those this CPU lacks are
/// skipped with a printed notice, so a missing group is never silent.
pub fn isas_to_bench() -> Vec<Isa> {
    let mut isas = Vec::new();
    for isa in Isa::ALL {
        match dispatch::check(isa) {
            Ok(_) => isas.push(isa),
            Err(e) if dispatch::is_compiled(isa) => eprintln!("bench group {}: SKIPPED: {e}", isa.name()),
            Err(_) => {}
        }
    }
    isas
}

/// Prints the single-core FMA peak measured in this process: criterion's
/// "Gelem/s" figures below are GFLOP/s, to be read as a share of it.
pub fn print_peak() {
    let isa = dispatch::detected_isa();
    match peak::measure_gflops(isa) {
        Ok(gflops) => eprintln!("measured f32 FMA peak ({}, 1 core): {gflops:.1} GFLOP/s", isa.name()),
        Err(e) => eprintln!("peak not measured: {e}"),
    }
}
