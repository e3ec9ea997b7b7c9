//! AVX-512F micro-kernels (32 zmm registers, mask registers).
//!
//! 12x32 is the tile. The limit is the general-purpose registers, not the zmm
//! ones: the ABI gives every row its own pointer, and the inner loop needs all
//! of them live. The 64-byte realigned stack takes rbp as frame pointer, which
//! leaves 14 GPRs: 12 row pointers, the k index and the panel pointer. 14 rows
//! would need 16, and reload row pointers from the stack on every k step. On
//! the zmm side, 24 accumulators (12 rows x 2 zmm), 2 panel vectors and 1
//! broadcast make 27 of 32, so nothing spills. Each k step issues 24 FMAs
//! against 2 panel loads and 12 broadcasts, enough to keep the FMA pipes busy.
//! NR = 32 rather than 48 because channel counts are mostly multiples of 32
//! (48 would pad 64 channels to 96), and MR = 12 divides the driver's
//! 240-row blocks, so full blocks have no ragged tile.
//!
//! The k loop is spill-free only in the shape written here; three details keep
//! it so (check with `objdump -d` after a change: no `[rsp...]` operand in any
//! loop of `vfmadd231ps`, for each of the 12 row-count instances):
//! * the k-run closure is `#[inline(always)]`,
//! * the epilogue gets a copy of the accumulators,
//! * the k index counts up to 0 and is hidden from strength reduction.

use core::arch::x86_64::*;

use crate::abi::{clamped_rows, store_tile_elementwise, store_tile_folded, TileArgs};

const LANES: usize = 16;

/// Mask enabling the first `len` lanes (0..=16) of a masked load or store.
#[inline(always)]
fn tail_mask(len: usize) -> __mmask16 {
    // Computed in u32 so that len = 16 does not overflow the shift.
    ((1u32 << len.min(LANES)) - 1) as __mmask16
}

/// The shared AVX-512F body for a tile of exactly `MR` rows and `V·16`
/// columns. `per_row_count!` calls the instance whose `MR` is the tile's `m`,
/// so every row loop, the epilogue's included, has a constant trip count and
/// the accumulators stay in registers.
///
/// # Safety
/// The ABI contract for `NR = V·16`, with `t.m == MR`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const MR: usize, const V: usize>(t: &TileArgs) {
    debug_assert_eq!(t.m, MR);
    let nr = V * LANES;
    // SAFETY: the contract gives m >= 1 readable row pointers.
    let a_rows: [*const f32; MR] = unsafe { clamped_rows(t.a_rows, t.m) };
    let mut acc = [[_mm512_setzero_ps(); V]; MR];

    if !t.bias.is_null() {
        for v in 0..V {
            // SAFETY: bias holds NR floats.
            let b = unsafe { _mm512_loadu_ps(t.bias.add(v * LANES)) };
            for row in acc.iter_mut() {
                row[v] = b;
            }
        }
    }

    let mut panel = t.b_panel;
    // Inlined by force: `for_each_run` calls the closure from two places, and
    // an outlined closure would keep the accumulators in memory.
    t.a_k.for_each_run(
        t.k,
        #[inline(always)]
        |_, offset, len| {
            // Row pointers one past the run, read at a negative index that counts up
            // to 0: the loop needs no end register besides the 12 row pointers, the
            // index and the panel pointer (14 GPRs, all there are).
            let mut ends = a_rows;
            for end in ends.iter_mut() {
                // SAFETY: offset + len is one past the run's last element, so at most
                // one past the end of the row's allocation.
                *end = unsafe { end.add(offset + len) };
            }
            // `len` elements lie in one allocation, so `len <= isize::MAX`.
            let mut i = -(len as isize);
            while i != 0 {
                let mut b = [_mm512_setzero_ps(); V];
                for (v, b_v) in b.iter_mut().enumerate() {
                    // SAFETY: the panel row is in bounds and 64-byte aligned (64-byte
                    // aligned panel, rows of NR = V·16 floats).
                    *b_v = unsafe { _mm512_load_ps(panel.add(v * LANES)) };
                }
                for (acc_row, end) in acc.iter_mut().zip(&ends) {
                    // SAFETY: -len <= i < 0, so this is element offset + len + i of
                    // the row, inside the run: in bounds by the contract.
                    let a = _mm512_set1_ps(unsafe { *end.offset(i) });
                    for v in 0..V {
                        acc_row[v] = _mm512_fmadd_ps(a, b[v], acc_row[v]);
                    }
                }
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(nr) };
                i += 1;
                // SAFETY: an empty asm block that only claims to change `i`: this
                // hides the index from LLVM's strength reduction, which would trade
                // the count to 0 for a count up plus an end register.
                unsafe { core::arch::asm!("/* {0} */", inout(reg) i, options(pure, nomem, nostack, preserves_flags)) };
            }
        },
    );

    // SAFETY: the contract's pointers for rows < MR == m, columns < n.
    unsafe { store_tile::<MR, V>(t, acc) };
}

