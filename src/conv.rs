//! The public convolution API: a description, weights packed once, and calls.

use aligned_vec::{AVec, ConstAlign};
use pointwise_kernels::Kernel;

use crate::dispatch;
use crate::driver::{Call, ResidualData};
use crate::epilogue::Activation;
use crate::error::{checked_product, nonzero, Error, Result};
use crate::layout::TensorDesc;
use crate::pack;
use crate::plan::{Plan, Threads};
use crate::Isa;

/// Order of the weights as the caller holds them (per group, 1x1 spatial).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightOrder {
    /// `[out_channels][in_channels / groups]`: PyTorch and ONNX `OIHW` with 1x1.
    OutIn,
    /// `[in_channels / groups][out_channels]`: TensorFlow `HWIO` with 1x1.
    InOut,
}

/// A 1x1 convolution: `out = act(conv1x1(in, W) + bias [+ residual])`.
///
/// The description is checked when weights are packed ([`Conv1x1::pack`]).
///
/// ```
/// use pointwise::{Activation, Conv1x1, TensorDesc, WeightOrder};
///
/// // 3 input channels -> 2 output channels, ReLU, on a 1 x 2 x 2 NHWC image.
/// let weights = [1.0, 0.0, -1.0, /* out 0 */ 0.5, 0.5, 0.5 /* out 1 */];
/// let conv = Conv1x1::new(3, 2)
///     .with_activation(Activation::Relu)
///     .pack(&weights, WeightOrder::OutIn, Some(&[0.0, 1.0]))?;
///
/// let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 1.0, 1.0, 1.0];
/// let mut output = [0.0f32; 8];
/// let info = conv.run_nhwc(&input, 1, 2, 2, &mut output)?;
/// assert_eq!(output, [0.0, 4.0, 0.0, 8.5, 0.0, 13.0, 0.0, 2.5]);
/// println!("ran {} ({})", info.kernel, info.isa.name());
/// # Ok::<(), pointwise::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv1x1 {
    /// Input channels (all groups).
    pub in_channels: usize,
    /// Output channels (all groups).
    pub out_channels: usize,
    /// Groups: `in_channels` and `out_channels` are split into `groups`
    /// independent convolutions.
    pub groups: usize,
    /// Stride `[vertical, horizontal]`; output size is `(size - 1) / stride + 1`.
    pub stride: [usize; 2],
    /// The fused activation.
    pub activation: Activation,
}

impl Conv1x1 {
    /// A convolution of `in_channels` to `out_channels`, one group, stride 1,
    /// no activation.
    pub fn new(in_channels: usize, out_channels: usize) -> Self {
        Conv1x1 { in_channels, out_channels, groups: 1, stride: [1, 1], activation: Activation::None }
    }

    /// Sets the number of groups.
    pub fn with_groups(self, groups: usize) -> Self {
        Conv1x1 { groups, ..self }
    }

    /// Sets the stride (vertical, horizontal).
    pub fn with_stride(self, vertical: usize, horizontal: usize) -> Self {
        Conv1x1 { stride: [vertical, horizontal], ..self }
    }

    /// Sets the fused activation.
    pub fn with_activation(self, activation: Activation) -> Self {
        Conv1x1 { activation, ..self }
    }

    /// Output `[height, width]` for an input of `height x width`.
    pub fn output_size(&self, height: usize, width: usize) -> [usize; 2] {
        let out = |size: usize, stride: usize| {
            if size == 0 {
                0
            } else {
                (size - 1) / stride.max(1) + 1
            }
        };
        [out(height, self.stride[0]), out(width, self.stride[1])]
    }

    /// Floating-point operations of one call (a multiply-add counts 2).
    pub fn flops(&self, batch: usize, height: usize, width: usize) -> f64 {
        let [ho, wo] = self.output_size(height, width);
        2.0 * (batch * ho * wo) as f64 * self.in_channels as f64 * (self.out_channels / self.groups.max(1)) as f64
    }

    /// Checks the description: sizes non-zero, groups dividing both channel
    /// counts, a valid activation.
    pub fn validate(&self) -> Result<()> {
        nonzero("in_channels", self.in_channels)?;
        nonzero("out_channels", self.out_channels)?;
        nonzero("groups", self.groups)?;
        nonzero("vertical stride", self.stride[0])?;
        nonzero("horizontal stride", self.stride[1])?;
        for (what, channels) in [("in_channels", self.in_channels), ("out_channels", self.out_channels)] {
            if channels % self.groups != 0 {
                return Err(Error::GroupsDoNotDivide { what, channels, groups: self.groups });
            }
        }
        self.activation.validate()?;
        Ok(())
    }

