//! Portable micro-kernels: the fallback on every CPU and the oracle that every
//! SIMD kernel is tested against, on the very same packed panel.
//!
//! [`tile`] is generic over the tile shape so that the oracle for an `MR x NR`
//! SIMD kernel reads the panel exactly as that kernel does. It accumulates in
//! `f32`, in increasing `p`, with a separate multiply and add (no FMA: a software
//! `mul_add` would make the fallback many times slower).

use crate::abi::{for_each_panel, for_each_row_tile, store_element, TileArgs};

/// Computes a tile of `m x n` in row tiles of `MR` and panels of `NR`, under
/// the [ABI contract](crate::abi).
///
/// # Safety
/// The caller upholds the [ABI contract](crate::abi) for `MR` and `NR`.
#[inline(never)]
pub unsafe fn tile<const MR: usize, const NR: usize>(t: &TileArgs) {
    // SAFETY: forwarded contract; `one_panel` gets tiles of one panel and
    // at most MR rows.
    unsafe {
        for_each_panel(t, NR, |panel| {
            for_each_row_tile(panel, MR, |rows| one_panel::<MR, NR>(rows));
        })
    }
}

/// [`tile`] for columns that fit one panel (`n <= NR`) and rows that fit one
/// row tile (`m <= MR`).
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR` and `NR`, with `t.n <= NR`.
#[inline(always)]
unsafe fn one_panel<const MR: usize, const NR: usize>(t: &TileArgs) {
    let (m, n) = (t.m.min(MR), t.n.min(NR));
    let mut acc = [[0.0f32; NR]; MR];
    let mut rows = [core::ptr::null::<f32>(); MR];
    for (i, row) in rows.iter_mut().enumerate().take(m) {
        // SAFETY: a_rows holds at least m readable pointers.
        *row = unsafe { *t.a_rows.add(i) };
    }
    t.a_k.for_each_run(t.k, |first, offset, len| {
        for p in first..first + len {
            // SAFETY: row p of the panel is in bounds (p < k).
            let b = unsafe { &*(t.b_panel.add(p * NR) as *const [f32; NR]) };
            for (acc_row, row) in acc.iter_mut().zip(&rows).take(m) {
                // SAFETY: element p of row i lies at offset + (p - first) in a
                // contiguous run, in bounds by the contract.
                let a = unsafe { *row.add(offset + (p - first)) };
                for (acc_ij, b_j) in acc_row.iter_mut().zip(b) {
                    *acc_ij += a * b_j;
                }
            }
        }
    });
    for (i, acc_row) in acc.iter().enumerate().take(m) {
        for (j, &value) in acc_row.iter().enumerate().take(n) {
            let bias = if t.bias.is_null() {
                0.0
            } else {
                // SAFETY: bias holds NR floats when not null.
                unsafe { *t.bias.add(j) }
            };
            // SAFETY: i < m and j < n: this element belongs to the tile.
            unsafe { store_element(t, i, j, value, bias) };
        }
    }
}

/// The scalar fallback tile, 4 x 8.
///
/// # Safety
/// The caller upholds the [ABI contract](crate::abi) for `MR = 4`, `NR = 8`.
pub unsafe fn f32_pw_4x8__scalar(t: &TileArgs) {
    // SAFETY: forwarded contract.
    unsafe { tile::<4, 8>(t) }
}
