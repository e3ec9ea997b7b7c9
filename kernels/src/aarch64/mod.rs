//! AArch64 kernels. Advanced SIMD is part of the AArch64 Linux baseline, but
//! each function still carries `#[target_feature(enable = "neon")]` so that the
//! kernels state what they need, as the x86-64 ones do.

pub mod neon;