/// Epilogue: accumulate, residual, clamp and store rows `< m`, columns `< n`.
/// Bias is already in the accumulators.
///
/// # Safety
/// The ABI contract; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store_tile<const MR: usize, const V: usize>(t: &TileArgs, acc: [[__m512; V]; MR]) {
    if !t.vector_columns(LANES) {
        // SAFETY: acc holds MR == m rows of vectors of f32 lanes; the contract holds.
        unsafe { store_tile_elementwise(t, &acc) };
        return;
    }
    let lo = _mm512_set1_ps(t.clamp_min);
    let hi = _mm512_set1_ps(t.clamp_max);
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: i < MR == m.
        let (c_row, r_row) = unsafe { t.rows(i) };
        for (v, &acc_v) in acc_row.iter().enumerate() {
            let first = v * LANES;
            if first >= t.n {
                break;
            }
            // Full vectors use the all-ones mask: a masked access with every
            // lane enabled costs the same as a plain one, so there is no branch.
            let mask = tail_mask(t.n - first);
            // SAFETY: columns first..first+min(n - first, 16) are in the tile and
            // contiguous (vectors_contiguous); masked-off lanes are not accessed
            // (AVX-512 masking suppresses their faults).
            unsafe {
                let c = c_row.add(t.c_cols.offset(first));
                let mut x = acc_v;
                if t.accumulate != 0 {
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, c));
                }
                if !r_row.is_null() {
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, r_row.add(t.r_cols.offset(first))));
                }
                // max/min return their second operand when either is NaN: NaN survives.
                x = _mm512_min_ps(hi, _mm512_max_ps(lo, x));
                _mm512_mask_storeu_ps(c, mask, x);
            }
        }
    }
}

/// 12 x 32 AVX-512F kernel: 24 zmm accumulators.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 12`, `NR = 32`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_pw_12x32__avx512f(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe { per_row_count!(t, tile::<_, 2>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12) }
}

/// 12 x 16 AVX-512F kernel, the narrow companion for layers with at most 16
/// output channels per group: 12 accumulators, 1 panel vector.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 12`, `NR = 16`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_pw_12x16__avx512f(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe { per_row_count!(t, tile::<_, 1>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12) }
}

/// Depth-in-vector tile of 2 columns, for layers with 1 or 2 output channels:
/// the AVX-512 twin of the AVX2 `depth_tile`. One zmm holds 8 consecutive
/// depths of both columns, as the packed panel lies in memory; each row's
/// depths are loaded 8 at a time and spread with one permute. Lane `l`
/// accumulates column `l % 2`; the epilogue folds the lanes.
///
/// # Safety
/// The ABI contract for `NR = 2`, with `t.m == MR`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn depth_tile<const MR: usize>(t: &TileArgs) {
    debug_assert_eq!(t.m, MR);
    const NR: usize = 2;
    let depths = LANES / NR;
    // SAFETY: the contract gives m >= 1 readable row pointers.
    let a_rows: [*const f32; MR] = unsafe { clamped_rows(t.a_rows, t.m) };
    let spread = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    let mut acc = [_mm512_setzero_ps(); MR];
    let mut panel = t.b_panel;
    t.a_k.for_each_run(
        t.k,
        #[inline(always)]
        |_, offset, len| {
            let mut sums = acc;
            let full = len - len % depths;
            let mut p = 0;
            while p < full {
                // SAFETY: panel rows p..p + 8 exist (p + 8 <= k).
                let b = unsafe { _mm512_loadu_ps(panel) };
                for (sum, row) in sums.iter_mut().zip(&a_rows) {
                    // SAFETY: depths p..p + 8 of this run are in bounds.
                    let a = unsafe { _mm256_loadu_ps(row.add(offset + p)) };
                    let a = _mm512_permutexvar_ps(spread, _mm512_castps256_ps512(a));
                    *sum = _mm512_fmadd_ps(a, b, *sum);
                }
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(LANES) };
                p += depths;
            }
            // The run's last depths, one at a time, into lanes 0 and 1.
            for p in full..len {
                // SAFETY: panel row p holds NR = 2 floats; other lanes are not read.
                let b = unsafe { _mm512_maskz_loadu_ps(0b11, panel) };
                for (sum, row) in sums.iter_mut().zip(&a_rows) {
                    // SAFETY: depth p of this run is in bounds.
                    let a = _mm512_set1_ps(unsafe { *row.add(offset + p) });
                    // Lanes 2.. keep their sums: an infinite a times the zero
                    // lanes of b would be NaN, which the fold would add in.
                    *sum = _mm512_mask3_fmadd_ps(a, b, *sum, 0b11);
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

/// 12 x 2 AVX-512F depth-in-vector kernel, for layers of 1 or 2 output
/// channels per group.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 12`, `NR = 2`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_pw_12x2__avx512f(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe { per_row_count!(t, depth_tile::<_>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12) }
}
