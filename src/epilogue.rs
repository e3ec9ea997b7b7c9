//! Fused activations.
//!
//! Piecewise-linear activations that are a clamp (none, ReLU, ReLU6, clamp)
//! run inside the micro-kernel, on registers, before the single store. The
//! others run as a pass over each output block right after the kernels wrote
//! it, while it is still in cache (as MLAS does), never as a second sweep
//! over the whole tensor.

use crate::error::{Error, Result};

/// The activation applied to `conv + bias [+ residual]`.
///
/// NaN inputs give NaN outputs for every variant, as in PyTorch (`relu(NaN)`
/// and `clamp(NaN)` are NaN).
///
/// Accuracy against the same function evaluated in f64 on the same f32 input
/// (measured by `tests/activations.rs` over `[-20, 20]`):
///
/// | activation | in kernel | max error |
/// |---|---|---|
/// | `None`, `Relu`, `Relu6`, `Clamp` | yes | exact |
/// | `LeakyRelu` | no | 1 ulp (one multiply) |
/// | `HardSwish` | no | 2 ulp |
/// | `Sigmoid`, `Silu`, `Tanh` | no | 4 ulp relative, or 1e-7 absolute near 0 |
/// | `Gelu` (tanh approximation) | no | 4 ulp relative, or 1e-7 absolute near 0 |
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Activation {
    /// Identity.
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `min(max(x, min), max)`; `min <= max`, neither NaN (infinities allowed).
    Clamp {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// `x` for `x >= 0`, `alpha · x` otherwise.
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
    /// `x · sigmoid(x)` (swish).
    Silu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `x · min(max(x + 3, 0), 6) / 6`.
    HardSwish,
    /// `0.5 · x · (1 + tanh(sqrt(2/π) · (x + 0.044715 · x³)))`.
    Gelu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// Rejects NaN parameters and an empty clamp range.
    pub(crate) fn validate(self) -> Result<Self> {
        match self {
            Activation::Clamp { min, max } if min.is_nan() || max.is_nan() => {
                Err(Error::InvalidActivation { reason: "clamp bound is NaN" })
            }
            Activation::Clamp { min, max } if min > max => {
                Err(Error::InvalidActivation { reason: "clamp min is greater than max" })
            }
            Activation::LeakyRelu { alpha } if !alpha.is_finite() => {
                Err(Error::InvalidActivation { reason: "leaky ReLU slope is not finite" })
            }
            other => Ok(other),
        }
    }

    /// The clamp the kernel applies: the activation itself when it is a
    /// clamp, otherwise `(-inf, +inf)` (then [`Activation::apply`] runs after).
    pub(crate) fn kernel_clamp(self) -> (f32, f32) {
        match self {
            Activation::Relu => (0.0, f32::INFINITY),
            Activation::Relu6 => (0.0, 6.0),
            Activation::Clamp { min, max } => (min, max),
            _ => (f32::NEG_INFINITY, f32::INFINITY),
        }
    }

    /// True when the activation needs a pass after the kernel.
    pub(crate) fn needs_pass(self) -> bool {
        !matches!(self, Activation::None | Activation::Relu | Activation::Relu6 | Activation::Clamp { .. })
    }

    /// The activation of one value, in f32. Clamp-like variants are included
    /// so that this is also the scalar definition used by the reference.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu | Activation::Relu6 | Activation::Clamp { .. } => {
                let (lo, hi) = self.kernel_clamp();
                pointwise_kernels::abi::clamp(x, lo, hi)
            }
            Activation::LeakyRelu { alpha } => {
                if x < 0.0 {
                    alpha * x
                } else {
                    x
                }
            }
            Activation::Silu => x * sigmoid(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::HardSwish => x * pointwise_kernels::abi::clamp(x + 3.0, 0.0, 6.0) * (1.0 / 6.0),
            Activation::Gelu => {
                const SQRT_2_OVER_PI: f32 = 0.797_884_6;
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
            }
            Activation::Tanh => x.tanh(),
        }
    }

    /// The activation of one value, in f64: the reference definition.
    pub fn apply_f64(self, x: f64) -> f64 {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        match self {
            Activation::None => x,
            Activation::Relu | Activation::Relu6 | Activation::Clamp { .. } => {
                let (lo, hi) = self.kernel_clamp();
                if x.is_nan() {
                    x
                } else {
                    x.max(lo as f64).min(hi as f64)
                }
            }
            Activation::LeakyRelu { alpha } => {
                if x < 0.0 {
                    alpha as f64 * x
                } else {
                    x
                }
            }
            Activation::Silu => x * sigmoid(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::HardSwish => {
                let r6 = if x.is_nan() { x } else { (x + 3.0).clamp(0.0, 6.0) };
                x * r6 / 6.0
            }
            Activation::Gelu => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
            }
            Activation::Tanh => x.tanh(),
        }
    }

    /// Applies the activation in place to a cache-hot run of outputs.
    pub(crate) fn apply_slice(self, values: &mut [f32]) {
        for v in values {
            *v = self.apply(*v);
        }
    }
}

/// `1 / (1 + exp(-x))`, saturating cleanly for large `|x|`.
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
