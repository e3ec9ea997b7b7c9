//! x86-64 kernels. Each function carries `#[target_feature]`; calling it is
//! sound only on a CPU with that feature set (`pointwise` checks with pulp).

#[cfg(feature = "avx2")]
pub mod avx2;
#[cfg(feature = "avx512")]
pub mod avx512;
