//! The one error type of the crate.

use core::fmt;

use crate::Isa;

/// Everything that can be wrong with a call. Every check happens before the
/// first output element is written, so an error never leaves a partial result.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A size that must be at least 1 is 0 (`what` names it).
    ZeroSize {
        /// The size, e.g. `"in_channels"`.
        what: &'static str,
    },
    /// A product of sizes does not fit in `usize` (or in `isize` bytes).
    SizeOverflow {
        /// The quantity being computed, e.g. `"input length"`.
        what: &'static str,
    },
    /// A slice has the wrong number of elements.
    LengthMismatch {
        /// The slice, e.g. `"weights"` or `"output"`.
        what: &'static str,
        /// The length the shape calls for.
        expected: usize,
        /// The length passed.
        actual: usize,
    },
    /// `groups` does not divide a channel count.
    GroupsDoNotDivide {
        /// `"in_channels"` or `"out_channels"`.
        what: &'static str,
        /// The channel count.
        channels: usize,
        /// The number of groups.
        groups: usize,
    },
    /// A tensor's spatial shape or batch is not the one the convolution needs.
    ShapeMismatch {
        /// The tensor: `"output"` or `"residual"`.
        what: &'static str,
        /// `[batch, height, width]` expected.
        expected: [usize; 3],
        /// `[batch, height, width]` passed.
        actual: [usize; 3],
    },
    /// A tensor holds fewer channels than the convolution reads or writes.
    ChannelRange {
        /// The tensor: `"input"`, `"output"` or `"residual"`.
        what: &'static str,
        /// First channel used.
        offset: usize,
        /// Channels used from `offset` on.
        used: usize,
        /// Channels the tensor holds.
        channels: usize,
    },
    /// A blocked layout with a block size other than 8 or 16.
    UnsupportedBlock {
        /// The block size asked for.
        block: usize,
    },
    /// An activation parameter is NaN, or a clamp has `min > max`.
    InvalidActivation {
        /// What is wrong.
        reason: &'static str,
    },
    /// `POINTWISE_ISA` or an API name is not one of `scalar`, `avx2`, `avx512`, `neon`.
    UnknownIsa {
        /// The name given.
        name: String,
    },
    /// `POINTWISE_TUNING` is not one of `generic`, `zen4`.
    UnknownTuning {
        /// The name given.
        name: String,
    },
    /// No kernel of this name is compiled into this build (see
    /// `pointwise::kernels::KERNELS`).
    UnknownKernel {
        /// The name given.
        name: String,
    },
    /// The ISA was asked for but this CPU lacks it.
    IsaUnavailable {
        /// The ISA asked for.
        isa: Isa,
    },
    /// The ISA was asked for but its backend is not compiled in (cargo feature
    /// off, or another target architecture).
    IsaNotCompiled {
        /// The ISA asked for.
        isa: Isa,
    },
    /// A call asked for one ISA, but the weights were packed for another: the
    /// panel layout belongs to the kernel they were packed for.
    WeightsPackedForOtherIsa {
        /// The ISA the weights were packed for.
        packed: Isa,
        /// The ISA the call asked for.
        requested: Isa,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroSize { what } => write!(f, "{what} is 0; it must be at least 1"),
            Error::SizeOverflow { what } => write!(f, "{what} overflows usize"),
            Error::LengthMismatch { what, expected, actual } => {
                write!(f, "{what} has {actual} elements, but the shape calls for {expected}")
            }
            Error::GroupsDoNotDivide { what, channels, groups } => {
                write!(f, "{groups} groups do not divide {what} = {channels}")
            }
            Error::ShapeMismatch { what, expected, actual } => {
                write!(f, "{what} has batch x height x width {:?}, but the convolution produces {:?}", actual, expected)
            }
            Error::ChannelRange { what, offset, used, channels } => write!(
                f,
                "{what} holds {channels} channels, but channels {offset}..{} are used",
                offset.saturating_add(*used)
            ),
            Error::UnsupportedBlock { block } => {
                write!(f, "channel block {block} is not supported; use 8 or 16")
            }
            Error::InvalidActivation { reason } => write!(f, "invalid activation: {reason}"),
            Error::UnknownIsa { name } => {
                write!(f, "unknown ISA {name:?}; expected one of scalar, avx2, avx512, neon")
            }
            Error::UnknownTuning { name } => {
                write!(f, "unknown POINTWISE_TUNING {name:?}; expected generic or zen4")
            }
            Error::UnknownKernel { name } => {
                let known: Vec<&str> = pointwise_kernels::KERNELS.iter().map(|k| k.name).collect();
                write!(f, "no kernel named {name:?} in this build; it has {}", known.join(", "))
            }
            Error::IsaUnavailable { isa } => {
                write!(f, "ISA {} was asked for, but this CPU does not support it", isa.name())
            }
            Error::IsaNotCompiled { isa } => write!(
                f,
                "ISA {} was asked for, but this build does not include it (cargo feature off or other target)",
                isa.name()
            ),
            Error::WeightsPackedForOtherIsa { packed, requested } => write!(
                f,
                "weights were packed for {}, but the call asks for {}; pack them again for {}",
                packed.name(),
                requested.name(),
                requested.name()
            ),
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Checked product of sizes, naming the quantity on overflow.
pub(crate) fn checked_product(what: &'static str, factors: &[usize]) -> Result<usize> {
    let product = factors.iter().try_fold(1usize, |acc, &f| acc.checked_mul(f)).ok_or(Error::SizeOverflow { what })?;
    // Slices hold at most isize::MAX bytes.
    if product > isize::MAX as usize / core::mem::size_of::<f32>() {
        return Err(Error::SizeOverflow { what });
    }
    Ok(product)
}

/// Rejects a zero size, naming it.
pub(crate) fn nonzero(what: &'static str, value: usize) -> Result<usize> {
    if value == 0 {
        Err(Error::ZeroSize { what })
    } else {
        Ok(value)
    }
}
