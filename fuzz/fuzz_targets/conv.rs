//! Fuzz target: arbitrary bytes become one convolution call through the
//! public API, on every ISA this CPU has (forced with `Conv1x1::pack_for`).
//!
//! The bytes choose the channel counts, groups, stride, batch and spatial
//! size, the input, output and residual layouts (invalid NCHWc blocks
//! included), channel slices, the activation and its parameters (invalid ones
//! included), bias, weight order, buffer lengths (exact, or off by a few),
//! special values (NaN, ±inf, subnormal, huge) placed in any buffer, and how
//! the call is made (single call, task plan run out of order, rayon, the
//! convenience forms).
//!
//! An independent model of the API's rules predicts whether the call is valid.
//! * Invalid: a typed `Error` must come back and the output must be bitwise
//!   unchanged.
//! * Valid: every ISA must succeed; each output element must match the scalar
//!   path (same IEEE class, and within the rounding bound when finite); on
//!   small problems without special values every ISA must match the f64
//!   reference within the bound of `tests/common/convs.rs`; elements outside
//!   the written channels (padding lanes, other channels) must be bitwise
//!   untouched; the alternative call form must agree bit for bit.
//!
//! libFuzzer builds this with AddressSanitizer, so an out-of-bounds access by
//! a kernel or the driver is reported even when it does not change a value.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pointwise::reference::{conv1x1_f64, copy_channels, element_offset};
use pointwise::{
    dispatch, Activation, Conv1x1, Isa, Layout, PackedConv, Residual, RunOptions, Tensor, TensorDesc, TensorMut,
    Threads, WeightOrder,
};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(case) = Case::decode(&mut u) {
        case.check();
    }
});

/// Output elements start as this NaN payload (varied per element by `init`).
const SENTINEL_BITS: u32 = 0x7fc0_0000;

fn sentinel(at: usize) -> f32 {
    f32::from_bits(SENTINEL_BITS | (at as u32 & 0x3f_ffff))
}

fn init_output(len: usize) -> Vec<f32> {
    (0..len).map(sentinel).collect()
}

/// Values special values are drawn from.
const SPECIALS: [f32; 10] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e-40, -1e-40, 1e30, -1e30, 0.0, -0.0, 1e-38];
/// Activation parameters: valid, boundary and invalid ones.
const PARAMS: [f32; 12] = [0.0, -0.0, 1.0, -1.0, 0.5, 6.0, -6.0, 0.01, 3.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];

#[derive(Debug)]
struct Slice {
    offset: usize,
    /// Channels after the used ones; -1 makes the range one channel too short.
    extra: isize,
}

#[derive(Debug)]
struct Case {
    conv: Conv1x1,
    batch: usize,
    height: usize,
    width: usize,
    input: Layout,
    output: Layout,
    residual: Option<Layout>,
    in_slice: Slice,
    out_slice: Slice,
    res_slice: Slice,
    /// Output [batch, height, width] minus the convolution's (normally 0).
    out_shape_delta: [isize; 3],
    res_shape_delta: [isize; 3],
    bias: bool,
    order: WeightOrder,
    /// Length deltas of weights, bias, input, output, residual (normally 0).
    len_delta: [isize; 5],
    /// (buffer, index, value) special values.
    specials: Vec<(u8, u32, f32)>,
    seed: u64,
    /// How the second run is made: see `alternative_run`.
    mode: u8,
    threads: usize,
    /// Run with `expect_isa` set to another ISA than the packed one.
    wrong_isa: bool,
}

fn small_delta(u: &mut Unstructured<'_>, percent_nonzero: u8) -> Result<isize> {
    Ok(if u.int_in_range(0..=99u8)? < percent_nonzero { [-2, -1, 1, 3][u.int_in_range(0..=3usize)?] } else { 0 })
}

