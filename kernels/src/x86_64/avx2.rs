//! AVX2 + FMA3 micro-kernels (16 ymm registers).
//!
//! 6x16 is the Haswell/Zen standard: 12 accumulators (6 rows x 2 ymm), 2 panel
//! vectors and 1 broadcast make 15 of the 16 registers, and each k step issues
//! 12 FMAs against 2 loads + 6 broadcasts, enough to keep both FMA pipes busy.

use core::arch::x86_64::*;

use crate::abi::{clamped_rows, store_tile_elementwise, store_tile_folded, TileArgs};

const LANES: usize = 8;

/// `_mm256_maskload_ps`/`maskstore` mask enabling the first `len` lanes (0..=8).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn tail_mask(len: usize) -> __m256i {
    const ONES_THEN_ZEROS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    // SAFETY: 8 - min(len, 8) + 8 <= 16 elements are read.
    unsafe { _mm256_loadu_si256(ONES_THEN_ZEROS.as_ptr().add(LANES - len.min(LANES)) as *const __m256i) }
}

/// The shared AVX2 body for a tile of exactly `MR` rows and `V·8` columns.
/// `per_row_count!` calls the instance whose `MR` is the tile's `m`, so every
/// row loop has a constant trip count: the accumulators stay in registers
/// through the epilogue, and nothing is computed for absent rows.
///
/// # Safety
/// The ABI contract for `NR = V·8`, with `t.m == MR`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const MR: usize, const V: usize>(t: &TileArgs) {
    debug_assert_eq!(t.m, MR);
    let nr = V * LANES;
    // SAFETY: the contract gives m >= 1 readable row pointers (clamping is the
    // identity when m == MR, and keeps reads in bounds if it is not).
    let a_rows: [*const f32; MR] = unsafe { clamped_rows(t.a_rows, t.m) };
    let mut acc = [[_mm256_setzero_ps(); V]; MR];

    if !t.bias.is_null() {
        for v in 0..V {
            // SAFETY: bias holds NR floats.
            let b = unsafe { _mm256_loadu_ps(t.bias.add(v * LANES)) };
            for row in acc.iter_mut() {
                row[v] = b;
            }
        }
    }

    let mut panel = t.b_panel;
    t.a_k.for_each_run(t.k, |_, offset, len| {
        // The epilogue indexes `acc` by the runtime row count, so `acc` lives in
        // memory; this copy is indexed by constants only and stays in registers
        // for the whole run (otherwise every run of a blocked layout would load
        // and store all accumulators around each k step).
        let mut sums = acc;
        for p in 0..len {
            let mut b = [_mm256_setzero_ps(); V];
            for (v, b_v) in b.iter_mut().enumerate() {
                // SAFETY: the panel row is in bounds and 32-byte aligned (64-byte
                // aligned panel, rows of NR = V·8 floats).
                *b_v = unsafe { _mm256_load_ps(panel.add(v * LANES)) };
            }
            for (sums_row, row) in sums.iter_mut().zip(&a_rows) {
                // SAFETY: element p of this run is in bounds by the contract.
                let a = unsafe { _mm256_broadcast_ss(&*row.add(offset + p)) };
                for v in 0..V {
                    sums_row[v] = _mm256_fmadd_ps(a, b[v], sums_row[v]);
                }
            }
            // SAFETY: stays within (or one past) the k·NR panel.
            panel = unsafe { panel.add(nr) };
        }
        acc = sums;
    });

    // SAFETY: the contract's pointers for rows < m, columns < n.
    unsafe { store_tile::<MR, V>(t, acc) };
}

/// Epilogue: accumulate, residual, clamp and store the `MR == m` rows,
/// columns `< n`. Bias is already in the accumulators.
///
/// # Safety
/// The ABI contract with `t.m == MR`; the CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn store_tile<const MR: usize, const V: usize>(t: &TileArgs, acc: [[__m256; V]; MR]) {
    if !t.vector_columns(LANES) {
        // SAFETY: acc holds MR == m rows of vectors of f32 lanes; the contract holds.
        unsafe { store_tile_elementwise(t, &acc) };
        return;
    }
    let lo = _mm256_set1_ps(t.clamp_min);
    let hi = _mm256_set1_ps(t.clamp_max);
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: i < MR == m.
        let (c_row, r_row) = unsafe { t.rows(i) };
        for (v, &acc_v) in acc_row.iter().enumerate() {
            let first = v * LANES;
            if first >= t.n {
                break;
            }
            let live = t.n - first;
            let mask = tail_mask(live);
            // SAFETY: columns first..first+min(live, 8) are in the tile and
            // contiguous (vectors_contiguous); masked-off lanes are not accessed.
            unsafe {
                let c = c_row.add(t.c_cols.offset(first));
                let mut x = acc_v;
                if t.accumulate != 0 {
                    x = _mm256_add_ps(x, load(c, live, mask));
                }
                if !r_row.is_null() {
                    x = _mm256_add_ps(x, load(r_row.add(t.r_cols.offset(first)), live, mask));
                }
                // max/min return their second operand when either is NaN: NaN survives.
                x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
                if live >= LANES {
                    _mm256_storeu_ps(c, x);
                } else {
                    store_partial(c, x, live);
                }
            }
        }
    }
}