    /// Packs weights (and an optional bias of `out_channels`) for the default
    /// ISA: `POINTWISE_ISA` if set, else the best this CPU supports; and for
    /// that ISA's kernel for this layer on this processor (a kernel tuned for
    /// it where the tile table has one, see [`dispatch::default_tuning`]).
    ///
    /// `weights` holds `out_channels · in_channels / groups` floats in `order`.
    ///
    /// # Errors
    /// An invalid description, a wrong weight or bias length, or a bad
    /// `POINTWISE_ISA`.
    pub fn pack(&self, weights: &[f32], order: WeightOrder, bias: Option<&[f32]>) -> Result<PackedConv> {
        self.pack_for(dispatch::default_isa()?, weights, order, bias)
    }

    /// Like [`Conv1x1::pack`], for a chosen ISA (tests, benches, engines that
    /// pick per layer).
    ///
    /// # Errors
    /// As [`Conv1x1::pack`], and [`Error::IsaNotCompiled`] or
    /// [`Error::IsaUnavailable`] when `isa` cannot run here.
    pub fn pack_for(&self, isa: Isa, weights: &[f32], order: WeightOrder, bias: Option<&[f32]>) -> Result<PackedConv> {
        self.validate()?;
        dispatch::check(isa)?;
        self.pack_with(dispatch::select_kernel(isa, self.out_channels / self.groups)?, weights, order, bias)
    }

    /// Like [`Conv1x1::pack`], for the kernel of the tile table named `kernel`
    /// (as [`PackedConv::kernel`] and the CLI print it): to compare kernels
    /// side by side, or for an engine that times them and keeps the faster.
    /// Any kernel computes any layer, each the same values within rounding
    /// (a kernel tuned for some processors bitwise those of the generic
    /// kernel of its shape).
    ///
    /// ```
    /// use pointwise::{Conv1x1, WeightOrder};
    /// let conv = Conv1x1::new(8, 4);
    /// let packed = conv.pack_for_kernel("f32_pw_4x8__scalar", &[0.5; 32], WeightOrder::OutIn, None)?;
    /// assert_eq!(packed.kernel().name, "f32_pw_4x8__scalar");
    /// # Ok::<(), pointwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Conv1x1::pack`]; [`Error::UnknownKernel`] when no kernel of that
    /// name is compiled into this build, and [`Error::IsaUnavailable`] when
    /// this CPU lacks the kernel's ISA.
    pub fn pack_for_kernel(
        &self,
        kernel: &str,
        weights: &[f32],
        order: WeightOrder,
        bias: Option<&[f32]>,
    ) -> Result<PackedConv> {
        self.validate()?;
        let kernel = pointwise_kernels::KERNELS
            .iter()
            .find(|k| k.name == kernel)
            .ok_or_else(|| Error::UnknownKernel { name: kernel.to_string() })?;
        dispatch::check(kernel.isa)?;
        self.pack_with(kernel, weights, order, bias)
    }

    /// Packs for `kernel`, which can run here, once the description is valid.
    fn pack_with(
        &self,
        kernel: &'static Kernel,
        weights: &[f32],
        order: WeightOrder,
        bias: Option<&[f32]>,
    ) -> Result<PackedConv> {
        let expected = checked_product("weight count", &[self.out_channels, self.in_channels / self.groups])?;
        if weights.len() != expected {
            return Err(Error::LengthMismatch { what: "weights", expected, actual: weights.len() });
        }
        if let Some(bias) = bias {
            if bias.len() != self.out_channels {
                return Err(Error::LengthMismatch { what: "bias", expected: self.out_channels, actual: bias.len() });
            }
        }
        let packed = pack::pack_weights(self, kernel, weights, order, bias)?;
        Ok(PackedConv { desc: *self, kernel, weights: packed.weights, bias: packed.bias })
    }
}

/// Weights packed for one kernel, ready to run any number of times.
///
/// It is `Send + Sync`: share it by reference between threads.
pub struct PackedConv {
    desc: Conv1x1,
    kernel: &'static Kernel,
    /// Per group, per panel of `nr` output channels: `k` rows of `nr` floats.
    weights: AVec<f32, ConstAlign<64>>,
    /// Per group, per panel: `nr` floats, zero past the last channel.
    bias: Option<AVec<f32, ConstAlign<64>>>,
}

impl core::fmt::Debug for PackedConv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PackedConv")
            .field("desc", &self.desc)
            .field("kernel", &self.kernel.name)
            .field("packed_floats", &self.weights.len())
            .field("bias", &self.bias.is_some())
            .finish()
    }
}

