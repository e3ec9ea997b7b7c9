//! Shared by the benches: deterministic data and the peak notice.
#![allow(dead_code)]

use pointwise::{dispatch, peak, Isa};

/// Deterministic values in [-1, 1).
pub fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

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
