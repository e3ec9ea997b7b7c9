//! The measured f32 FMA peak of one core: what the CLI and the benches divide
//! by when they print a share of peak.

use std::time::Instant;

use crate::dispatch;
use crate::error::Result;
use crate::kernels::peak;
use crate::Isa;

/// Measures the single-thread f32 FMA throughput of `isa`, in GFLOP/s: the best
/// of five timed rounds of register-only FMA chains, about 50 ms in all.
///
/// # Errors
/// `isa` is not compiled in or not supported by this CPU.
pub fn measure_gflops(isa: Isa) -> Result<f64> {
    dispatch::check(isa)?;
    let lanes = match isa {
        Isa::Scalar => 1,
        Isa::Avx2 => 8,
        Isa::Avx512 => 16,
        Isa::Neon => 4,
    };
    let iterations = 1_000_000;
    let mut best = 0.0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let sink = probe(isa, iterations);
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        let flops = (iterations * peak::CHAINS * lanes * 2) as f64;
        best = best.max(flops / seconds / 1e9);
    }
    Ok(best)
}

fn probe(isa: Isa, iterations: usize) -> f32 {
    match isa {
        #[cfg(pw_avx2)]
        // SAFETY: dispatch::check accepted the ISA, so the CPU has AVX2 and FMA.
        Isa::Avx2 => unsafe { peak::avx2_fma(iterations) },
        #[cfg(pw_avx512)]
        // SAFETY: dispatch::check accepted the ISA, so the CPU has AVX-512F.
        Isa::Avx512 => unsafe { peak::avx512f(iterations) },
        #[cfg(pw_neon)]
        // SAFETY: dispatch::check accepted the ISA, so the CPU has NEON.
        Isa::Neon => unsafe { peak::neon(iterations) },
        _ => peak::scalar(iterations),
    }
}
