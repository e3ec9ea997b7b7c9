//! Convolution-level checks: the public API on a forced ISA against the naive
//! f64 reference, on random shapes, layouts and epilogues.
//!
//! The tolerance is a rounding bound, not a guess: for each output element,
//! `|got - ref| <= 2·(K + 4)·eps·S + act`, where `S = Σ|w·a| + |bias| + |res|`
//! is computed by the same reference on absolute values, and `act` allows a
//! few ulp for the activation itself. So the bound grows with K, and a dropped
//! or doubled term (about `S/K` on average) is far outside it.

use pointwise::reference::{conv1x1_f64, copy_channels, element_offset};
use pointwise::{
    Activation, Conv1x1, Isa, Layout, PackedConv, Residual, RunInfo, RunOptions, Tensor, TensorDesc, TensorMut,
    WeightOrder,
};

use super::sweep::{Rng, Tally};

/// Elements the convolution must not touch start as this NaN payload.
const SENTINEL: f32 = f32::from_bits(0x7fc0_beef);

/// Every activation, with parameters.
pub const ACTIVATIONS: &[Activation] = &[
    Activation::None,
    Activation::Relu,
    Activation::Relu6,
    Activation::Clamp { min: -0.5, max: 0.75 },
    Activation::LeakyRelu { alpha: 0.1 },
    Activation::Silu,
    Activation::Sigmoid,
    Activation::HardSwish,
    Activation::Gelu,
    Activation::Tanh,
];

/// Every layout.
pub const LAYOUTS: &[Layout] = &[Layout::Nhwc, Layout::Nchw, Layout::Nchwc(8), Layout::Nchwc(16)];

/// One convolution call to check.
#[derive(Clone, Debug)]
pub struct Case {
    pub conv: Conv1x1,
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub input: Layout,
    pub output: Layout,
    /// Residual layout, if any.
    pub residual: Option<Layout>,
    pub bias: bool,
    pub order: WeightOrder,
    /// Channel offset and extra channels after the used ones, input side.
    pub in_slice: (usize, usize),
    /// Channel offset and extra channels after the used ones, output side.
    pub out_slice: (usize, usize),
}

/// Channel counts of the sweep: not multiples of 8, and around the tiles.
pub const CHANNELS: &[usize] = &[1, 3, 7, 8, 13, 16, 17, 24, 37, 53];

/// A random case with at most `max_k` input channels per group.
pub fn random_case(rng: &mut Rng, seq: usize) -> Case {
    let groups = [1, 1, 1, 3, 8, 2][rng.below(6)];
    let per_group = |rng: &mut Rng| CHANNELS[rng.below(CHANNELS.len())].min(if groups > 1 { 13 } else { 53 });
    let conv = Conv1x1::new(groups * per_group(rng), groups * per_group(rng))
        .with_groups(groups)
        .with_stride(1 + rng.below(2), 1 + rng.below(2))
        .with_activation(ACTIVATIONS[seq % ACTIVATIONS.len()]);
    let slice = |rng: &mut Rng| {
        if rng.below(3) == 0 {
            (rng.below(9), rng.below(5))
        } else {
            (0, 0)
        }
    };
    Case {
        conv,
        batch: 1 + rng.below(2),
        height: 1 + rng.below(7),
        width: 1 + rng.below(9),
        input: LAYOUTS[rng.below(4)],
        output: LAYOUTS[(seq / ACTIVATIONS.len()) % 4],
        residual: if rng.below(3) == 0 { Some(LAYOUTS[rng.below(4)]) } else { None },
        bias: rng.below(4) != 0,
        order: if rng.below(2) == 0 { WeightOrder::OutIn } else { WeightOrder::InOut },
        in_slice: slice(rng),
        out_slice: slice(rng),
    }
}

