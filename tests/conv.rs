//! Convolution-level tests against the naive f64 reference.

mod common;

use common::convs::{check_case, check_random, Case, CaseData, ACTIVATIONS, LAYOUTS};
use pointwise::kernels::{Tuning, KERNELS};
use pointwise::{dispatch, Activation, Conv1x1, Layout, WeightOrder};

fn assert_clean(isa: pointwise::Isa, tally: common::sweep::Tally) {
    assert_eq!(tally.failed, 0, "{}: {:#?}", isa.name(), tally.first_failures);
    println!("{}: {} cases passed", isa.name(), tally.passed);
}

#[test]
fn random_shapes_on_every_available_isa() {
    for isa in dispatch::available_isas() {
        assert_clean(isa, check_random(isa, 400, 0x5eed));
    }
}

/// Every layout pair x stride x groups x epilogue, on odd sizes.
#[test]
fn layout_stride_groups_epilogue_grid() {
    for isa in dispatch::available_isas() {
        let mut tally = common::sweep::Tally::default();
        let mut seq = 0u64;
        for &input in LAYOUTS {
            for &output in LAYOUTS {
                for (stride, groups) in [(1, 1), (2, 1), (1, 3), (2, 8)] {
                    for (a, &activation) in ACTIVATIONS.iter().enumerate() {
                        let channels = [13, 37, 53][a % 3];
                        let per_group = if groups == 8 { 3 } else { channels };
                        let case = Case {
                            conv: Conv1x1::new(per_group * groups.max(1), [7, 53, 13][a % 3] * groups)
                                .with_groups(groups)
                                .with_stride(stride, stride)
                                .with_activation(activation),
                            batch: 1 + a % 2,
                            height: 5,
                            width: 7,
                            input,
                            output,
                            residual: (a % 2 == 1).then_some(LAYOUTS[a % 4]),
                            bias: a % 3 != 2,
                            order: if a % 2 == 0 { WeightOrder::OutIn } else { WeightOrder::InOut },
                            in_slice: if a % 4 == 1 { (3, 2) } else { (0, 0) },
                            out_slice: if a % 4 == 2 { (8, 1) } else { (0, 0) },
                        };
                        seq += 1;
                        tally.record(check_case(&case, isa, seq));
                    }
                }
            }
        }
        assert_clean(isa, tally);
    }
}

#[test]
fn depthwise_extreme_works() {
    for isa in dispatch::available_isas() {
        let case = Case {
            conv: Conv1x1::new(37, 37).with_groups(37),
            batch: 2,
            height: 3,
            width: 5,
            input: Layout::Nhwc,
            output: Layout::Nchwc(8),
            residual: None,
            bias: true,
            order: WeightOrder::OutIn,
            in_slice: (0, 0),
            out_slice: (0, 0),
        };
        check_case(&case, isa, 7).unwrap();
    }
}

/// A case with bias, NHWC tensors, no residual and no channel slices.
fn plain_case(conv: Conv1x1, batch: usize, height: usize, width: usize) -> Case {
    Case {
        conv,
        batch,
        height,
        width,
        input: Layout::Nhwc,
        output: Layout::Nhwc,
        residual: None,
        bias: true,
        order: WeightOrder::OutIn,
        in_slice: (0, 0),
        out_slice: (0, 0),
    }
}

