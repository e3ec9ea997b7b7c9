//! Numerical edge cases on every available ISA: NaN and infinities in
//! inputs, weights, bias and residual propagate as IEEE 754 says (and as the
//! scalar path does), NaN outside the channels and pixels a call reads never
//! leaks into its results, denormal and huge values compute correctly, and
//! the extreme depths K = 1 and K = 8192 work.
//!
//! The IEEE answer comes from the f64 reference: with inputs in [-1, 1) no
//! finite f64 sum here overflows f32, so the class of each f64 result (NaN,
//! +inf, -inf, finite) is the class IEEE gives the f32 computation in any
//! summation order. Finite results are held to the rounding bound of
//! `tests/common/convs.rs`.

mod common;

use common::convs::{check_case, Case, ACTIVATIONS, LAYOUTS};
use common::sweep::Rng;
use pointwise::reference::{conv1x1_f64, element_offset};
use pointwise::{dispatch, Activation, Conv1x1, Isa, Layout, RunOptions, Tensor, TensorDesc, TensorMut, WeightOrder};

const SENTINEL: f32 = f32::from_bits(0x7fc0_beef);

/// One convolution call with all its data.
#[derive(Clone, Debug)]
struct Problem {
    conv: Conv1x1,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    input: Vec<f32>,
    in_desc: TensorDesc,
    out_desc: TensorDesc,
    residual: Option<(Vec<f32>, TensorDesc)>,
}

impl Problem {
    /// Random values in [-1, 1) everywhere, the output covering channels
    /// `out_offset..` of its buffer.
    fn random(conv: Conv1x1, input: Layout, output: Layout, residual: Option<Layout>, seed: u64) -> Problem {
        let mut rng = Rng::new(seed);
        let (batch, height, width) = (1 + (seed % 2) as usize, 3, 5);
        let [ho, wo] = conv.output_size(height, width);
        let in_desc = TensorDesc::new(input, batch, height, width, conv.in_channels);
        let out_desc = TensorDesc::new(output, batch, ho, wo, conv.out_channels + 2).with_channel_offset(1);
        let k = conv.in_channels / conv.groups;
        Problem {
            conv,
            weights: (0..conv.out_channels * k).map(|_| rng.f32()).collect(),
            bias: Some((0..conv.out_channels).map(|_| rng.f32()).collect()),
            input: (0..in_desc.len().unwrap()).map(|_| rng.f32()).collect(),
            in_desc,
            out_desc,
            residual: residual.map(|l| {
                let d = TensorDesc::new(l, batch, ho, wo, conv.out_channels);
                ((0..d.len().unwrap()).map(|_| rng.f32()).collect(), d)
            }),
        }
    }

    fn k(&self) -> usize {
        self.conv.in_channels / self.conv.groups
    }

    fn run(&self, isa: Isa) -> Vec<f32> {
        let packed = self.conv.pack_for(isa, &self.weights, WeightOrder::OutIn, self.bias.as_deref()).unwrap();
        let mut output = vec![SENTINEL; self.out_desc.len().unwrap()];
        packed
            .run_with(
                Tensor::new(&self.input, self.in_desc),
                TensorMut::new(&mut output, self.out_desc),
                self.residual.as_ref().map(|(r, d)| Tensor::new(r, *d)).into(),
                &RunOptions { expect_isa: Some(isa), ..RunOptions::default() },
            )
            .unwrap();
        output
    }

    /// The f64 reference, and the same on absolute values (the bound's scale).
    fn reference(&self) -> (Vec<f64>, Vec<f64>) {
        let init = vec![SENTINEL; self.out_desc.len().unwrap()];
        let reference = conv1x1_f64(
            &self.conv,
            &self.weights,
            WeightOrder::OutIn,
            self.bias.as_deref(),
            &self.input,
            &self.in_desc,
            self.residual.as_ref().map(|(r, d)| (r.as_slice(), d)),
            &init,
            &self.out_desc,
        );
        let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<f32>>();
        let residual = self.residual.as_ref().map(|(r, d)| (abs(r), *d));
        let magnitude = conv1x1_f64(
            &self.conv.with_activation(Activation::None),
            &abs(&self.weights),
            WeightOrder::OutIn,
            self.bias.as_ref().map(|b| abs(b)).as_deref(),
            &abs(&self.input),
            &self.in_desc,
            residual.as_ref().map(|(r, d)| (r.as_slice(), d)),
            &init,
            &self.out_desc,
        );
        (reference, magnitude)
    }

