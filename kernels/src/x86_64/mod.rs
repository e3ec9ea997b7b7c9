//! x86-64 kernels. Each function carries `#[target_feature]`; calling it is
//! sound only on a CPU with that feature set (`pointwise` checks with pulp).

#[cfg(feature = "avx2")]
pub mod avx2;
#[cfg(feature = "avx512")]
pub mod avx512;

/// How far ahead of the element being read (in floats: 8 KiB) a kernel that
/// streams its activations prefetches them. Every layout is walked in
/// increasing address order within a channel run (pixels follow each other in
/// NHWC and inside an NCHWc or NCHW plane), so the same channels 8 KiB further
/// on are what a later tile of the block reads. A prefetch never faults, so a
/// guess past the end of the tensor is harmless. Measured on unet.head
/// (16 MiB of input streamed from L3 or memory, AVX-512, Zen 4): 1.3x, noisy
/// between 1 KiB and 32 KiB.
pub(crate) const PREFETCH_AHEAD: usize = 2048;