#[test]
fn large_depths() {
    for isa in dispatch::available_isas() {
        for k in [1, 255, 1024, 8192] {
            check_case(&plain_case(Conv1x1::new(k, 19), 1, 2, 7), isa, k as u64).unwrap();
        }
        // Pixels a multiple of 4 KiB apart, which kernels of more rows than
        // an L1 set has ways (8 of 4 KiB on Zen 3 and 4, as on CI's machine)
        // read in calls of at most that many rows, or, at a stride past 1 with
        // 4 panels or more, from a copy of their rows: a channel slice of 1000
        // of 1024 channels, 2 groups of 512 channels at stride 2 (8 KiB
        // apart), and 5 panels of 32 columns at stride 1 and at stride 2.
        for (seed, conv, in_slice) in [
            (1, Conv1x1::new(1000, 19), (16, 8)),
            (2, Conv1x1::new(1024, 38).with_groups(2).with_stride(2, 2), (0, 0)),
            (5, Conv1x1::new(1024, 150), (0, 0)),
            (6, Conv1x1::new(512, 150).with_stride(2, 2), (0, 0)),
        ] {
            let case = Case { residual: Some(Layout::Nhwc), in_slice, ..plain_case(conv, 2, 4, 13) };
            check_case(&case, isa, seed).unwrap();
        }
        // Whole panels of 16 and 32 columns at depths of 512 and more, over
        // several row tiles, rows not 4 KiB apart: the walks at those depths
        // (NHWC) and, in blocked layouts, the kernels' per-panel instances
        // that stream their panel and prefetch the next tile's rows.
        for (seed, conv, input) in [
            (3, Conv1x1::new(520, 64), Layout::Nhwc),
            (4, Conv1x1::new(1040, 96).with_stride(2, 1), Layout::Nhwc),
            (5, Conv1x1::new(528, 64), Layout::Nchwc(16)),
            // One panel of the 12x32 kernel: never walked.
            (7, Conv1x1::new(520, 32), Layout::Nhwc),
        ] {
            check_case(&Case { input, ..plain_case(conv, 1, 5, 7) }, isa, seed).unwrap();
        }
    }
}

/// Calls of several output panels, which kernels may walk row tile by row
/// tile across their panels (`Kernel::panels_walk_depth`): the narrow-depth
/// expansion layers (K up to 64), and depths at and past 256 (the general
/// x86-64 kernels walk at every depth, the strided walk up to 256); whole
/// panels (96 = 3·32), a last half panel (144 = 4.5·32, 40 = 2.5·16, 48 =
/// 1.5·32), a narrower last one (200, 40 of a 32-column kernel), groups,
/// stride, blocked layouts, residual and activation, through the driver's
/// blocks. (`large_depths` walks at K >= 512.) Each with its seed.
fn walked_panel_cases() -> Vec<(u64, Case)> {
    let cases: [(u64, Conv1x1, Layout, Layout, Option<Layout>); 11] = [
        (11, Conv1x1::new(16, 96), Layout::Nhwc, Layout::Nhwc, None),
        (16, Conv1x1::new(24, 144).with_activation(Activation::Relu6), Layout::Nhwc, Layout::Nhwc, None),
        (17, Conv1x1::new(80, 400).with_groups(2).with_stride(2, 2), Layout::Nhwc, Layout::Nhwc, None),
        (12, Conv1x1::new(24, 144).with_activation(Activation::Relu6), Layout::Nhwc, Layout::Nhwc, Some(Layout::Nhwc)),
        (13, Conv1x1::new(64, 200), Layout::Nchwc(8), Layout::Nchwc(16), Some(Layout::Nchwc(16))),
        (14, Conv1x1::new(48, 192).with_groups(2).with_stride(2, 1), Layout::Nhwc, Layout::Nchwc(8), None),
        (15, Conv1x1::new(32, 128), Layout::Nchw, Layout::Nhwc, Some(Layout::Nhwc)),
        (18, Conv1x1::new(256, 96).with_activation(Activation::Relu), Layout::Nhwc, Layout::Nhwc, None),
        (19, Conv1x1::new(257, 64), Layout::Nhwc, Layout::Nhwc, None),
        (20, Conv1x1::new(32, 40), Layout::Nhwc, Layout::Nhwc, Some(Layout::Nhwc)),
        (21, Conv1x1::new(24, 48).with_activation(Activation::Relu), Layout::Nhwc, Layout::Nhwc, Some(Layout::Nhwc)),
    ];
    cases
        .into_iter()
        .map(|(seed, conv, input, output, residual)| {
            (seed, Case { input, output, residual, ..plain_case(conv, 2, 9, 15) })
        })
        .collect()
}

