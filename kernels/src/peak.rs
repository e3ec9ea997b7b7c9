//! Throughput probes: the f32 FMA peak that speed figures are a share of,
//! and the read rate that bandwidth-bound layers' rooflines take.
//!
//! Each FMA probe runs `iterations` rounds of independent FMA chains (enough
//! chains to cover the FMA latency on every pipe) on registers only, and
//! returns a value derived from the accumulators so the work cannot be
//! optimised away. The caller times it and counts
//! `iterations · CHAINS · LANES · 2` flops.
//!
//! Each read probe sums a slice into [`READ_CHAINS`] vector accumulators, so
//! that loads, not the latency of an add chain, bound it. The caller times it
//! and counts the slice's bytes.

/// Independent accumulator chains per probe: latency 4 x 2 pipes on current
/// x86 cores needs at least 8; 12 leaves margin and fits 16 ymm registers.
pub const CHAINS: usize = 12;

/// Portable probe (no intrinsics): `LANES = 1`. The compiler may vectorise it;
/// it measures what scalar code gets, not the hardware peak.
pub fn scalar(iterations: usize) -> f32 {
    let mut acc = [0.0f32; CHAINS];
    let (x, y) = (core::hint::black_box(1.000_001f32), core::hint::black_box(0.999_999f32));
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = *a * x + y;
        }
    }
    acc.iter().sum()
}

/// AVX2+FMA probe on ymm registers: `LANES = 8`.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(all(target_arch = "x86_64", feature = "avx2"))]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn avx2_fma(iterations: usize) -> f32 {
    use core::arch::x86_64::*;
    let x = _mm256_set1_ps(core::hint::black_box(1.000_001));
    let y = _mm256_set1_ps(core::hint::black_box(0.999_999));
    let mut acc = [_mm256_setzero_ps(); CHAINS];
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, x, y);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    _mm256_cvtss_f32(sum)
}

/// AVX-512F probe on zmm registers: `LANES = 16`.
///
/// # Safety
/// The CPU supports AVX-512F.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f")]
pub unsafe fn avx512f(iterations: usize) -> f32 {
    use core::arch::x86_64::*;
    let x = _mm512_set1_ps(core::hint::black_box(1.000_001));
    let y = _mm512_set1_ps(core::hint::black_box(0.999_999));
    let mut acc = [_mm512_setzero_ps(); CHAINS];
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, x, y);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for a in acc {
        sum = _mm512_add_ps(sum, a);
    }
    _mm512_reduce_add_ps(sum)
}

/// NEON probe on q registers: `LANES = 4`.
///
/// # Safety
/// The CPU supports NEON (always true on AArch64 Linux).
#[cfg(all(target_arch = "aarch64", feature = "neon"))]
#[target_feature(enable = "neon")]
pub unsafe fn neon(iterations: usize) -> f32 {
    use core::arch::aarch64::*;
    let x = vdupq_n_f32(core::hint::black_box(1.000_001));
    let y = vdupq_n_f32(core::hint::black_box(0.999_999));
    let mut acc = [vdupq_n_f32(0.0); CHAINS];
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = vfmaq_f32(y, *a, x);
        }
    }
    let mut sum = vdupq_n_f32(0.0);
    for a in acc {
        sum = vaddq_f32(sum, a);
    }
    vaddvq_f32(sum)
}

/// Independent add chains per read probe: latency 3 x 2 add pipes needs 6.
pub const READ_CHAINS: usize = 8;

/// Portable read probe: the slice's sum, in [`READ_CHAINS`] scalar chains
/// (which the compiler may vectorise for the target's baseline).
pub fn read_scalar(values: &[f32]) -> f32 {
    let mut acc = [0.0f32; READ_CHAINS];
    let chunks = values.chunks_exact(READ_CHAINS);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// AVX2 read probe: the slice's sum, on ymm registers.
///
/// # Safety
/// The CPU supports AVX2.
#[cfg(all(target_arch = "x86_64", feature = "avx2"))]
#[target_feature(enable = "avx2")]
pub unsafe fn read_avx2(values: &[f32]) -> f32 {
    use core::arch::x86_64::*;
    const LANES: usize = 8;
    let mut acc = [_mm256_setzero_ps(); READ_CHAINS];
    let blocks = values.chunks_exact(LANES * READ_CHAINS);
    let tail = read_scalar(blocks.remainder());
    for block in blocks {
        for (c, a) in acc.iter_mut().enumerate() {
            // SAFETY: the block holds LANES · READ_CHAINS floats; the CPU
            // has AVX2 (this function's contract).
            *a = _mm256_add_ps(*a, unsafe { _mm256_loadu_ps(block.as_ptr().add(c * LANES)) });
        }
    }
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    let mut lanes = [0.0f32; LANES];
    // SAFETY: 8 floats fit.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum::<f32>() + tail
}

/// AVX-512F read probe: the slice's sum, on zmm registers.
///
/// # Safety
/// The CPU supports AVX-512F.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f")]
pub unsafe fn read_avx512f(values: &[f32]) -> f32 {
    use core::arch::x86_64::*;
    const LANES: usize = 16;
    let mut acc = [_mm512_setzero_ps(); READ_CHAINS];
    let blocks = values.chunks_exact(LANES * READ_CHAINS);
    let tail = read_scalar(blocks.remainder());
    for block in blocks {
        for (c, a) in acc.iter_mut().enumerate() {
            // SAFETY: the block holds LANES · READ_CHAINS floats; the CPU
            // has AVX-512F (this function's contract).
            *a = _mm512_add_ps(*a, unsafe { _mm512_loadu_ps(block.as_ptr().add(c * LANES)) });
        }
    }
    let mut sum = _mm512_setzero_ps();
    for a in acc {
        sum = _mm512_add_ps(sum, a);
    }
    _mm512_reduce_add_ps(sum) + tail
}

/// NEON read probe: the slice's sum, on q registers.
///
/// # Safety
/// The CPU supports NEON (always true on AArch64 Linux).
#[cfg(all(target_arch = "aarch64", feature = "neon"))]
#[target_feature(enable = "neon")]
pub unsafe fn read_neon(values: &[f32]) -> f32 {
    use core::arch::aarch64::*;
    const LANES: usize = 4;
    let mut acc = [vdupq_n_f32(0.0); READ_CHAINS];
    let blocks = values.chunks_exact(LANES * READ_CHAINS);
    let tail = read_scalar(blocks.remainder());
    for block in blocks {
        for (c, a) in acc.iter_mut().enumerate() {
            // SAFETY: the block holds LANES · READ_CHAINS floats; the CPU
            // has NEON (this function's contract).
            *a = vaddq_f32(*a, unsafe { vld1q_f32(block.as_ptr().add(c * LANES)) });
        }
    }
    let mut sum = vdupq_n_f32(0.0);
    for a in acc {
        sum = vaddq_f32(sum, a);
    }
    vaddvq_f32(sum) + tail
}
