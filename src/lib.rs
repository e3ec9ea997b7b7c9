//! # pointwise
//!
//! Fast f32 1x1 (pointwise) convolution for inference engines:
//! `out = act(conv1x1(in, W) + bias [+ residual])`, on hand-written AVX2+FMA,
//! AVX-512F and NEON micro-kernels chosen at run time, with a portable scalar
//! kernel as fallback and as test oracle.
//!
//! 1. Describe the layer with [`Conv1x1`] (channels, groups, stride, [`Activation`]).
//! 2. Pack its weights once: [`Conv1x1::pack`] gives a [`PackedConv`].
//! 3. Run it on every call: [`PackedConv::run_nhwc`], or [`PackedConv::run`] for
//!    NHWC, NCHW and NCHWc tensors ([`TensorDesc`]), channel slices and
//!    concatenation targets, and [`PackedConv::run_residual`] for a fused skip
//!    connection ([`PackedConv::run_residual_in_output`] when the output holds
//!    the skip connection's values: [`Residual::InOutput`], the cheaper one).
//!
//! Every bad input gives an [`Error`] before anything is written. Calls do no
//! heap allocation.
//!
//! The ISA is chosen once per process ([`dispatch::default_isa`]): the best the
//! CPU supports, or the one named by `POINTWISE_ISA` (`scalar`, `avx2`,
//! `avx512`, `neon`). [`Conv1x1::pack_for`] forces one per layer. Within an
//! ISA, a kernel tuned for this processor, where the tile table has one,
//! stands in for the generic kernel of its shape, with the same results
//! ([`dispatch::detected_tuning`]); [`Conv1x1::pack_for_kernel`] packs for any
//! kernel by name.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

mod cache;
mod conv;
mod convert;
mod cpu;
pub mod dispatch;
mod driver;
mod epilogue;
mod error;
mod layout;
pub mod measure;
mod pack;
pub mod peak;
mod plan;
pub mod reference;
pub mod suite;
mod workers;

pub use conv::{Conv1x1, PackedConv, Residual, RunInfo, RunOptions, Tensor, TensorMut, WeightOrder};
pub use convert::convert;
pub use epilogue::Activation;
pub use error::{Error, Result};
pub use layout::{Layout, TensorDesc};
pub use plan::{Plan, Threads};
pub use pointwise_kernels::Isa;

/// The micro-kernel crate, re-exported for tests and benches that drive a
/// kernel directly.
pub use pointwise_kernels as kernels;

/// Whether a kernel tile of `rows` rows `row_step_bytes` apart evicts its own
/// rows from this core's L1 data cache: the rule by which the driver cuts such
/// tiles into calls of fewer rows (for the tests that check where it does).
#[doc(hidden)]
pub fn l1d_rows_alias(rows: usize, row_step_bytes: usize) -> bool {
    cache::l1d().rows_alias(rows, row_step_bytes)
}

/// This core's L2 size as the driver reads it: a call whose input is larger
/// than twice this streams its rows (for the tests that check what follows).
#[doc(hidden)]
pub fn l2_bytes() -> usize {
    cache::l2_bytes()
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