/// [`walked_panel_cases`] against the reference on every ISA, and panels
/// beyond the walk's budget.
#[test]
fn walked_panels() {
    for isa in dispatch::available_isas() {
        for (seed, case) in walked_panel_cases() {
            check_case(&case, isa, seed).unwrap();
        }
        // Panels heavier than the walk's budget, where the L3 is 33 MiB or
        // less (a third of it; 11 MiB here against 10.7 MiB of a 32 MiB L3):
        // the driver goes one panel at a time where the kernel would walk,
        // at depths of 256 and 128. With a larger L3 they are walked.
        for (seed, conv) in [(22, Conv1x1::new(256, 11264)), (23, Conv1x1::new(128, 23040))] {
            let case = Case { residual: Some(Layout::Nhwc), ..plain_case(conv, 1, 2, 7) };
            check_case(&case, isa, seed).unwrap();
        }
    }
}

/// Each tuned kernel that this CPU can run gives, through the whole driver,
/// the bits of the generic kernel it stands in for, on [`walked_panel_cases`]
/// (layouts, strides, groups, residuals, activations; depths that the Zen 4
/// kernel walks one vector at a time, and deeper ones) and two calls of its
/// indirect walk.
#[test]
fn tuned_kernels_give_the_generic_kernels_bits() {
    let mut compared = 0;
    for tuned in KERNELS.iter().filter(|k| k.tuning != Tuning::Generic) {
        if let Err(e) = dispatch::check(tuned.isa) {
            println!("{}: NOT RUN against {} here: {e}", tuned.name, tuned.generic().name);
            continue;
        }
        let generic = tuned.generic();
        // And the indirect walk at the deepest the Zen 4 kernel walks by
        // vector (NCHW input, gathered into rows), and on rows 4 KiB apart
        // (read in place, in calls cut to the L1's ways), with residuals.
        let indirect = [
            (
                31,
                Case {
                    input: Layout::Nchw,
                    residual: Some(Layout::Nhwc),
                    ..plain_case(Conv1x1::new(256, 96), 1, 5, 7)
                },
            ),
            (
                32,
                Case { residual: Some(Layout::Nhwc), in_slice: (0, 960), ..plain_case(Conv1x1::new(64, 80), 2, 3, 9) },
            ),
        ];
        for (seed, case) in walked_panel_cases().into_iter().chain(indirect) {
            let data = CaseData::draw(&case, seed);
            // With a residual, also with the residual in the output.
            let ours = data.outputs_on_kernel(&case, tuned.name).unwrap();
            let theirs = data.outputs_on_kernel(&case, generic.name).unwrap();
            for (how, (ours, theirs)) in ["", " (residual in the output)"].iter().zip(ours.iter().zip(&theirs)) {
                let differ = ours.iter().zip(theirs).position(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(differ, None, "{case:?}{how}: {} and {} differ", tuned.name, generic.name);
                compared += 1;
            }
        }
    }
    println!("{compared} cases compared");
}

/// Calls that the dot kernels take through their strided entry point (NHWC
/// at stride 1, no residual, at most two output channels per group), over
/// several of the driver's blocks (2048 pixels at K = 64 with a 1 MiB L2,
/// 1008 at K = 130) and across images: depths
/// the strided walk takes and deeper ones it hands to the indirect entry
/// point, one output channel, groups, channel slices (rows further apart
/// than their channels), and an activation applied after the kernel.
#[test]
fn strided_calls() {
    for isa in dispatch::available_isas() {
        for (seed, conv, in_slice, out_slice) in [
            (31, Conv1x1::new(64, 2).with_activation(Activation::Relu), (0, 0), (0, 0)),
            (32, Conv1x1::new(64, 1), (0, 0), (0, 0)),
            (33, Conv1x1::new(48, 4).with_groups(2).with_activation(Activation::Sigmoid), (3, 2), (1, 1)),
            (34, Conv1x1::new(130, 2), (0, 0), (2, 0)),
            (35, Conv1x1::new(7, 2).with_activation(Activation::Clamp { min: -0.5, max: 0.75 }), (1, 0), (0, 0)),
        ] {
            let case = Case { in_slice, out_slice, ..plain_case(conv, 2, 37, 31) };
            check_case(&case, isa, seed).unwrap();
        }
    }
}

/// Strided calls with a residual (NHWC input and output at stride 1): an
/// NHWC residual, which the strided walks read by its stride (whole vectors
/// of columns, and 24 or 40 columns, which the AVX-512 walk leaves to the
/// indirect entry point; two columns, which the dot walk leaves), and
/// residuals in the other layouts, which must not be read as NHWC: in one
/// image, the pixels of an NCHW residual are evenly spaced too, one float
/// apart; residual rows 4 KiB apart, which kernels of more rows than an L1
/// set has ways read through the indirect entry point, in calls of fewer
/// rows (see `residual_rows_that_alias_leave_the_strided_entry`). Each also
/// into a channel slice of a wider output, whose rows are further apart
/// than the residual's.
#[test]
fn strided_calls_with_residual() {
    for isa in dispatch::available_isas() {
        for (seed, conv, residual, batch) in [
            (41, Conv1x1::new(24, 32), Layout::Nhwc, 2),
            (42, Conv1x1::new(16, 96).with_activation(Activation::Relu), Layout::Nhwc, 1),
            (43, Conv1x1::new(40, 24), Layout::Nhwc, 2),
            (44, Conv1x1::new(24, 40), Layout::Nhwc, 1),
            (45, Conv1x1::new(64, 2), Layout::Nhwc, 2),
            (46, Conv1x1::new(24, 32), Layout::Nchw, 1),
            (47, Conv1x1::new(24, 48), Layout::Nchwc(8), 1),
            (48, Conv1x1::new(24, 16), Layout::Nchwc(16), 2),
            // Residual and output rows 4 KiB apart, which kernels of more
            // rows than an L1 set has ways read in calls of fewer rows (the
            // slice below: only the residual's).
            (49, Conv1x1::new(24, 1024).with_activation(Activation::Relu), Layout::Nhwc, 2),
        ] {
            let case = Case { residual: Some(residual), ..plain_case(conv, batch, 9, 15) };
            check_case(&case, isa, seed).unwrap();
            // The output a channel slice of a wider tensor: its rows further
            // apart than the residual's.
            let case = Case { out_slice: (3, 5), ..case };
            check_case(&case, isa, seed + 100).unwrap();
        }
    }
}

/// Residual rows 4 KiB apart (1024 channels) keep a kernel of more rows than
/// an L1 set has ways off its strided entry point (the driver hands such
/// calls to the indirect one in calls of fewer rows), whether the residual is
/// a tensor of its own or the output itself: the residual's own row step
/// decides, not the output's; but an input that streams keeps them on it.
/// Each result is checked too: 24 products of 0.5 plus a residual of 1, and
/// the output's other channels untouched.
#[test]
fn residual_rows_that_alias_leave_the_strided_entry() {
    use pointwise::{Residual, RunOptions, Tensor, TensorDesc, TensorMut};
    // Runs `packed` and names the kernel that ran and whether it took its
    // strided entry point.
    fn run(
        packed: &pointwise::PackedConv,
        input: Tensor<'_>,
        output: TensorMut<'_>,
        residual: Residual<'_>,
    ) -> (&'static pointwise::kernels::Kernel, bool, usize) {
        let info = packed.run_with(input, output, residual, &RunOptions::default()).unwrap();
        let kernel = pointwise::kernels::KERNELS.iter().find(|k| k.name == info.kernel).unwrap();
        (kernel, info.strided, info.mr)
    }
    let conv = Conv1x1::new(24, 32);
    let weights = vec![0.5; 24 * 32];
    let in_desc = TensorDesc::nhwc(2, 3, 3, 24);
    let input = vec![1.0; in_desc.len().unwrap()];
    // A tensor `width` channels wide whose last 32 are the call's.
    let slice = |width: usize| TensorDesc::nhwc(2, 3, 3, width).with_channel_offset(width - 32);
    // (output width, residual tensor width or the residual in the output,
    // residual rows 4 KiB apart)
    for (out_width, residual_width, alias) in
        [(32, Some(1024), true), (1024, Some(32), false), (1024, None, true), (1040, None, false), (32, None, false)]
    {
        for isa in dispatch::available_isas() {
            let packed = conv.pack_for(isa, &weights, WeightOrder::OutIn, None).unwrap();
            let out_desc = slice(out_width);
            let mut output = vec![1.0; out_desc.len().unwrap()];
            let residual_data = residual_width.map(|w| vec![1.0; slice(w).len().unwrap()]);
            let residual = match (&residual_data, residual_width) {
                (Some(data), Some(w)) => Residual::Tensor(Tensor::new(data, slice(w))),
                _ => Residual::InOutput,
            };
            let (kernel, strided, mr) =
                run(&packed, Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc), residual);
            let expected = kernel.run_strided.is_some() && !(alias && pointwise::l1d_rows_alias(mr, 4096));
            let what = format!("{}: {} output {out_width} residual {residual_width:?}", isa.name(), kernel.name);
            assert_eq!(strided, expected, "{what}");
            for (i, x) in output.iter().enumerate() {
                let want = if i % out_width >= out_width - 32 { 13.0 } else { 1.0 };
                assert_eq!(*x, want, "{what}: element {i}");
            }
        }
    }
    // An input of more than twice L2 streams (`A_STREAMED`), and the walks
    // then fetch each next tile's rows ahead, which a call of one tile has
    // none of: such calls keep whole tiles, and the strided entry point.
    let conv = Conv1x1::new(256, 32);
    let pixels = 2 * pointwise::l2_bytes() / (4 * 256) + 16;
    let in_desc = TensorDesc::nhwc(1, 1, pixels, 256);
    let out_desc = TensorDesc::nhwc(1, 1, pixels, 1024).with_channel_offset(1024 - 32);
    let input = vec![1.0; in_desc.len().unwrap()];
    for isa in dispatch::available_isas() {
        let packed = conv.pack_for(isa, &vec![0.5; 256 * 32], WeightOrder::OutIn, None).unwrap();
        let mut output = vec![1.0; out_desc.len().unwrap()];
        let (kernel, strided, _) =
            run(&packed, Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc), Residual::InOutput);
        let what = format!("{}: {} on {pixels} streamed pixels", isa.name(), kernel.name);
        assert_eq!(strided, kernel.run_strided.is_some() && 256 <= kernel.strided_depth, "{what}");
        // 256 products of 0.5, plus the residual of 1, in the call's channels.
        assert!(output.chunks(1024).all(|row| row[992..].iter().all(|&x| x == 129.0)), "{what}");
    }
}

