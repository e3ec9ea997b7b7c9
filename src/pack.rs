//! Weight packing: from the caller's order to the kernel's panels.
//!
//! For each group, output channels are cut into panels of `nr` (the kernel's
//! tile width). A panel holds `k = in_channels / groups` rows of `nr` floats:
//! row `p` is input channel `p` for the panel's `nr` output channels, zero past
//! the group's last channel. The panel is what the micro-kernel streams, one
//! aligned row per k step. Packing happens once per layer, so it favours
//! clarity over speed.

use aligned_vec::{AVec, ConstAlign};
use pointwise_kernels::Kernel;

use crate::conv::{Conv1x1, WeightOrder};
use crate::error::{checked_product, Result};

/// Packed weights and bias of one convolution.
pub(crate) struct Packed {
    pub weights: AVec<f32, ConstAlign<64>>,
    pub bias: Option<AVec<f32, ConstAlign<64>>>,
}

/// Number of `nr`-wide panels for `n` output channels.
pub(crate) fn panels(n: usize, nr: usize) -> usize {
    n.div_ceil(nr)
}

/// Floats from one panel to the next: `k·nr` rounded up to 64 bytes, so that
/// every panel starts 64-byte aligned (as the ABI promises) whatever `nr` and `k`.
pub(crate) fn panel_stride(k: usize, nr: usize) -> usize {
    (k * nr).next_multiple_of(16)
}

/// Offset of the panel of group `g`, panel `p`, in the packed weights.
pub(crate) fn panel_offset(k: usize, n: usize, nr: usize, g: usize, p: usize) -> usize {
    (g * panels(n, nr) + p) * panel_stride(k, nr)
}

pub(crate) fn pack_weights(
    desc: &Conv1x1,
    kernel: &Kernel,
    weights: &[f32],
    order: WeightOrder,
    bias: Option<&[f32]>,
) -> Result<Packed> {
    let (groups, nr) = (desc.groups, kernel.nr);
    let k = desc.in_channels / groups;
    let n = desc.out_channels / groups;
    let panel_count = checked_product("packed panel count", &[groups, panels(n, nr)])?;
    let panel_floats = k.checked_mul(nr).and_then(|f| f.checked_next_multiple_of(16));
    let total = checked_product("packed weight length", &[panel_count, panel_floats.unwrap_or(usize::MAX)])?;
    let mut packed = AVec::<f32, ConstAlign<64>>::from_iter(0, core::iter::repeat_n(0.0, total));
    // Weight (output channel `co` of the whole layer, input channel `p` of its group).
    let weight = |co: usize, p: usize| match order {
        WeightOrder::OutIn => weights[co * k + p],
        WeightOrder::InOut => weights[p * desc.out_channels + co],
    };
    for g in 0..groups {
        for panel in 0..panels(n, nr) {
            let base = panel_offset(k, n, nr, g, panel);
            for j in 0..nr.min(n - panel * nr) {
                let co = g * n + panel * nr + j;
                for p in 0..k {
                    packed[base + p * nr + j] = weight(co, p);
                }
            }
        }
    }
    let bias = bias.map(|bias| {
        let mut out = AVec::<f32, ConstAlign<64>>::from_iter(0, core::iter::repeat_n(0.0, panel_count * nr));
        for g in 0..groups {
            for j in 0..n {
                out[(g * panels(n, nr) + j / nr) * nr + j % nr] = bias[g * n + j];
            }
        }
        out
    });
    Ok(Packed { weights: packed, bias })
}