/// Stores the first `live < 8` lanes of `x` as 4 + 2 + 1 pieces, as XNNPACK
/// does: `vmaskmovps` stores are microcoded on AMD Zen and cost more than the
/// whole tile's FMAs when a layer has only a few output channels.
///
/// # Safety
/// `live` floats at `c` are writable.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn store_partial(mut c: *mut f32, x: __m256, live: usize) {
    let mut part = _mm256_castps256_ps128(x);
    // SAFETY: each piece writes within the first `live` floats at c.
    unsafe {
        if live & 4 != 0 {
            _mm_storeu_ps(c, part);
            part = _mm256_extractf128_ps(x, 1);
            c = c.add(4);
        }
        if live & 2 != 0 {
            _mm_storel_epi64(c as *mut __m128i, _mm_castps_si128(part));
            part = _mm_movehl_ps(part, part);
            c = c.add(2);
        }
        if live & 1 != 0 {
            _mm_store_ss(c, part);
        }
    }
}

/// # Safety
/// `min(live, 8)` floats at `p` are readable.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn load(p: *const f32, live: usize, mask: __m256i) -> __m256 {
    // SAFETY: forwarded; masked-off lanes are not read (AVX maskload suppresses faults).
    unsafe {
        if live >= LANES {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, mask)
        }
    }
}

/// 6 x 16 AVX2+FMA kernel: 12 ymm accumulators.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 6`, `NR = 16`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_6x16__avx2_fma(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe { per_row_count!(t, tile::<_, 2>, [1, 2, 3, 4, 5], 6) }
}

/// 8 x 8 AVX2+FMA kernel, the narrow companion for layers with at most 8
/// output channels per group (U-Net heads, narrow projections), where 6x16
/// would spend most FMAs on zero columns: 8 accumulators, 1 panel vector.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 8`, `NR = 8`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_8x8__avx2_fma(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe { per_row_count!(t, tile::<_, 1>, [1, 2, 3, 4, 5, 6, 7], 8) }
}

/// Depth-in-vector tile of 2 columns, for layers with 1 or 2 output channels
/// (U-Net heads, binary masks), where a broadcast kernel multiplies mostly
/// zero columns. One ymm holds 4 consecutive depths of both columns, exactly
/// as the packed panel lies in memory, so the panel is loaded whole; each
/// row's depths are loaded 4 at a time and spread across the lanes with one
/// permute (`[a0 a0 a1 a1 a2 a2 a3 a3]`). Lane `l` accumulates column `l % 2`;
/// the epilogue folds the lanes. In L1 it does 2.6x the useful FMAs of the
/// 8x8 broadcast kernel on 2 columns; a 4-column variant measured no better
/// than 8x8 on 4 columns, so there is none.
///
/// # Safety
/// The ABI contract for `NR = 2`, with `t.m == MR`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn depth_tile<const MR: usize>(t: &TileArgs) {
    debug_assert_eq!(t.m, MR);
    const NR: usize = 2;
    let depths = LANES / NR;
    // SAFETY: the contract gives m >= 1 readable row pointers.
    let a_rows: [*const f32; MR] = unsafe { clamped_rows(t.a_rows, t.m) };
    let spread = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    let mut acc = [_mm256_setzero_ps(); MR];
    let mut panel = t.b_panel;
    t.a_k.for_each_run(
        t.k,
        #[inline(always)]
        |_, offset, len| {
            let mut sums = acc;
            let full = len - len % depths;
            let mut p = 0;
            while p < full {
                // SAFETY: panel rows p..p + depths exist (p + depths <= k).
                let b = unsafe { _mm256_loadu_ps(panel) };
                for (sum, row) in sums.iter_mut().zip(&a_rows) {
                    // SAFETY: depths p..p + depths of this run are in bounds.
                    let a = unsafe { _mm_loadu_ps(row.add(offset + p)) };
                    let a = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(a), spread);
                    *sum = _mm256_fmadd_ps(a, b, *sum);
                }
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(LANES) };
                p += depths;
            }
            // The run's last depths, one at a time, into lanes 0..NR.
            for p in full..len {
                // SAFETY: panel row p holds NR = 2 floats.
                let b = unsafe { _mm256_zextps128_ps256(_mm_castpd_ps(_mm_load_sd(panel as *const f64))) };
                for (sum, row) in sums.iter_mut().zip(&a_rows) {
                    // SAFETY: depth p of this run is in bounds.
                    let x = _mm256_set1_ps(unsafe { *row.add(offset + p) });
                    // Only lanes 0 and 1 may see x: an infinite x times the
                    // zero lanes of b would be NaN, which the fold would add in.
                    let a = _mm256_blend_ps::<0b11>(_mm256_setzero_ps(), x);
                    *sum = _mm256_fmadd_ps(a, b, *sum);
                }
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(NR) };
            }
            acc = sums;
        },
    );
    // SAFETY: acc holds MR == m rows of f32 vectors; the contract holds.
    unsafe { store_tile_folded::<_, MR, NR>(t, &acc) };
}

/// 8 x 2 AVX2+FMA depth-in-vector kernel, for layers of 1 or 2 output
/// channels per group.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 8`, `NR = 2`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_8x2__avx2_fma(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe { per_row_count!(t, depth_tile::<_>, [1, 2, 3, 4, 5, 6, 7], 8) }
}
