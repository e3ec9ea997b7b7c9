//! Where a call's rows are, for the walks (`walk.rs`, `dot.rs`): read from
//! the row pointer arrays of a [`TileArgs`] call, or computed from the
//! strides of a [`StridedArgs`] call. A walk written over [`CallRows`] does
//! the same operations in the same order whichever the rows' source. (The
//! strided entry points give the bits of the indirect ones because each row
//! is computed the same way there too: bias, FMAs in k order (on two sets,
//! even and odd k, in the 6x16 AVX2 kernel's half panels), residual, clamp,
//! whether the indirect entry point walks or runs its `tile`.)

use crate::abi::{row_pointers_at, StridedArgs, TileArgs};

/// The rows of one call, from row 0.
///
/// # Safety
/// Each method is called for rows `i < m` of the call that the
/// implementation describes, under that call's contract.
pub(crate) trait CallRows {
    /// Element 0 of activation row `i` (its elements contiguous).
    unsafe fn a_row(&self, i: usize) -> *const f32;
    /// Column 0 of output row `i`.
    unsafe fn c_row(&self, i: usize) -> *mut f32;
    /// Column 0 of residual row `i`, for a call that has a residual.
    unsafe fn r_row(&self, i: usize) -> *const f32;
    /// Activation rows `0..MR` (with `MR` rows in the call), each moved to
    /// element `offset`, as a k loop reads them.
    #[inline(always)]
    unsafe fn a_rows_at<const MR: usize>(&self, offset: usize) -> [*const f32; MR] {
        // SAFETY: rows i < MR exist and element `offset` of each is in
        // bounds or one past it (the caller's contract).
        core::array::from_fn(|i| unsafe { self.a_row(i).add(offset) })
    }
}

/// The rows of a [`TileArgs`] call, read from its row pointer arrays, with
/// the offsets of column 0 (`c_cols.offset(0)`, `r_cols.offset(0)`).
pub(crate) struct IndirectRows<'a> {
    t: &'a TileArgs,
    c_offset: usize,
    r_offset: usize,
}

impl<'a> IndirectRows<'a> {
    /// The rows of `t`.
    #[inline(always)]
    pub(crate) fn of(t: &'a TileArgs) -> Self {
        IndirectRows { t, c_offset: t.c_cols.offset(0), r_offset: t.r_cols.offset(0) }
    }
}

impl CallRows for IndirectRows<'_> {
    #[inline(always)]
    unsafe fn a_row(&self, i: usize) -> *const f32 {
        // SAFETY: i < m: a_rows[i] is readable.
        unsafe { *self.t.a_rows.add(i) }
    }
    #[inline(always)]
    unsafe fn c_row(&self, i: usize) -> *mut f32 {
        // SAFETY: i < m: c_rows[i] is readable, and column 0 is in bounds.
        unsafe { (*self.t.c_rows.add(i)).add(self.c_offset) }
    }
    #[inline(always)]
    unsafe fn r_row(&self, i: usize) -> *const f32 {
        // SAFETY: i < m and the call has a residual: r_rows[i] is readable,
        // and column 0 is in bounds.
        unsafe { (*self.t.r_rows.add(i)).add(self.r_offset) }
    }
    #[inline(always)]
    unsafe fn a_rows_at<const MR: usize>(&self, offset: usize) -> [*const f32; MR] {
        // SAFETY: forwarded (m == MR >= 1 rows).
        unsafe { row_pointers_at(self.t.a_rows, self.t.m, offset) }
    }
}

/// The rows of a [`StridedArgs`] call from row `first` on.
pub(crate) struct StridedRows {
    a: *const f32,
    a_row_stride: usize,
    c: *mut f32,
    c_row_stride: usize,
    r: *const f32,
    r_row_stride: usize,
}

impl StridedRows {
    /// The rows of `s` from row `first <= s.m` on.
    #[inline(always)]
    pub(crate) fn of(s: &StridedArgs, first: usize) -> Self {
        StridedRows {
            // Wrapping: only rows below m are ever dereferenced.
            a: s.a.wrapping_add(first * s.a_row_stride),
            a_row_stride: s.a_row_stride,
            c: s.c.wrapping_add(first * s.c_row_stride),
            c_row_stride: s.c_row_stride,
            // `r_row_stride` means nothing without a residual.
            r: if s.r.is_null() { s.r } else { s.r.wrapping_add(first * s.r_row_stride) },
            r_row_stride: s.r_row_stride,
        }
    }
}

impl CallRows for StridedRows {
    #[inline(always)]
    unsafe fn a_row(&self, i: usize) -> *const f32 {
        // SAFETY: i < m: row i lies in the activations' allocation.
        unsafe { self.a.add(i * self.a_row_stride) }
    }
    #[inline(always)]
    unsafe fn c_row(&self, i: usize) -> *mut f32 {
        // SAFETY: i < m: row i lies in the output's allocation.
        unsafe { self.c.add(i * self.c_row_stride) }
    }
    #[inline(always)]
    unsafe fn r_row(&self, i: usize) -> *const f32 {
        // SAFETY: i < m and the call has a residual: row i lies in the
        // residual's allocation.
        unsafe { self.r.add(i * self.r_row_stride) }
    }
}