fn layout(u: &mut Unstructured<'_>) -> Result<Layout> {
    Ok(match u.int_in_range(0..=31u8)? {
        0..=7 => Layout::Nhwc,
        8..=15 => Layout::Nchw,
        16..=22 => Layout::Nchwc(8),
        23..=29 => Layout::Nchwc(16),
        30 => Layout::Nchwc([0, 1, 2, 4, 7, 32][u.int_in_range(0..=5usize)?]),
        _ => Layout::Nchwc(u.arbitrary::<u8>()? as usize),
    })
}

fn slice(u: &mut Unstructured<'_>) -> Result<Slice> {
    Ok(match u.int_in_range(0..=15u8)? {
        0..=8 => Slice { offset: 0, extra: 0 },
        9..=13 => Slice { offset: u.int_in_range(0..=17)?, extra: u.int_in_range(0..=5)? },
        14 => Slice { offset: 0, extra: u.int_in_range(1..=9)? },
        _ => Slice { offset: u.int_in_range(0..=3)?, extra: -1 },
    })
}

fn activation(u: &mut Unstructured<'_>) -> Result<Activation> {
    let param = |u: &mut Unstructured<'_>| -> Result<f32> { Ok(PARAMS[u.int_in_range(0..=PARAMS.len() - 1)?]) };
    Ok(match u.int_in_range(0..=9u8)? {
        0 => Activation::None,
        1 => Activation::Relu,
        2 => Activation::Relu6,
        3 => Activation::Clamp { min: param(u)?, max: param(u)? },
        4 => Activation::LeakyRelu { alpha: param(u)? },
        5 => Activation::Silu,
        6 => Activation::Sigmoid,
        7 => Activation::HardSwish,
        8 => Activation::Gelu,
        _ => Activation::Tanh,
    })
}

