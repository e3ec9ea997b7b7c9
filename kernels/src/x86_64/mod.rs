//! x86-64 kernels. Each function carries `#[target_feature]`; calling it is
//! sound only on a CPU with that feature set (`pointwise` checks with pulp).

#[cfg(feature = "avx2")]
pub mod avx2;
#[cfg(feature = "avx512")]
pub mod avx512;

/// Loads row pointers `0..MR`, clamping rows `m..MR` to row `m - 1` so that
/// the inner loop has no row branches and never reads an absent row. Shared
/// by every x86-64 kernel (it needs no target feature).
///
/// # Safety
/// `rows` holds at least `m >= 1` readable pointers.
#[inline(always)]
pub(crate) unsafe fn clamped_rows<T: Copy, const MR: usize>(rows: *const T, m: usize) -> [T; MR] {
    // SAFETY: index min(i, m - 1) < m.
    core::array::from_fn(|i| unsafe { *rows.add(i.min(m - 1)) })
}
