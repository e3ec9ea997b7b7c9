//! AArch64 kernels. Advanced SIMD is part of the AArch64 Linux baseline, but
//! each function still carries `#[target_feature(enable = "neon")]` so that the
//! kernels state what they need, as the x86-64 ones do.

pub mod neon;

/// Loads row pointers `0..MR`, clamping rows `m..MR` to row `m - 1` so that
/// the inner loop has no row branches and never reads an absent row. The same
/// helper as `x86_64::clamped_rows`, which is compiled only there.
///
/// # Safety
/// `rows` holds at least `m >= 1` readable pointers.
#[inline(always)]
pub(crate) unsafe fn clamped_rows<T: Copy, const MR: usize>(rows: *const T, m: usize) -> [T; MR] {
    // SAFETY: index min(i, m - 1) < m.
    core::array::from_fn(|i| unsafe { *rows.add(i.min(m - 1)) })
}