/// What ran: returned by every successful call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// The kernel's name, e.g. `f32_pw_6x16__avx2_fma`.
    pub kernel: &'static str,
    /// The kernel's ISA.
    pub isa: Isa,
    /// Tile rows (pixels).
    pub mr: usize,
    /// Tile columns (output channels).
    pub nr: usize,
    /// True when the kernel's strided entry point ran the call
    /// (`Kernel::run_strided`): NHWC at stride 1 (an NHWC residual too), two
    /// pixels or more, a depth up to the kernel's `strided_depth`, activation
    /// and residual rows that do not alias in L1 (rows 4 KiB apart on x86-64
    /// for a kernel of more rows than an L1 set has ways), on a kernel that
    /// has one. The kernel then found
    /// each pixel by its stride, and no row pointer arrays were written.
    pub strided: bool,
}

/// Options of [`PackedConv::run_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// When set, the call fails unless the weights were packed for this ISA.
    pub expect_isa: Option<Isa>,
    /// Threads for this call.
    pub threads: Threads,
}

/// Where the residual of `out = act(conv + bias + residual)` comes from.
///
/// A residual in the output ([`Residual::InOutput`]) is the cheaper of the
/// two when the skip connection's buffer is free to be overwritten (as in a
/// ResNet block, whose shortcut is dead after the add): the kernel then reads
/// each output line before it writes it, and a store that misses the cache
/// reads its line in any case. A residual tensor of its own is one more
/// stream. On Zen 4 (12x32 AVX-512 kernel, the ways timed in turn in one
/// process, three quiet runs), bias + residual + ReLU cost resnet50.s2.expand
/// (3 MiB of output) 2.9-4.6% over the plain layer with a residual tensor of
/// its own, and 0.7-0.9% with the residual in the output; the 6x16 AVX2
/// kernel 7.7-9.8% and 3.2-3.5% (`cargo run --release --example
/// epilogue_cost`).
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub enum Residual<'a> {
    /// No residual: `out = act(conv + bias)`.
    #[default]
    None,
    /// A tensor of its own, with the output's batch and spatial shape, in any
    /// layout; its channels `channel_offset..+out_channels` are read.
    Tensor(Tensor<'a>),
    /// The output's own values on entry, in the channels the call writes:
    /// `out = act(conv + bias + out)`, as oneDNN's sum post-op. Each value is
    /// read before it is overwritten, and the result has the same bits as
    /// with a copy of it passed as [`Residual::Tensor`]. The call is not
    /// idempotent: run twice, it adds the convolution twice (and a [`Plan`]
    /// whose tasks did not all run leaves the residual in their outputs).
    InOutput,
}

impl<'a> From<Option<Tensor<'a>>> for Residual<'a> {
    /// `None` is no residual, `Some(tensor)` a residual tensor.
    fn from(tensor: Option<Tensor<'a>>) -> Self {
        tensor.map_or(Residual::None, Residual::Tensor)
    }
}

/// An input or residual tensor: a slice and its description.
#[derive(Clone, Copy, Debug)]
pub struct Tensor<'a> {
    /// The elements, `desc.len()` of them.
    pub data: &'a [f32],
    /// Shape and layout.
    pub desc: TensorDesc,
}

/// An output tensor: a mutable slice and its description.
///
/// Any alignment is accepted; one that starts on a 64-byte boundary runs
/// faster with the AVX-512 kernels, whose stores of whole cache lines
/// otherwise span two (up to 27% on an Intel Xeon: README, "Buffers").
#[derive(Debug)]
pub struct TensorMut<'a> {
    /// The elements, `desc.len()` of them.
    pub data: &'a mut [f32],
    /// Shape and layout.
    pub desc: TensorDesc,
}

impl<'a> Tensor<'a> {
    /// Pairs a slice with its description (checked when run).
    pub fn new(data: &'a [f32], desc: TensorDesc) -> Self {
        Tensor { data, desc }
    }
}

impl<'a> TensorMut<'a> {
    /// Pairs a slice with its description (checked when run).
    pub fn new(data: &'a mut [f32], desc: TensorDesc) -> Self {
        TensorMut { data, desc }
    }
}

impl PackedConv {
    /// The description the weights were packed for.
    pub fn desc(&self) -> &Conv1x1 {
        &self.desc
    }

