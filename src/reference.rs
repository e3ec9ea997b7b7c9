//! A naive f64 reference: the definition the tests check against.
//!
//! It reads and writes the same [`TensorDesc`]s as the fast path, element by
//! element, accumulating in f64. Slow on purpose: it is easy to read.

use crate::conv::{Conv1x1, WeightOrder};
use crate::layout::{Layout, TensorDesc};

/// Offset of element `(b, c, y, x)` of a tensor, `c` counted from channel 0 of
/// the buffer (not from `channel_offset`).
pub fn element_offset(desc: &TensorDesc, b: usize, c: usize, y: usize, x: usize) -> usize {
    let (h, w, ch) = (desc.height, desc.width, desc.channels);
    match desc.layout {
        Layout::Nhwc => ((b * h + y) * w + x) * ch + c,
        Layout::Nchw => ((b * ch + c) * h + y) * w + x,
        Layout::Nchwc(block) => {
            let blocks = ch.div_ceil(block);
            (((b * blocks + c / block) * h + y) * w + x) * block + c % block
        }
    }
}

/// Copies channels `src_desc.channel_offset..+channels` of `src` to channels
/// `dst_desc.channel_offset..+channels` of `dst`, element by element, and
/// touches nothing else of `dst` (padding lanes and other channels keep their
/// values, unlike [`crate::convert()`]). The two have the same batch, height and
/// width; the tests use it to put a residual into an output.
///
/// Panics on inconsistent inputs: it is a test tool, not an API.
pub fn copy_channels(src: &[f32], src_desc: &TensorDesc, dst: &mut [f32], dst_desc: &TensorDesc, channels: usize) {
    assert_eq!(src_desc.spatial(), dst_desc.spatial(), "batch, height and width differ");
    for b in 0..src_desc.batch {
        for c in 0..channels {
            for y in 0..src_desc.height {
                for x in 0..src_desc.width {
                    dst[element_offset(dst_desc, b, dst_desc.channel_offset + c, y, x)] =
                        src[element_offset(src_desc, b, src_desc.channel_offset + c, y, x)];
                }
            }
        }
    }
}

/// Computes the convolution in f64 and returns the f64 output for every
/// element of `out_desc`'s buffer. Elements the convolution does not write
/// keep the value they have in `out_init` (so the caller can check that
/// padding and other channels are untouched).
///
/// Panics on inconsistent inputs: it is a test tool, not an API.
#[allow(clippy::too_many_arguments)]
pub fn conv1x1_f64(
    desc: &Conv1x1,
    weights: &[f32],
    order: WeightOrder,
    bias: Option<&[f32]>,
    input: &[f32],
    in_desc: &TensorDesc,
    residual: Option<(&[f32], &TensorDesc)>,
    out_init: &[f32],
    out_desc: &TensorDesc,
) -> Vec<f64> {
    let g_count = desc.groups;
    let k = desc.in_channels / g_count;
    let n = desc.out_channels / g_count;
    let [ho, wo] = desc.output_size(in_desc.height, in_desc.width);
    assert_eq!([out_desc.height, out_desc.width], [ho, wo]);
    let mut out: Vec<f64> = out_init.iter().map(|&v| v as f64).collect();
    for b in 0..in_desc.batch {
        for y in 0..ho {
            for x in 0..wo {
                for co in 0..desc.out_channels {
                    let g = co / n;
                    let mut sum = bias.map_or(0.0, |bias| bias[co] as f64);
                    for p in 0..k {
                        let ci = g * k + p;
                        let w = match order {
                            WeightOrder::OutIn => weights[co * k + p],
                            WeightOrder::InOut => weights[p * desc.out_channels + co],
                        };
                        let a = input[element_offset(
                            in_desc,
                            b,
                            in_desc.channel_offset + ci,
                            y * desc.stride[0],
                            x * desc.stride[1],
                        )];
                        sum += w as f64 * a as f64;
                    }
                    if let Some((r, r_desc)) = residual {
                        sum += r[element_offset(r_desc, b, r_desc.channel_offset + co, y, x)] as f64;
                    }
                    out[element_offset(out_desc, b, out_desc.channel_offset + co, y, x)] =
                        desc.activation.apply_f64(sum);
                }
            }
        }
    }
    out
}