    /// Offsets of the output elements the call writes.
    fn written(&self) -> Vec<bool> {
        let d = &self.out_desc;
        let mut written = vec![false; d.len().unwrap()];
        for b in 0..d.batch {
            for y in 0..d.height {
                for x in 0..d.width {
                    for co in 0..self.conv.out_channels {
                        written[element_offset(d, b, d.channel_offset + co, y, x)] = true;
                    }
                }
            }
        }
        written
    }

    /// Offset of output element `(b, co, y, x)`, `co` counted in the convolution.
    fn out_at(&self, b: usize, co: usize, y: usize, x: usize) -> usize {
        element_offset(&self.out_desc, b, self.out_desc.channel_offset + co, y, x)
    }

    fn in_at(&self, b: usize, ci: usize, y: usize, x: usize) -> usize {
        element_offset(&self.in_desc, b, self.in_desc.channel_offset + ci, y, x)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Nan,
    PosInf,
    NegInf,
    Finite,
}

fn class(x: f64) -> Class {
    if x.is_nan() {
        Class::Nan
    } else if x == f64::INFINITY {
        Class::PosInf
    } else if x == f64::NEG_INFINITY {
        Class::NegInf
    } else {
        Class::Finite
    }
}

/// Checks `got` against the reference (class, and the rounding bound for
/// finite values) and against the scalar path (same class), and that nothing
/// outside the written channels changed.
fn check(p: &Problem, isa: Isa, got: &[f32], scalar: &[f32]) -> Result<(), String> {
    let (reference, magnitude) = p.reference();
    let written = p.written();
    let eps = f32::EPSILON as f64;
    let k = p.k() as f64;
    for at in 0..got.len() {
        let g = got[at];
        if !written[at] {
            if g.to_bits() != SENTINEL.to_bits() {
                return Err(format!("{}: element {at} outside the output was written", isa.name()));
            }
            continue;
        }
        let (want, s) = (reference[at], scalar[at]);
        if class(g as f64) != class(want) || class(s as f64) != class(want) {
            return Err(format!("{}: element {at}: got {g}, scalar {s}, IEEE (f64 reference) {want}", isa.name()));
        }
        if class(want) == Class::Finite {
            let bound = 3.0 * (k + 4.0) * eps * magnitude[at] + 8.0 * eps * want.abs() + 1e-6;
            if (g as f64 - want).abs() > bound {
                return Err(format!("{}: element {at}: got {g}, reference {want}, bound {bound:e}", isa.name()));
            }
        }
    }
    Ok(())
}

/// Runs `p` on every ISA and checks each against IEEE and the scalar path.
fn check_every_isa(p: &Problem, what: &str) -> Vec<Vec<f32>> {
    let scalar = p.run(Isa::Scalar);
    let mut outputs = Vec::new();
    for isa in dispatch::available_isas() {
        let got = p.run(isa);
        if let Err(e) = check(p, isa, &got, &scalar) {
            panic!("{what}: {e}\n{:?} {:?} -> {:?}", p.conv, p.in_desc, p.out_desc);
        }
        outputs.push(got);
    }
    outputs
}

/// A NaN input makes exactly the outputs that read it NaN (its pixel, every
/// output channel of its group, whatever the activation: ReLU, ReLU6 and
/// clamp keep NaN as PyTorch does); +inf and -inf give infinities of the
/// weights' signs. Every layout pair, with stride and groups.
#[test]
fn nan_and_inf_inputs_propagate() {
    let mut seq = 0;
    for &input in LAYOUTS {
        for &output in LAYOUTS {
            for &activation in ACTIVATIONS {
                seq += 1;
                let groups = [1, 3][seq % 2];
                let conv = Conv1x1::new(7 * groups, [5, 19][seq % 2] * groups)
                    .with_groups(groups)
                    .with_stride(1 + seq % 2, 1)
                    .with_activation(activation);
                let mut p =
                    Problem::random(conv, input, output, (seq % 3 == 0).then_some(LAYOUTS[seq % 4]), seq as u64);
                // Pixel (0, 0, 0) channel 2 is NaN; pixel (0, 2, 2) channel 0 is +inf and
                // channel 1 -inf (both read at every stride here).
                let nan_at = p.in_at(0, 2, 0, 0);
                p.input[nan_at] = f32::NAN;
                let pos = p.in_at(0, 0, 2, 2);
                p.input[pos] = f32::INFINITY;
                let neg = p.in_at(0, 1, 0, 4);
                p.input[neg] = f32::NEG_INFINITY;
                let outputs = check_every_isa(&p, "NaN/inf inputs");
                let (ho, wo) = (p.out_desc.height, p.out_desc.width);
                let n = conv.out_channels / conv.groups;
                for got in &outputs {
                    for y in 0..ho {
                        for x in 0..wo {
                            for co in 0..conv.out_channels {
                                let v = got[p.out_at(0, co, y, x)];
                                // Channel 2 lies in group 0 (7 input channels per group).
                                if (y, x) == (0, 0) && co < n {
                                    assert!(v.is_nan(), "{activation:?}: output ({co}, 0, 0) = {v} reads a NaN");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// NaN and infinities in weights, bias and residual. 48 output channels as
/// well as 37: whole vectors, which the AVX2 and AVX-512 kernels walk (and
/// whose stores leave infinite clamp bounds out on AVX2).
#[test]
fn nan_and_inf_weights_bias_residual_propagate() {
    let mut seq = 100;
    for &layout in LAYOUTS {
        for (&activation, out_channels) in ACTIVATIONS.iter().flat_map(|a| [(a, 37), (a, 48)]) {
            seq += 1;
            let conv = Conv1x1::new(9, out_channels).with_activation(activation);
            let mut p = Problem::random(conv, layout, LAYOUTS[seq % 4], Some(LAYOUTS[(seq / 2) % 4]), seq as u64);
            let k = p.k();
            p.weights[3 * k + 4] = f32::NAN; // output channel 3
            p.weights[17 * k] = f32::INFINITY; // output channel 17
            p.weights[33 * k + 8] = f32::NEG_INFINITY; // output channel 33
            let bias = p.bias.as_mut().unwrap();
            bias[5] = f32::NAN;
            bias[20] = f32::INFINITY;
            bias[36] = f32::NEG_INFINITY;
            let (residual, r_desc) = p.residual.as_mut().unwrap();
            let r_at = element_offset(r_desc, 0, 30, 1, 1);
            residual[r_at] = f32::NAN;
            let outputs = check_every_isa(&p, "NaN/inf weights, bias, residual");
            for got in &outputs {
                for y in 0..p.out_desc.height {
                    for x in 0..p.out_desc.width {
                        for co in [3, 5] {
                            assert!(got[p.out_at(0, co, y, x)].is_nan(), "{activation:?}: channel {co} must be NaN");
                        }
                    }
                }
                assert!(got[p.out_at(0, 30, 1, 1)].is_nan(), "{activation:?}: residual NaN must propagate");
                assert!(!got[p.out_at(0, 30, 0, 0)].is_nan(), "{activation:?}: residual NaN leaked to another pixel");
            }
        }
    }
}

/// NaN in every element a call must not read (channels outside the input
/// slice, NCHWc padding lanes, pixels skipped by the stride, residual channels
/// outside its slice) never reaches an output.
#[test]
fn nan_outside_what_is_read_never_leaks() {
    let mut seq = 200;
    for &input in LAYOUTS {
        for &residual in LAYOUTS {
            for (groups, k, n) in [(1, 13, 37), (2, 3, 9), (1, 1, 53)] {
                seq += 1;
                let conv = Conv1x1::new(groups * k, groups * n).with_groups(groups).with_stride(2, 2).with_activation(
                    [Activation::None, Activation::Relu, Activation::Clamp { min: -0.5, max: 0.5 }][seq % 3],
                );
                let (batch, height, width) = (2, 5, 3);
                let [ho, wo] = conv.output_size(height, width);
                let in_desc = TensorDesc::new(input, batch, height, width, conv.in_channels + 5).with_channel_offset(3);
                let r_desc = TensorDesc::new(residual, batch, ho, wo, conv.out_channels + 3).with_channel_offset(2);
                let out_desc = TensorDesc::new(LAYOUTS[seq % 4], batch, ho, wo, conv.out_channels);
                let mut rng = Rng::new(seq as u64);
                let mut input_values = vec![f32::NAN; in_desc.len().unwrap()];
                for b in 0..batch {
                    for y in (0..height).step_by(2) {
                        for x in (0..width).step_by(2) {
                            for ci in 0..conv.in_channels {
                                input_values[element_offset(&in_desc, b, 3 + ci, y, x)] = rng.f32();
                            }
                        }
                    }
                }
                let mut residual_values = vec![f32::NAN; r_desc.len().unwrap()];
                for b in 0..batch {
                    for y in 0..ho {
                        for x in 0..wo {
                            for co in 0..conv.out_channels {
                                residual_values[element_offset(&r_desc, b, 2 + co, y, x)] = rng.f32();
                            }
                        }
                    }
                }
                let p = Problem {
                    conv,
                    weights: (0..conv.out_channels * k).map(|_| rng.f32()).collect(),
                    bias: Some((0..conv.out_channels).map(|_| rng.f32()).collect()),
                    input: input_values,
                    in_desc,
                    out_desc,
                    residual: Some((residual_values, r_desc)),
                };
                let written = p.written();
                for got in check_every_isa(&p, "NaN outside the read elements") {
                    let bad: Vec<usize> = (0..got.len()).filter(|&at| written[at] && !got[at].is_finite()).collect();
                    assert!(
                        bad.is_empty(),
                        "{input:?} {residual:?}: a NaN that must not be read leaked to {bad:?} of {}",
                        got.len()
                    );
                }
            }
        }
    }
}

/// Denormal inputs and weights give the IEEE (gradual underflow) results, to
/// within the absolute rounding of subnormals; denormal bias and residual pass
/// through; no path flushes them to zero inconsistently or traps.
#[test]
fn denormals() {
    let tiny = f32::MIN_POSITIVE; // 1.18e-38: products with |w| < 1 are subnormal
    for (seq, &layout) in LAYOUTS.iter().enumerate() {
        for &activation in &[Activation::None, Activation::Relu, Activation::LeakyRelu { alpha: 0.5 }] {
            let conv = Conv1x1::new(13, 21).with_activation(activation);
            let mut p = Problem::random(conv, layout, LAYOUTS[(seq + 1) % 4], Some(layout), 300 + seq as u64);
            p.input.iter_mut().for_each(|v| *v *= tiny);
            p.bias.as_mut().unwrap().iter_mut().for_each(|v| *v *= tiny * 0.25);
            p.residual.as_mut().unwrap().0.iter_mut().for_each(|v| *v *= tiny * 0.125);
            let (reference, magnitude) = p.reference();
            let written = p.written();
            for isa in dispatch::available_isas() {
                let got = p.run(isa);
                assert!(
                    got.iter().zip(&written).any(|(v, &w)| w && *v != 0.0 && v.abs() < tiny),
                    "no subnormal output"
                );
                for at in (0..got.len()).filter(|&at| written[at]) {
                    // Relative rounding, plus half a subnormal ulp per rounded term.
                    let bound = 3.0 * (13.0 + 4.0) * f32::EPSILON as f64 * magnitude[at]
                        + (13.0 + 4.0) * f32::from_bits(1) as f64;
                    assert!(
                        (got[at] as f64 - reference[at]).abs() <= bound,
                        "{}: {activation:?}: element {at}: got {:e}, reference {:e}, bound {bound:e}",
                        isa.name(),
                        got[at],
                        reference[at]
                    );
                }
            }
            // Denormal weights against ordinary inputs.
            let mut q = p.clone();
            q.input = Problem::random(conv, layout, LAYOUTS[0], None, seq as u64).input;
            q.weights.iter_mut().for_each(|w| *w *= tiny);
            check_every_isa(&q, "denormal weights");
        }
    }
}

/// Huge finite values compute to within the relative bound; sums past
/// `f32::MAX` of one sign give +inf on every ISA (in every summation order), and
/// each activation then gives its value at +inf.
#[test]
fn huge_values_and_overflow() {
    for (seq, &layout) in LAYOUTS.iter().enumerate() {
        // |a·w| <= 1e36, 13 terms plus bias and residual: far from f32::MAX.
        let conv = Conv1x1::new(13, 17);
        let mut p = Problem::random(conv, layout, layout, Some(LAYOUTS[(seq + 2) % 4]), 400 + seq as u64);
        p.input.iter_mut().for_each(|v| *v *= 1e18);
        p.weights.iter_mut().for_each(|v| *v *= 1e18);
        p.bias.as_mut().unwrap().iter_mut().for_each(|v| *v *= 1e36);
        p.residual.as_mut().unwrap().0.iter_mut().for_each(|v| *v *= 1e36);
        check_every_isa(&p, "huge values");

        for &activation in ACTIVATIONS {
            let conv = Conv1x1::new(3, 19).with_activation(activation);
            let mut p = Problem::random(conv, layout, LAYOUTS[(seq + 3) % 4], None, 500 + seq as u64);
            p.input.iter_mut().for_each(|v| *v = 2.0e38);
            p.weights.iter_mut().for_each(|w| *w = 0.75 + w.abs() * 0.25);
            p.bias.as_mut().unwrap().iter_mut().for_each(|b| *b = b.abs());
            let want = activation.apply(f32::INFINITY);
            let written = p.written();
            for isa in dispatch::available_isas() {
                let got = p.run(isa);
                for at in (0..got.len()).filter(|&at| written[at]) {
                    assert!(
                        got[at] == want || (got[at].is_nan() && want.is_nan()),
                        "{}: {activation:?}: overflowing sum gave {}, expected act(+inf) = {want}",
                        isa.name(),
                        got[at]
                    );
                }
            }
        }
    }
}

/// K = 1 and K = 8192, through every input layout (8192 channels of NCHW are
/// 8192 planes; of NCHWc16, 512 blocks), with groups for K = 1 (depthwise).
#[test]
fn depth_one_and_8192() {
    for isa in dispatch::available_isas() {
        for (seq, &input) in LAYOUTS.iter().enumerate() {
            for (k, groups, cout_per_group) in [(1, 1, 37), (1, 19, 1), (1, 5, 3), (8192, 1, 19)] {
                let case = Case {
                    conv: Conv1x1::new(k * groups, cout_per_group * groups)
                        .with_groups(groups)
                        .with_activation(ACTIVATIONS[seq * 3 % ACTIVATIONS.len()]),
                    batch: 1,
                    height: 2,
                    width: if k > 1 { 3 } else { 13 },
                    input,
                    output: LAYOUTS[(seq + 1) % 4],
                    residual: (seq % 2 == 0).then_some(LAYOUTS[(seq + 2) % 4]),
                    bias: true,
                    order: if seq % 2 == 0 { WeightOrder::OutIn } else { WeightOrder::InOut },
                    in_slice: (seq, 1),
                    out_slice: (1, 0),
                };
                if let Err(e) = check_case(&case, isa, (k + groups) as u64) {
                    panic!("{}: K = {k}: {e}", isa.name());
                }
            }
        }
    }
}

/// Layers of 1 and 2 output channels per group (the dot-product kernels
/// `f32_pw_6x2__avx2_fma` and `f32_pw_8x2__avx512f`, which replaced the
/// depth-in-vector kernels of the regression below), with infinities and NaN
/// at every depth position, so that each lands in the full steps and in the
/// masked short step at the end of a run.
///
/// Regression test: the tail once multiplied a broadcast A by the zero lanes
/// 2.. of the panel row, so an infinite A gave inf·0 = NaN there, which the
/// epilogue's lane fold added into both columns: `-inf · -0.5` came out NaN
/// instead of +inf (the scalar path and IEEE give +inf).
#[test]
fn infinities_in_one_and_two_channel_layers() {
    let mut seq = 600;
    for &input in LAYOUTS {
        for (groups, cout) in [(1, 1), (1, 2), (3, 1), (2, 2)] {
            for k in [1, 3, 4, 5, 8, 9, 13] {
                seq += 1;
                let conv =
                    Conv1x1::new(k * groups, cout * groups).with_groups(groups).with_activation(ACTIVATIONS[seq % 3]);
                let mut p = Problem::random(conv, input, LAYOUTS[seq % 4], None, seq as u64);
                // Pixel x of row 0 gets a special value at depth x % k.
                for x in 0..5 {
                    let at = p.in_at(0, x % k, 0, x);
                    p.input[at] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::INFINITY, f32::NEG_INFINITY][x];
                }
                check_every_isa(&p, "infinities in a 1- or 2-channel layer");
            }
        }
    }
}
