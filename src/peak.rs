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

/// Runs `iterations` rounds of the register-only FMA chains that
/// [`measure_gflops`] times (`iterations · 2 · lanes · CHAINS` FLOPs), and
/// returns their sum so that the work cannot be optimised away. Timed on one
/// thread and then on several at once, it shows how many cores the machine
/// really gives at that moment: the CLI prints it beside each thread speed-up.
///
/// # Errors
/// `isa` is not compiled in or not supported by this CPU.
pub fn fma_burst(isa: Isa, iterations: usize) -> Result<f32> {
    dispatch::check(isa)?;
    Ok(probe(isa, iterations))
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

/// Measures single-thread read bandwidth, in GB/s, streaming a buffer of
/// `bytes` (best of a few passes, warm) with the widest vector loads this CPU
/// has (the read probes of `pointwise_kernels::peak`): about L2 speed for a
/// few hundred KiB, L3 for a few MiB, DRAM past the last-level cache.
///
/// A sum in plain Rust, the first version, compiled to SSE (the closure that
/// pulp ran was not built for the detected ISA): it measured 77-78 GB/s both
/// in L2 and in L3 on Zen 4, the limit of its own adds.
pub fn measure_read_gbps(bytes: usize) -> f64 {
    let floats = (bytes / 4).max(1024);
    let buffer = vec![1.0f32; floats];
    let passes = (256 << 20) / (floats * 4) + 2;
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let mut total = 0.0f32;
        for _ in 0..passes {
            total += read_sum(&buffer);
        }
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(total);
        best = best.max((passes * floats * 4) as f64 / seconds / 1e9);
    }
    best
}

/// The sum of `values`, read once with the widest vector loads this CPU has:
/// what [`measure_read_gbps`] times, for a caller that times a read of its
/// own data (the CLI reads a bandwidth-bound layer's input in the same rounds
/// as the layer).
pub fn read_sum(values: &[f32]) -> f32 {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    read(*ISA.get_or_init(dispatch::detected_isa), values)
}

/// The sum of `values` through the read probe of `isa`, which must be
/// available (compiled in, and on this CPU: [`dispatch::is_available`]).
fn read(isa: Isa, values: &[f32]) -> f32 {
    match isa {
        #[cfg(pw_avx2)]
        // SAFETY: the caller passes an ISA this CPU has.
        Isa::Avx2 => unsafe { peak::read_avx2(values) },
        #[cfg(pw_avx512)]
        // SAFETY: as above.
        Isa::Avx512 => unsafe { peak::read_avx512f(values) },
        #[cfg(pw_neon)]
        // SAFETY: as above.
        Isa::Neon => unsafe { peak::read_neon(values) },
        _ => peak::read_scalar(values),
    }
}

/// Bandwidth tiers of this machine, measured once: reads from L2, from L3
/// and from memory.
#[derive(Clone, Copy, Debug)]
pub struct Bandwidth {
    /// GB/s for a working set of 256 KiB.
    pub l2: f64,
    /// GB/s for a working set of 8 MiB.
    pub l3: f64,
    /// GB/s for a working set of 256 MiB.
    pub dram: f64,
}

impl Bandwidth {
    /// Measures the three tiers (about a second).
    pub fn measure() -> Bandwidth {
        Bandwidth {
            l2: measure_read_gbps(256 << 10),
            l3: measure_read_gbps(8 << 20),
            dram: measure_read_gbps(256 << 20),
        }
    }

    /// The tier a working set of `bytes` streams from, in GB/s.
    pub fn for_working_set(&self, bytes: f64) -> f64 {
        if bytes <= 768.0 * 1024.0 {
            self.l2
        } else if bytes <= 24.0 * 1024.0 * 1024.0 {
            self.l3
        } else {
            self.dram
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each read probe this CPU can run sums every element once, tails and
    /// all: the values are small integers, whose sums are exact in f32, and
    /// not periodic (with `i % 7`, loads that overlapped by half a block
    /// still summed right).
    #[test]
    fn read_probes_sum_every_element() {
        for isa in dispatch::available_isas() {
            for len in (0..300).chain([1021, 4096 + 7]) {
                let values: Vec<f32> = (0..len).map(|i| (i * 37 % 101) as f32).collect();
                let want: f32 = values.iter().sum();
                assert_eq!(read(isa, &values), want, "{}: {len} floats", isa.name());
            }
        }
    }
}