impl Case {
    fn decode(u: &mut Unstructured<'_>) -> Result<Case> {
        let conv = if u.int_in_range(0..=15u8)? == 0 {
            // Raw sizes: zeros and groups that do not divide.
            Conv1x1::new(u.int_in_range(0..=70)?, u.int_in_range(0..=70)?)
                .with_groups(u.int_in_range(0..=9)?)
                .with_stride(u.int_in_range(0..=3)?, u.int_in_range(0..=3)?)
        } else {
            let groups = if u.ratio(1, 3)? { u.int_in_range(1..=8)? } else { 1 };
            let k = u.int_in_range(1..=70 / groups)?;
            let n = u.int_in_range(1..=70 / groups)?;
            Conv1x1::new(k * groups, n * groups)
                .with_groups(groups)
                .with_stride(u.int_in_range(1..=3)?, u.int_in_range(1..=3)?)
        }
        .with_activation(activation(u)?);
        let size = |u: &mut Unstructured<'_>, max: usize| -> Result<usize> {
            Ok(if u.int_in_range(0..=63u8)? == 0 { 0 } else { u.int_in_range(1..=max)? })
        };
        let batch = size(u, 2)?;
        let height = size(u, 6)?;
        let width = size(u, 9)?;
        let input = layout(u)?;
        let output = layout(u)?;
        let residual = if u.ratio(1, 3)? { Some(layout(u)?) } else { None };
        let (in_slice, out_slice, res_slice) = (slice(u)?, slice(u)?, slice(u)?);
        let shape_delta = |u: &mut Unstructured<'_>| -> Result<[isize; 3]> {
            Ok(if u.int_in_range(0..=31u8)? == 0 {
                [small_delta(u, 50)?, small_delta(u, 50)?, small_delta(u, 50)?]
            } else {
                [0; 3]
            })
        };
        let out_shape_delta = shape_delta(u)?;
        let res_shape_delta = shape_delta(u)?;
        let bias = u.arbitrary()?;
        let order = if u.arbitrary()? { WeightOrder::OutIn } else { WeightOrder::InOut };
        let mut len_delta = [0; 5];
        for d in &mut len_delta {
            *d = small_delta(u, 3)?;
        }
        let mut specials = Vec::new();
        if u.ratio(1, 4)? {
            for _ in 0..u.int_in_range(1..=4)? {
                specials.push((
                    u.int_in_range(0..=3)?,
                    u.arbitrary()?,
                    SPECIALS[u.int_in_range(0..=SPECIALS.len() - 1)?],
                ));
            }
        }
        Ok(Case {
            conv,
            batch,
            height,
            width,
            input,
            output,
            residual,
            in_slice,
            out_slice,
            res_slice,
            out_shape_delta,
            res_shape_delta,
            bias,
            order,
            len_delta,
            specials,
            seed: u.arbitrary()?,
            mode: u.int_in_range(0..=3)?,
            threads: u.int_in_range(1..=4)?,
            wrong_isa: u.int_in_range(0..=31u8)? == 0,
        })
    }

    fn check(&self) {
        let c = &self.conv;
        let mut rng = SplitMix(self.seed);
        let add = |len: usize, delta: isize| len.saturating_add_signed(delta);

        // --- The model of the rules (independent of the library's code). ---
        let conv_ok = c.in_channels > 0
            && c.out_channels > 0
            && c.groups > 0
            && c.stride[0] > 0
            && c.stride[1] > 0
            && c.in_channels.is_multiple_of(c.groups)
            && c.out_channels.is_multiple_of(c.groups)
            && match c.activation {
                Activation::Clamp { min, max } => !min.is_nan() && !max.is_nan() && min <= max,
                Activation::LeakyRelu { alpha } => alpha.is_finite(),
                _ => true,
            };
        let k = c.in_channels.checked_div(c.groups).unwrap_or(0);
        let weight_len = c.out_channels * k;
        let weights: Vec<f32> = (0..add(weight_len, self.len_delta[0])).map(|_| rng.value()).collect();
        let bias: Option<Vec<f32>> =
            self.bias.then(|| (0..add(c.out_channels, self.len_delta[1])).map(|_| rng.value()).collect());
        let pack_ok = conv_ok && weights.len() == weight_len && bias.as_ref().is_none_or(|b| b.len() == c.out_channels);

        let desc = |layout, [b, h, w]: [usize; 3], used: usize, s: &Slice| {
            TensorDesc::new(layout, b, h, w, (s.offset + used).saturating_add_signed(s.extra))
                .with_channel_offset(s.offset)
        };
        // The length a tensor of `d` needs, and whether `d` itself is valid for `used` channels.
        let need = |d: &TensorDesc, used: usize| -> (usize, bool) {
            let block_ok = !matches!(d.layout, Layout::Nchwc(b) if b != 8 && b != 16);
            let len = match d.layout {
                Layout::Nchwc(b) => d.batch * d.channels.div_ceil(b.max(1)) * d.height * d.width * b.max(1),
                _ => d.batch * d.height * d.width * d.channels,
            };
            let ok =
                d.batch > 0 && d.height > 0 && d.width > 0 && d.channels > 0 && d.channel_offset + used <= d.channels;
            (len, ok && block_ok)
        };
        let shifted = |s: [usize; 3], delta: [isize; 3]| {
            [
                s[0].saturating_add_signed(delta[0]),
                s[1].saturating_add_signed(delta[1]),
                s[2].saturating_add_signed(delta[2]),
            ]
        };
        let [ho, wo] = c.output_size(self.height, self.width);
        let expected_spatial = [self.batch, ho, wo];
        let in_desc = desc(self.input, [self.batch, self.height, self.width], c.in_channels, &self.in_slice);
        let out_desc =
            desc(self.output, shifted(expected_spatial, self.out_shape_delta), c.out_channels, &self.out_slice);
        let res_desc = self
            .residual
            .map(|l| desc(l, shifted(expected_spatial, self.res_shape_delta), c.out_channels, &self.res_slice));
        let (in_need, in_ok) = need(&in_desc, c.in_channels);
        let (out_need, out_ok) = need(&out_desc, c.out_channels);
        let input: Vec<f32> = (0..add(in_need, self.len_delta[2])).map(|_| rng.value()).collect();
        let out_len = add(out_need, self.len_delta[3]);
        let mut residual: Option<(Vec<f32>, TensorDesc, bool)> = res_desc.map(|d| {
            let (need, ok) = need(&d, c.out_channels);
            let data: Vec<f32> = (0..add(need, self.len_delta[4])).map(|_| rng.value()).collect();
            let ok = ok && data.len() == need && d.spatial() == expected_spatial;
            (data, d, ok)
        });
        let call_ok_but_residual =
            in_ok && input.len() == in_need && out_desc.spatial() == expected_spatial && out_ok && out_len == out_need;
        let run_ok = call_ok_but_residual && residual.as_ref().is_none_or(|r| r.2);

        // Special values.
        let (mut weights, mut bias, mut input) = (weights, bias, input);
        for &(buffer, index, value) in &self.specials {
            let target: Option<&mut Vec<f32>> = match buffer {
                0 => Some(&mut weights),
                1 => bias.as_mut(),
                2 => Some(&mut input),
                _ => residual.as_mut().map(|r| &mut r.0),
            };
            if let Some(t) = target.filter(|t| !t.is_empty()) {
                let at = index as usize % t.len();
                t[at] = value;
            }
        }

        // --- Pack for every ISA. ---
        let isas = dispatch::available_isas();
        let mut packed: Vec<PackedConv> = Vec::new();
        for &isa in &isas {
            match c.pack_for(isa, &weights, self.order, bias.as_deref()) {
                Ok(p) => {
                    assert!(pack_ok, "pack accepted an invalid description: {self:#?}");
                    packed.push(p);
                }
                Err(e) => {
                    assert!(!pack_ok, "pack rejected a valid description ({e}): {self:#?}");
                    return;
                }
            }
        }
        let residual_tensor = residual.as_ref().map(|(r, d, _)| Tensor::new(r, *d));
        // The initial output of a call with the residual in it: the residual's
        // values in the output's channels (the initial output without one).
        let output_holding_residual = || {
            let mut output = init_output(out_len);
            if let Some((r, r_desc, _)) = residual.as_ref() {
                copy_channels(r, r_desc, &mut output, &out_desc, c.out_channels);
            }
            output
        };

        // --- Invalid calls: an error, and the output untouched. ---
        if !run_ok || self.wrong_isa {
            for p in &packed {
                let mut output = init_output(out_len);
                let expect_isa = if self.wrong_isa {
                    Some(if p.isa() == Isa::Scalar { Isa::Neon } else { Isa::Scalar })
                } else {
                    Some(p.isa())
                };
                let result = p.run_with(
                    Tensor::new(&input, in_desc),
                    TensorMut::new(&mut output, out_desc),
                    residual_tensor.into(),
                    &RunOptions { expect_isa, ..RunOptions::default() },
                );
                assert!(result.is_err(), "an invalid call was accepted on {}: {self:#?}", p.isa().name());
                assert!(
                    output.iter().zip(init_output(out_len)).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "a failed call wrote to the output: {self:#?}"
                );
                // The residual in the output instead: as invalid, unless the
                // residual tensor was what was wrong.
                if !call_ok_but_residual || self.wrong_isa {
                    let result = p.run_with(
                        Tensor::new(&input, in_desc),
                        TensorMut::new(&mut output, out_desc),
                        Residual::InOutput,
                        &RunOptions { expect_isa, ..RunOptions::default() },
                    );
                    assert!(result.is_err(), "an invalid call was accepted on {}: {self:#?}", p.isa().name());
                    assert!(
                        output.iter().zip(init_output(out_len)).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "a failed call wrote to the output: {self:#?}"
                    );
                }
                // The task API validates the same way.
                if !run_ok {
                    assert!(p
                        .plan(
                            Tensor::new(&input, in_desc),
                            TensorMut::new(&mut output, out_desc),
                            residual_tensor.into(),
                            2
                        )
                        .is_err());
                }
            }
            return;
        }

        // --- Valid calls: every ISA, against the scalar path and the reference. ---
        let run = |p: &PackedConv| -> Vec<f32> {
            let mut output = init_output(out_len);
            let info = p
                .run_with(
                    Tensor::new(&input, in_desc),
                    TensorMut::new(&mut output, out_desc),
                    residual_tensor.into(),
                    &RunOptions { expect_isa: Some(p.isa()), ..RunOptions::default() },
                )
                .unwrap_or_else(|e| panic!("a valid call failed on {}: {e}: {self:#?}", p.isa().name()));
            assert_eq!(info.isa, p.isa());
            output
        };
        let outputs: Vec<Vec<f32>> = packed.iter().map(run).collect();
        // The same residual in the output: the same bits, on every ISA.
        if residual.is_some() {
            for (p, separate) in packed.iter().zip(&outputs) {
                let mut output = output_holding_residual();
                p.run_with(
                    Tensor::new(&input, in_desc),
                    TensorMut::new(&mut output, out_desc),
                    Residual::InOutput,
                    &RunOptions { expect_isa: Some(p.isa()), ..RunOptions::default() },
                )
                .unwrap_or_else(|e| panic!("a valid call failed on {}: {e}: {self:#?}", p.isa().name()));
                assert!(
                    output.iter().zip(separate).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{}: the residual in the output gave other bits than in a tensor of its own: {self:#?}",
                    p.isa().name()
                );
            }
        }
        let scalar = &outputs[0];
        assert_eq!(packed[0].isa(), Isa::Scalar);

        let mut written = vec![false; out_len];
        for b in 0..self.batch {
            for y in 0..ho {
                for x in 0..wo {
                    for co in 0..c.out_channels {
                        written[element_offset(&out_desc, b, out_desc.channel_offset + co, y, x)] = true;
                    }
                }
            }
        }
        let pixels = self.batch * ho * wo;
        let small = pixels * c.out_channels * k.max(1) <= 40_000;
        let (reference, magnitude) = if small {
            let init: Vec<f32> = init_output(out_len);
            let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<f32>>();
            let reference = conv1x1_f64(
                c,
                &weights,
                self.order,
                bias.as_deref(),
                &input,
                &in_desc,
                residual.as_ref().map(|(r, d, _)| (r.as_slice(), d)),
                &init,
                &out_desc,
            );
            let abs_res = residual.as_ref().map(|(r, d, _)| (abs(r), *d));
            let magnitude = conv1x1_f64(
                &c.with_activation(Activation::None),
                &abs(&weights),
                self.order,
                bias.as_ref().map(|b| abs(b)).as_deref(),
                &abs(&input),
                &in_desc,
                abs_res.as_ref().map(|(r, d)| (r.as_slice(), d)),
                &init,
                &out_desc,
            );
            (Some(reference), magnitude)
        } else {
            // A bound on every output's Σ|terms| from the largest finite values.
            let max = |v: &[f32]| v.iter().filter(|x| x.is_finite()).fold(0.0f64, |m, x| m.max(x.abs() as f64));
            let s = k as f64 * max(&input) * max(&weights)
                + bias.as_deref().map_or(0.0, max)
                + residual.as_ref().map_or(0.0, |r| max(&r.0));
            (None, vec![s; out_len])
        };
        let eps = f32::EPSILON as f64;
        // Error growth through the activation: slope at most 1.5 (hardswish), or |alpha|.
        let slope = match c.activation {
            Activation::LeakyRelu { alpha } => (alpha.abs() as f64).max(1.5),
            _ => 1.5,
        };
        let bound = |at: usize, value: f64| {
            slope * 3.0 * (k as f64 + 4.0) * eps * magnitude[at] + 8.0 * eps * value.abs() + 1e-6
        };
        let class = |x: f64| (x.is_nan(), x.is_infinite() && x > 0.0, x.is_infinite() && x < 0.0);

        for (p, got) in packed.iter().zip(&outputs) {
            let name = p.isa().name();
            for at in 0..out_len {
                let (g, s) = (got[at], scalar[at]);
                if !written[at] {
                    assert_eq!(
                        g.to_bits(),
                        sentinel(at).to_bits(),
                        "{name}: element {at} outside the output was written: {self:#?}"
                    );
                    continue;
                }
                assert_eq!(class(g as f64), class(s as f64), "{name}: element {at}: {g} but scalar {s}: {self:#?}");
                if s.is_finite() && magnitude[at].is_finite() {
                    let b = 2.0 * bound(at, s as f64);
                    assert!(
                        (g as f64 - s as f64).abs() <= b,
                        "{name}: element {at}: {g} but scalar {s} (bound {b:e}): {self:#?}"
                    );
                } else if !s.is_nan() {
                    assert_eq!(g, s, "{name}: element {at}: {g} but scalar {s}: {self:#?}");
                }
                if let (Some(reference), true) = (&reference, self.specials.is_empty()) {
                    let want = reference[at];
                    if want.is_finite() {
                        let b = bound(at, want);
                        assert!(
                            (g as f64 - want).abs() <= b,
                            "{name}: element {at}: {g} but reference {want} (bound {b:e}): {self:#?}"
                        );
                    } else {
                        // Infinite clamp bounds: the class is exact.
                        assert_eq!(
                            class(g as f64),
                            class(want),
                            "{name}: element {at}: {g} but reference {want}: {self:#?}"
                        );
                    }
                }
            }
        }

        // --- Another way to make the same call must agree bit for bit. ---
        // With a residual, sometimes the same one in the output.
        let which = (self.seed as usize) % packed.len();
        let p = &packed[which];
        let in_output = residual.is_some() && (self.seed >> 9) & 1 == 1;
        let mut output = if in_output { output_holding_residual() } else { init_output(out_len) };
        let residual_arg = if in_output { Residual::InOutput } else { residual_tensor.into() };
        let tensor_in = Tensor::new(&input, in_desc);
        match self.mode {
            0 => {
                let plan =
                    p.plan(tensor_in, TensorMut::new(&mut output, out_desc), residual_arg, self.threads).unwrap();
                for task in (0..plan.task_count()).rev() {
                    assert!(plan.run_task(task));
                }
                assert!(!plan.run_task(0));
                assert!(!plan.run_task(plan.task_count()));
            }
            1 => {
                // On rayon or on pointwise's own workers.
                let threads =
                    if (self.seed >> 8) & 1 == 0 { Threads::Rayon(self.threads) } else { Threads::Count(self.threads) };
                p.run_with(
                    tensor_in,
                    TensorMut::new(&mut output, out_desc),
                    residual_arg,
                    &RunOptions { threads, ..RunOptions::default() },
                )
                .unwrap();
            }
            2 => {
                match residual_tensor {
                    Some(_) if in_output => p.run_residual_in_output(tensor_in, TensorMut::new(&mut output, out_desc)),
                    Some(r) => p.run_residual(tensor_in, TensorMut::new(&mut output, out_desc), r),
                    None => p.run(tensor_in, TensorMut::new(&mut output, out_desc)),
                }
                .unwrap();
            }
            _ => {
                let plain = self.input == Layout::Nhwc
                    && self.output == Layout::Nhwc
                    && in_desc.channel_offset == 0
                    && in_desc.channels == c.in_channels
                    && out_desc.channel_offset == 0
                    && out_desc.channels == c.out_channels
                    && residual_tensor.is_none();
                if !plain {
                    return;
                }
                p.run_nhwc(&input, self.batch, self.height, self.width, &mut output).unwrap();
            }
        }
        assert!(
            output.iter().zip(&outputs[which]).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{}: call form {} differs from run_with: {self:#?}",
            p.isa().name(),
            self.mode
        );
    }
}

/// SplitMix64: values in [-1, 1) from the case's seed.
struct SplitMix(u64);
impl SplitMix {
    fn value(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}
