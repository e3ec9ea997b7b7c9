//! AVX-512F micro-kernels (32 zmm registers, mask registers).
//!
//! 12x32 is the tile. The limit is the general-purpose registers, not the zmm
//! ones: the ABI gives every row its own pointer, and the inner loop needs all
//! of them live. 12 row pointers, the panel pointer and the loop counter make
//! 14 of the 15 usable GPRs, while 14 rows would need 16 and reload a row
//! pointer from the stack on every k step. On the zmm side, 24 accumulators
//! (12 rows x 2 zmm) and 2 panel vectors make 26 of 32: the A element is
//! broadcast by the FMA itself (`vfmadd231ps zmm, zmm, [mem]{1to16}`), so it
//! takes no register, and nothing spills. Each k step issues 24 FMAs against 2
//! panel loads and 12 broadcasts, enough to keep the FMA pipes busy.
//! NR = 32 rather than 48 because channel counts are mostly multiples of 32
//! (48 would pad 64 channels to 96), and MR = 12 divides the driver's
//! 240-row blocks, so full blocks have no ragged tile.

use core::arch::x86_64::*;

use super::clamped_rows;
use crate::abi::{store_element, TileArgs};

const LANES: usize = 16;

/// Mask enabling the first `len` lanes (0..=16) of a masked load or store.
#[inline(always)]
fn tail_mask(len: usize) -> __mmask16 {
    // Computed in u32 so that len = 16 does not overflow the shift.
    ((1u32 << len.min(LANES)) - 1) as __mmask16
}

/// The shared AVX-512F body for an `MR x (V·16)` tile.
///
/// # Safety
/// The ABI contract for `MR` and `NR = V·16`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const MR: usize, const V: usize>(t: &TileArgs) {
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
    t.a_k.for_each_run(t.k, |_, offset, len| {
        // The epilogue indexes `acc` by the runtime row count, so `acc` lives on
        // the stack, and LLVM would store every FMA result back to it on each k
        // step. This copy is indexed only by constants: it stays in registers.
        let mut sums = acc;
        for p in 0..len {
            let mut b = [_mm512_setzero_ps(); V];
            for (v, b_v) in b.iter_mut().enumerate() {
                // SAFETY: the panel row is in bounds and 64-byte aligned (64-byte
                // aligned panel, rows of NR = V·16 floats).
                *b_v = unsafe { _mm512_load_ps(panel.add(v * LANES)) };
            }
            for (acc_row, row) in sums.iter_mut().zip(&a_rows) {
                // SAFETY: element p of this run is in bounds by the contract.
                // set1 of a loaded scalar folds into the FMA's {1to16} operand.
                let a = _mm512_set1_ps(unsafe { *row.add(offset + p) });
                for v in 0..V {
                    acc_row[v] = _mm512_fmadd_ps(a, b[v], acc_row[v]);
                }
            }
            // SAFETY: stays within (or one past) the k·NR panel.
            panel = unsafe { panel.add(nr) };
        }
        acc = sums;
    });

    // SAFETY: the contract's pointers for rows < m, columns < n.
    unsafe { store_tile::<MR, V>(t, &acc) };
}

/// Epilogue: accumulate, residual, clamp and store rows `< m`, columns `< n`.
/// Bias is already in the accumulators.
///
/// # Safety
/// The ABI contract; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store_tile<const MR: usize, const V: usize>(t: &TileArgs, acc: &[[__m512; V]; MR]) {
    // The element-wise path spills one row into a fixed buffer.
    const { assert!(V * LANES <= 64) };
    let vector_path = t.c_cols.vectors_contiguous(LANES) && (t.r_rows.is_null() || t.r_cols.vectors_contiguous(LANES));
    if !vector_path {
        for (i, acc_row) in acc.iter().enumerate().take(t.m) {
            let mut lanes = [0.0f32; 64];
            for (v, acc_v) in acc_row.iter().enumerate() {
                // SAFETY: lanes has room for V·16 <= 64 floats.
                unsafe { _mm512_storeu_ps(lanes.as_mut_ptr().add(v * LANES), *acc_v) };
            }
            for (j, &value) in lanes.iter().enumerate().take(t.n) {
                // SAFETY: i < m, j < n.
                unsafe { store_element(t, i, j, value, 0.0) };
            }
        }
        return;
    }
    let lo = _mm512_set1_ps(t.clamp_min);
    let hi = _mm512_set1_ps(t.clamp_max);
    for (i, acc_row) in acc.iter().enumerate().take(t.m) {
        // SAFETY: i < m.
        let c_row = unsafe { *t.c_rows.add(i) };
        let r_row = if t.r_rows.is_null() {
            core::ptr::null()
        } else {
            // SAFETY: i < m and r_rows is not null.
            unsafe { *t.r_rows.add(i) }
        };
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
    // SAFETY: forwarded contract; the target features are enabled on this function.
    unsafe { tile::<12, 2>(t) }
}
