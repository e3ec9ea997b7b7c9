//! Activation tensors: layouts, shapes, and where each element lies.

use pointwise_kernels::Strides;

use crate::error::{checked_product, nonzero, Error, Result};

/// Memory order of an activation tensor of `batch x channels x height x width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `[N][H][W][C]`: channels contiguous (TensorFlow, XNNPACK, tract).
    Nhwc,
    /// `[N][C][H][W]`: one plane per channel (PyTorch, ONNX).
    Nchw,
    /// `[N][ceil(C/c)][H][W][c]` with `c` = 8 or 16 (oneDNN `nChw8c`/`nChw16c`,
    /// MLAS NCHWc). Channels past `C` in the last block are padding: they are
    /// never read as data, and never written.
    Nchwc(usize),
}

/// Shape and layout of an activation tensor.
///
/// `channels` is the channel count of the whole buffer; a convolution may use
/// a slice of it starting at `channel_offset`. Writing the output of several
/// convolutions into one wider tensor at different offsets is a concatenation
/// that costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorDesc {
    /// Memory order.
    pub layout: Layout,
    /// Images in the batch.
    pub batch: usize,
    /// Rows of each image.
    pub height: usize,
    /// Columns of each image.
    pub width: usize,
    /// Channels held by the buffer.
    pub channels: usize,
    /// First channel the convolution reads (input) or writes (output).
    pub channel_offset: usize,
}

impl TensorDesc {
    /// A tensor of the given layout whose channels are all used.
    pub fn new(layout: Layout, batch: usize, height: usize, width: usize, channels: usize) -> Self {
        TensorDesc { layout, batch, height, width, channels, channel_offset: 0 }
    }

    /// An NHWC tensor whose channels are all used.
    pub fn nhwc(batch: usize, height: usize, width: usize, channels: usize) -> Self {
        Self::new(Layout::Nhwc, batch, height, width, channels)
    }

    /// The same tensor, used from channel `offset` on (a channel slice or a
    /// concatenation target).
    pub fn with_channel_offset(self, offset: usize) -> Self {
        TensorDesc { channel_offset: offset, ..self }
    }

    /// `[batch, height, width]`.
    pub fn spatial(&self) -> [usize; 3] {
        [self.batch, self.height, self.width]
    }

    /// Number of `f32` elements the buffer must hold, padding included.
    pub fn len(&self) -> Result<usize> {
        let [n, h, w] = self.spatial();
        match self.layout {
            Layout::Nhwc | Layout::Nchw => checked_product("tensor length", &[n, h, w, self.channels]),
            Layout::Nchwc(block) => {
                let block = check_block(block)?;
                checked_product("tensor length", &[n, self.channels.div_ceil(block), h, w, block])
            }
        }
    }

    /// Always false for a valid tensor (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len().map(|l| l == 0).unwrap_or(true)
    }

    /// Checks the sizes, the channel range `channel_offset..+used`, and the
    /// slice length. `what` names the tensor in errors.
    pub(crate) fn validate(&self, what: &'static str, used: usize, data_len: usize) -> Result<Geometry> {
        nonzero("batch", self.batch)?;
        nonzero("height", self.height)?;
        nonzero("width", self.width)?;
        nonzero("channels", self.channels)?;
        let end = self.channel_offset.checked_add(used).ok_or(Error::SizeOverflow { what: "channel range" })?;
        if end > self.channels {
            return Err(Error::ChannelRange { what, offset: self.channel_offset, used, channels: self.channels });
        }
        let expected = self.len()?;
        if data_len != expected {
            return Err(Error::LengthMismatch { what, expected, actual: data_len });
        }
        let plane = self.height * self.width; // no overflow: len() succeeded
        Ok(match self.layout {
            Layout::Nhwc => Geometry {
                image: plane * self.channels,
                row: self.width * self.channels,
                pixel: self.channels,
                channel: Strides::CONTIGUOUS,
            },
            Layout::Nchw => Geometry {
                image: plane * self.channels,
                row: self.width,
                pixel: 1,
                channel: Strides { block: 1, block_stride: plane, phase: 0 },
            },
            Layout::Nchwc(block) => Geometry {
                image: plane * self.channels.div_ceil(block) * block,
                row: self.width * block,
                pixel: block,
                channel: Strides { block, block_stride: plane * block, phase: 0 },
            },
        })
    }
}

fn check_block(block: usize) -> Result<usize> {
    match block {
        8 | 16 => Ok(block),
        _ => Err(Error::UnsupportedBlock { block }),
    }
}

/// Element offsets of a validated tensor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Elements from one image to the next.
    pub image: usize,
    /// Elements from one row of pixels to the next.
    pub row: usize,
    /// Elements from one pixel to the next in a row.
    pub pixel: usize,
    /// The channel axis, for channel 0.
    channel: Strides,
}

impl Geometry {
    /// Offset of pixel `(b, y, x)`, channel 0 of its block row.
    #[inline]
    pub fn pixel_offset(&self, b: usize, y: usize, x: usize) -> usize {
        b * self.image + y * self.row + x * self.pixel
    }

    /// The distance between consecutive pixels of the flat (image, row,
    /// column) order of a tensor of `batch` images of `height` rows and
    /// `width` columns, when every pixel `i` of it lies at `i` times that
    /// distance: rows and images follow each other without a gap.
    pub fn flat_pixel_step(&self, batch: usize, height: usize, width: usize) -> Option<usize> {
        let rows_packed = height == 1 || self.row == width * self.pixel;
        let images_packed = batch == 1 || self.image == height * width * self.pixel;
        (rows_packed && images_packed).then_some(self.pixel)
    }

    /// The channel axis from channel `first` on: the offset of the block that
    /// holds `first` (to add to a pixel offset), and the strides with `first`
    /// as index 0.
    pub fn channels_from(&self, first: usize) -> (usize, Strides) {
        self.channel.advance(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixel `i` of the flat order lies at `i · pixel` only when rows and
    /// images follow each other without a gap.
    #[test]
    fn flat_pixel_step_needs_packed_rows_and_images() {
        let g = |image, row, pixel| Geometry { image, row, pixel, channel: Strides::CONTIGUOUS };
        // 2 images of 3 x 4 pixels of 5 channels, packed (NHWC).
        assert_eq!(g(60, 20, 5).flat_pixel_step(2, 3, 4), Some(5));
        // A gap after each row, or after each image.
        assert_eq!(g(63, 21, 5).flat_pixel_step(2, 3, 4), None);
        assert_eq!(g(64, 20, 5).flat_pixel_step(2, 3, 4), None);
        // One row per image: the row pitch is not used, the image pitch is.
        assert_eq!(g(20, 99, 5).flat_pixel_step(2, 1, 4), Some(5));
        assert_eq!(g(99, 99, 5).flat_pixel_step(2, 1, 4), None);
        // One image: the image pitch is not used.
        assert_eq!(g(999, 20, 5).flat_pixel_step(1, 3, 4), Some(5));
    }
}
