//! Layout conversions between NHWC, NCHW and NCHWc, so that an engine can move
//! between layouts at the edges of a graph.

use crate::error::{Error, Result};
use crate::layout::{Layout, TensorDesc};

/// Pixels and channels per tile of the copy: a 16 x 16 tile of f32 is 1 KiB
/// on each side, so both the read and the write stay in L1.
const TILE: usize = 16;

/// Copies `src` into `dst`, converting the layout: channels
/// `src.channel_offset..` of `src` go to channels `dst.channel_offset..` of
/// `dst`. Both must have the same batch, height and width, and the same number
/// of channels from their offsets on. Padding lanes of an NCHWc destination's
/// last block are set to zero, as oneDNN expects; `dst` channels before its
/// offset are not touched.
///
/// ```
/// use pointwise::{convert, Layout, TensorDesc};
/// // 1 image, 1 x 2 pixels, 3 channels: NHWC -> NCHW.
/// let nhwc = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let mut nchw = [0.0; 6];
/// convert(&nhwc, &TensorDesc::new(Layout::Nhwc, 1, 1, 2, 3), &mut nchw, &TensorDesc::new(Layout::Nchw, 1, 1, 2, 3))?;
/// assert_eq!(nchw, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// # Ok::<(), pointwise::Error>(())
/// ```
///
/// # Errors
/// A zero size, mismatched shapes, a channel offset past the tensor, or a
/// slice of the wrong length.
pub fn convert(src: &[f32], src_desc: &TensorDesc, dst: &mut [f32], dst_desc: &TensorDesc) -> Result<()> {
    if dst_desc.spatial() != src_desc.spatial() {
        return Err(Error::ShapeMismatch { what: "output", expected: src_desc.spatial(), actual: dst_desc.spatial() });
    }
    let channels = src_desc.channels.checked_sub(src_desc.channel_offset).ok_or(Error::ChannelRange {
        what: "input",
        offset: src_desc.channel_offset,
        used: 0,
        channels: src_desc.channels,
    })?;
    let s = src_desc.validate("input", channels, src.len())?;
    let d = dst_desc.validate("output", channels, dst.len())?;
    let [batch, height, width] = src_desc.spatial();
    let plane = height * width;
    let (s_channel, s_axis) = s.channels_from(src_desc.channel_offset);
    let (d_channel, d_axis) = d.channels_from(dst_desc.channel_offset);
    // Pixel p of an image lies `p · pixel` from the image start in every layout.
    let copy = || {
        for b in 0..batch {
            let s_image = s.pixel_offset(b, 0, 0) + s_channel;
            let d_image = d.pixel_offset(b, 0, 0) + d_channel;
            for c0 in (0..channels).step_by(TILE) {
                for p0 in (0..plane).step_by(TILE) {
                    for c in c0..channels.min(c0 + TILE) {
                        let (sc, dc) = (s_image + s_axis.offset(c), d_image + d_axis.offset(c));
                        for p in p0..plane.min(p0 + TILE) {
                            dst[dc + p * d.pixel] = src[sc + p * s.pixel];
                        }
                    }
                }
            }
            if let Layout::Nchwc(block) = dst_desc.layout {
                let used = dst_desc.channel_offset + channels;
                let padded = used.div_ceil(block) * block;
                for c in used..padded {
                    let dc = d.pixel_offset(b, 0, 0) + d.channels_from(c).0 + c % block;
                    for p in 0..plane {
                        dst[dc + p * d.pixel] = 0.0;
                    }
                }
            }
        }
    };
    // Compiled for the best x86 level (or NEON) so the unit-stride loops vectorise.
    pulp::Arch::new().dispatch(copy);
    Ok(())
}