/// Runs `case` with weights packed for `isa`; compares with the reference,
/// and a case with a residual also with the residual in the output, which
/// must give the same bits.
pub fn check_case(case: &Case, isa: Isa, seed: u64) -> Result<(), String> {
    let c = &case.conv;
    let k = c.in_channels / c.groups;
    let [ho, wo] = c.output_size(case.height, case.width);
    let data = CaseData::draw(case, seed);
    let packed = c
        .pack_for(isa, &data.weights, case.order, data.bias.as_deref())
        .map_err(|e| format!("{case:?}: pack failed: {e}"))?;
    let (output, info) = data.run(case, &packed, Some(isa))?;
    // The same residual in the output: checked against the reference below
    // too, and natively the same bits. (Miri perturbs `exp` and `tanh` by a
    // few ulp at each call, as another libm might differ, so there the
    // activations built on them differ from call to call.) Under Miri, in a
    // quarter of the cases: in all of them, it added 100 s to CI's Miri step.
    let in_output = if cfg!(miri) && !seed.is_multiple_of(4) {
        None
    } else {
        data.run_residual_in_output(case, &packed, Some(isa)).transpose()?
    };
    if let Some(in_output) = in_output.as_ref().filter(|_| !cfg!(miri)) {
        if let Some(at) = (0..output.len()).find(|&at| output[at].to_bits() != in_output[at].to_bits()) {
            return Err(format!(
                "{case:?} on {}: element {at}: {} with the residual in a tensor of its own, {} with it in the output",
                isa.name(),
                output[at],
                in_output[at]
            ));
        }
    }
    let CaseData { weights, bias, in_desc, input, out_desc, res_desc, residual } = data;
    if info.isa != isa {
        return Err(format!("{case:?}: ran {} instead of {}", info.isa.name(), isa.name()));
    }

    let init = vec![SENTINEL; output.len()];
    let reference = conv1x1_f64(
        c,
        &weights,
        case.order,
        bias.as_deref(),
        &input,
        &in_desc,
        residual.as_deref().zip(res_desc.as_ref()),
        &init,
        &out_desc,
    );
    let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<f32>>();
    let magnitude = conv1x1_f64(
        &c.with_activation(Activation::None),
        &abs(&weights),
        case.order,
        bias.as_ref().map(|b| abs(b)).as_deref(),
        &abs(&input),
        &in_desc,
        residual.as_ref().map(|r| abs(r)).as_deref().zip(res_desc.as_ref()),
        &init,
        &out_desc,
    );

    let mut written = vec![false; output.len()];
    for b in 0..case.batch {
        for y in 0..ho {
            for x in 0..wo {
                for co in 0..c.out_channels {
                    written[element_offset(&out_desc, b, out_desc.channel_offset + co, y, x)] = true;
                }
            }
        }
    }
    let outputs = std::iter::once(("", &output)).chain(in_output.as_ref().map(|o| (" (residual in the output)", o)));
    for (what, at, got) in outputs.flat_map(|(what, o)| o.iter().enumerate().map(move |(at, &got)| (what, at, got))) {
        if !written[at] {
            if got.to_bits() != SENTINEL.to_bits() {
                return Err(format!(
                    "{case:?} on {}{what}: element {at} is outside the output but was written",
                    isa.name()
                ));
            }
            continue;
        }
        let want = reference[at];
        let bound = 2.0 * (k as f64 + 4.0) * f32::EPSILON as f64 * magnitude[at] * 1.5
            + 8.0 * f32::EPSILON as f64 * want.abs()
            + 1e-6;
        if !approx::abs_diff_eq!(got as f64, want, epsilon = bound) {
            return Err(format!(
                "{case:?} on {}{what}: element {at}: got {got}, reference {want}, bound {bound:e}",
                isa.name()
            ));
        }
    }
    Ok(())
}

/// A case's weights, bias and tensors, drawn from a seed.
pub struct CaseData {
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    in_desc: TensorDesc,
    input: Vec<f32>,
    out_desc: TensorDesc,
    res_desc: Option<TensorDesc>,
    residual: Option<Vec<f32>>,
}