/// The driver takes a kernel's strided entry point exactly where it applies
/// (NHWC at stride 1, an NHWC residual if any, two pixels or more, a depth up to the
/// kernel's `strided_depth`, activation rows that do not alias in L1; residual
/// rows below), as
/// `RunInfo::strided` reports: a change that stopped taking it would pass
/// every result check and show only in the benchmarks.
#[test]
fn strided_entry_is_taken_where_it_applies() {
    use pointwise::{Tensor, TensorDesc, TensorMut};
    // Whether the entry point applies, given the kernel's rows per tile.
    type Applies = fn(usize) -> bool;
    let yes: Applies = |_| true;
    let no: Applies = |_| false;
    for isa in dispatch::available_isas() {
        let weights = vec![0.5; 300 * 32];
        for (conv, input, stride, residual, in_channels, size, applies) in [
            // The dot kernels (two output channels per group).
            (Conv1x1::new(24, 2), Layout::Nhwc, 1, false, 24, 9, yes),
            (Conv1x1::new(48, 4).with_groups(2), Layout::Nhwc, 1, false, 51, 9, yes),
            (Conv1x1::new(300, 2), Layout::Nhwc, 1, false, 300, 9, yes),
            (Conv1x1::new(24, 2), Layout::Nchw, 1, false, 24, 9, no),
            (Conv1x1::new(24, 2), Layout::Nchwc(8), 1, false, 24, 9, no),
            (Conv1x1::new(24, 2).with_stride(2, 2), Layout::Nhwc, 2, false, 24, 9, no),
            (Conv1x1::new(24, 2), Layout::Nhwc, 1, true, 24, 9, yes),
            // The general kernels, up to K = 256 on x86-64.
            (Conv1x1::new(24, 32), Layout::Nhwc, 1, false, 24, 9, yes),
            (Conv1x1::new(256, 32), Layout::Nhwc, 1, false, 256, 3, yes),
            // Deeper than the x86-64 kernels' `strided_depth`.
            (Conv1x1::new(257, 32), Layout::Nhwc, 1, false, 257, 3, yes),
            (Conv1x1::new(24, 32), Layout::Nhwc, 1, true, 24, 9, yes),
            // One pixel per image, two in the call (N = 2); a one-pixel
            // call (N = 1) below.
            (Conv1x1::new(24, 32), Layout::Nhwc, 1, false, 24, 1, yes),
            // Rows 4 KiB apart: read through the indirect entry point, in
            // calls of at most as many rows as an L1 set has ways, by
            // kernels of more rows than that (on x86-64, whose ways span 4 KiB).
            (Conv1x1::new(24, 32), Layout::Nhwc, 1, false, 1024, 3, |mr| !pointwise::l1d_rows_alias(mr, 4096)),
            (Conv1x1::new(24, 32), Layout::Nhwc, 1, false, 24, 0, no),
        ] {
            // Size 0 stands for one pixel of one image.
            let (batch, size) = if size == 0 { (1, 1) } else { (2, size) };
            let packed = conv
                .pack_for(
                    isa,
                    &weights[..conv.out_channels * (conv.in_channels / conv.groups)],
                    WeightOrder::OutIn,
                    None,
                )
                .unwrap();
            let in_desc = TensorDesc::new(input, batch, size, size, in_channels)
                .with_channel_offset(in_channels - conv.in_channels);
            let out = size.div_ceil(stride);
            let out_desc = TensorDesc::nhwc(batch, out, out, conv.out_channels);
            let data = vec![1.0; in_desc.len().unwrap()];
            let res = vec![1.0; out_desc.len().unwrap()];
            let mut output = vec![0.0; out_desc.len().unwrap()];
            let info = packed
                .run_with(
                    Tensor::new(&data, in_desc),
                    TensorMut::new(&mut output, out_desc),
                    residual.then(|| Tensor::new(&res, out_desc)).into(),
                    &pointwise::RunOptions::default(),
                )
                .unwrap();
            let kernel = pointwise::kernels::KERNELS.iter().find(|k| k.name == info.kernel).unwrap();
            let has_entry = kernel.run_strided.is_some();
            // Every x86-64 kernel has one.
            if matches!(isa, pointwise::Isa::Avx2 | pointwise::Isa::Avx512) {
                assert!(has_entry, "{}: {} has no strided entry point", isa.name(), info.kernel);
            }
            let deep_enough = conv.in_channels / conv.groups <= kernel.strided_depth;
            assert_eq!(
                info.strided,
                has_entry && deep_enough && applies(info.mr),
                "{}: {} K = {} {input:?} stride {stride} residual {residual} in_channels {in_channels} size {size}",
                isa.name(),
                info.kernel,
                conv.in_channels
            );
        }
    }
}