    /// The kernel the weights were packed for.
    pub fn kernel(&self) -> &'static Kernel {
        self.kernel
    }

    /// The ISA the weights were packed for.
    pub fn isa(&self) -> Isa {
        self.kernel.isa
    }

    /// Runs on NHWC tensors whose channels are all used:
    /// `input` is `batch x height x width x in_channels`, `output` is
    /// `batch x out_height x out_width x out_channels`.
    ///
    /// # Errors
    /// A zero size, or a slice length that does not match the shape.
    pub fn run_nhwc(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        output: &mut [f32],
    ) -> Result<RunInfo> {
        let [ho, wo] = self.desc.output_size(height, width);
        self.run(
            Tensor::new(input, TensorDesc::nhwc(batch, height, width, self.desc.in_channels)),
            TensorMut::new(output, TensorDesc::nhwc(batch, ho, wo, self.desc.out_channels)),
        )
    }

    /// Runs on tensors of any layout: reads `input`'s channels
    /// `channel_offset..+in_channels`, writes `output`'s channels
    /// `channel_offset..+out_channels`, and nothing else of `output`.
    ///
    /// # Errors
    /// A zero size, a channel range past the tensor, an output shape that is not
    /// the convolution's, or a slice length that does not match the shape.
    pub fn run(&self, input: Tensor<'_>, output: TensorMut<'_>) -> Result<RunInfo> {
        self.run_with(input, output, Residual::None, &RunOptions::default())
    }

    /// Runs with a residual added before the activation
    /// (`out = act(conv + bias + residual)`). The residual has the output's
    /// batch and spatial shape, and any layout.
    ///
    /// # Errors
    /// As [`PackedConv::run`], and a residual of the wrong shape or length.
    pub fn run_residual(&self, input: Tensor<'_>, output: TensorMut<'_>, residual: Tensor<'_>) -> Result<RunInfo> {
        self.run_with(input, output, Residual::Tensor(residual), &RunOptions::default())
    }

    /// Runs with the residual in the output (`out = act(conv + bias + out)`,
    /// [`Residual::InOutput`]): `output`'s channels
    /// `channel_offset..+out_channels` hold the residual on entry and the
    /// result on return (so a second call adds the convolution again).
    ///
    /// # Errors
    /// As [`PackedConv::run`].
    pub fn run_residual_in_output(&self, input: Tensor<'_>, output: TensorMut<'_>) -> Result<RunInfo> {
        self.run_with(input, output, Residual::InOutput, &RunOptions::default())
    }

    /// The general call: any layouts, any residual, options.
    ///
    /// # Errors
    /// As [`PackedConv::run_residual`], and [`Error::WeightsPackedForOtherIsa`]
    /// when `options.expect_isa` differs from the packed ISA.
    pub fn run_with(
        &self,
        input: Tensor<'_>,
        output: TensorMut<'_>,
        residual: Residual<'_>,
        options: &RunOptions,
    ) -> Result<RunInfo> {
        if let Some(requested) = options.expect_isa {
            if requested != self.kernel.isa {
                return Err(Error::WeightsPackedForOtherIsa { packed: self.kernel.isa, requested });
            }
        }
        let call = self.validate_call(&input, &output, residual)?;
        let strided = call.takes_strided_entry();
        crate::plan::run_call(call, output.data, options.threads);
        Ok(self.info(strided))
    }

    /// Checks a call completely, before anything is written.
    fn validate_call<'a>(
        &'a self,
        input: &Tensor<'a>,
        output: &TensorMut<'_>,
        residual: Residual<'a>,
    ) -> Result<Call<'a>> {
        let d = &self.desc;
        let in_geometry = input.desc.validate("input", d.in_channels, input.data.len())?;
        let out_size = d.output_size(input.desc.height, input.desc.width);
        let expected = [input.desc.batch, out_size[0], out_size[1]];
        if output.desc.spatial() != expected {
            return Err(Error::ShapeMismatch { what: "output", expected, actual: output.desc.spatial() });
        }
        let out_geometry = output.desc.validate("output", d.out_channels, output.data.len())?;
        let residual = match residual {
            Residual::None => None,
            Residual::Tensor(r) => {
                if r.desc.spatial() != expected {
                    return Err(Error::ShapeMismatch { what: "residual", expected, actual: r.desc.spatial() });
                }
                Some((ResidualData::Tensor(r.data), r.desc, r.desc.validate("residual", d.out_channels, r.data.len())?))
            }
            Residual::InOutput => Some((ResidualData::InOutput, output.desc, out_geometry)),
        };
        Ok(Call {
            desc: d,
            kernel: self.kernel,
            weights: &self.weights,
            bias: self.bias.as_deref(),
            input: (input.data, input.desc, in_geometry),
            residual,
            out_desc: output.desc,
            out_geometry,
        })
    }

    fn info(&self, strided: bool) -> RunInfo {
        RunInfo { kernel: self.kernel.name, isa: self.kernel.isa, mr: self.kernel.mr, nr: self.kernel.nr, strided }
    }

    /// Validates a call and cuts it into independent tasks for `threads`
    /// workers, without running anything: the entry point for engines that
    /// run tasks on their own pool. See [`Plan`].
    ///
    /// # Errors
    /// As [`PackedConv::run_with`].
    pub fn plan<'a>(
        &'a self,
        input: Tensor<'a>,
        output: TensorMut<'a>,
        residual: Residual<'a>,
        threads: usize,
    ) -> Result<Plan<'a>> {
        let call = self.validate_call(&input, &output, residual)?;
        Ok(Plan::new(call, output.data, threads.max(1)))
    }
}