impl CaseData {
    /// The data of `case` from `seed`: the same for the same two.
    pub fn draw(case: &Case, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let c = &case.conv;
        let k = c.in_channels / c.groups;
        let weights: Vec<f32> = (0..c.out_channels * k).map(|_| rng.f32()).collect();
        let bias: Option<Vec<f32>> = case.bias.then(|| (0..c.out_channels).map(|_| rng.f32()).collect());
        let [ho, wo] = c.output_size(case.height, case.width);
        let in_desc = TensorDesc::new(
            case.input,
            case.batch,
            case.height,
            case.width,
            case.in_slice.0 + c.in_channels + case.in_slice.1,
        )
        .with_channel_offset(case.in_slice.0);
        let input: Vec<f32> = (0..in_desc.len().unwrap()).map(|_| rng.f32()).collect();
        let out_desc =
            TensorDesc::new(case.output, case.batch, ho, wo, case.out_slice.0 + c.out_channels + case.out_slice.1)
                .with_channel_offset(case.out_slice.0);
        let res_desc = case.residual.map(|layout| TensorDesc::new(layout, case.batch, ho, wo, c.out_channels));
        let residual: Option<Vec<f32>> = res_desc.map(|d| (0..d.len().unwrap()).map(|_| rng.f32()).collect());
        CaseData { weights, bias, in_desc, input, out_desc, res_desc, residual }
    }

    /// The output of `packed` (packed from these weights) on this data, each
    /// element it must not write left at `SENTINEL`, and what ran.
    fn run(&self, case: &Case, packed: &PackedConv, expect_isa: Option<Isa>) -> Result<(Vec<f32>, RunInfo), String> {
        let mut output = vec![SENTINEL; self.out_desc.len().unwrap()];
        let info = packed
            .run_with(
                Tensor::new(&self.input, self.in_desc),
                TensorMut::new(&mut output, self.out_desc),
                self.residual.as_deref().zip(self.res_desc).map(|(r, d)| Tensor::new(r, d)).into(),
                &RunOptions { expect_isa, ..RunOptions::default() },
            )
            .map_err(|e| format!("{case:?}: run failed: {e}"))?;
        Ok((output, info))
    }

    /// For a case with a residual, [`CaseData::run`]'s output with the
    /// residual in the output ([`Residual::InOutput`]): the output's channels
    /// start as the residual's values, the rest as `SENTINEL`.
    fn run_residual_in_output(
        &self,
        case: &Case,
        packed: &PackedConv,
        expect_isa: Option<Isa>,
    ) -> Option<Result<Vec<f32>, String>> {
        let (residual, res_desc) = (self.residual.as_ref()?, self.res_desc?);
        let d = &self.out_desc;
        let mut output = vec![SENTINEL; d.len().unwrap()];
        copy_channels(residual, &res_desc, &mut output, d, case.conv.out_channels);
        let result = packed.run_with(
            Tensor::new(&self.input, self.in_desc),
            TensorMut::new(&mut output, *d),
            Residual::InOutput,
            &RunOptions { expect_isa, ..RunOptions::default() },
        );
        Some(result.map(|_| output).map_err(|e| format!("{case:?}: run with the residual in the output failed: {e}")))
    }

    /// The outputs of the kernel named `kernel` on this data: of
    /// [`CaseData::run`], and for a case with a residual also of
    /// [`CaseData::run_residual_in_output`].
    pub fn outputs_on_kernel(&self, case: &Case, kernel: &str) -> Result<Vec<Vec<f32>>, String> {
        let packed = case
            .conv
            .pack_for_kernel(kernel, &self.weights, case.order, self.bias.as_deref())
            .map_err(|e| format!("{case:?}: pack for {kernel} failed: {e}"))?;
        let in_output = self.run_residual_in_output(case, &packed, None).transpose()?;
        Ok(std::iter::once(self.run(case, &packed, None)?.0).chain(in_output).collect())
    }
}

/// `count` random cases on `isa`, cycling through every activation and
/// output layout.
pub fn check_random(isa: Isa, count: usize, seed: u64) -> Tally {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    for seq in 0..count {
        let case = random_case(&mut rng, seq);
        tally.record(check_case(&case, isa, seed ^ seq as u64));
    }
    tally
}
