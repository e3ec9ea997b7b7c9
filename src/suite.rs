//! The layer suite: real 1x1 layers of well-known networks, as CSV rows of
//! `name,batch,height,width,in_channels,out_channels,stride,groups`.
//!
//! Used by the command-line runner and the benches; engines can use it to
//! describe their own layer lists in the same format.

use crate::{Conv1x1, TensorDesc};

/// The public suite (ResNet-50, MobileNetV2, SE, grouped, U-Net head, batch 8),
/// embedded at build time.
pub const PUBLIC_SUITE: &str = include_str!("layers.csv");

/// One layer of a suite.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Name, e.g. `resnet50.s3.expand`.
    pub name: String,
    /// Images per call.
    pub batch: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// The convolution (no activation).
    pub conv: Conv1x1,
}

impl Layer {
    /// NHWC input description.
    pub fn input_desc(&self) -> TensorDesc {
        TensorDesc::nhwc(self.batch, self.height, self.width, self.conv.in_channels)
    }

    /// NHWC output description.
    pub fn output_desc(&self) -> TensorDesc {
        let [ho, wo] = self.conv.output_size(self.height, self.width);
        TensorDesc::nhwc(self.batch, ho, wo, self.conv.out_channels)
    }

    /// Floating-point operations of one call.
    pub fn flops(&self) -> f64 {
        self.conv.flops(self.batch, self.height, self.width)
    }

    /// GEMM view `[M, K, N]` per group: M = output pixels, K and N per group.
    pub fn gemm_shape(&self) -> [usize; 3] {
        let [ho, wo] = self.conv.output_size(self.height, self.width);
        let g = self.conv.groups;
        [self.batch * ho * wo, self.conv.in_channels / g, self.conv.out_channels / g]
    }
}

/// Parses suite CSV text; `#` starts a comment line.
///
/// # Errors
/// A message naming the line that is malformed.
pub fn parse(text: &str) -> Result<Vec<Layer>, String> {
    let mut layers = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("name,") {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
        if fields.len() != 8 {
            return Err(bad("expected name,batch,height,width,in_channels,out_channels,stride,groups"));
        }
        let num = |i: usize| fields[i].parse::<usize>().map_err(|_| bad("not a non-negative integer"));
        let (stride, groups) = (num(6)?, num(7)?);
        layers.push(Layer {
            name: fields[0].to_string(),
            batch: num(1)?,
            height: num(2)?,
            width: num(3)?,
            conv: Conv1x1::new(num(4)?, num(5)?).with_stride(stride, stride).with_groups(groups),
        });
    }
    Ok(layers)
}
