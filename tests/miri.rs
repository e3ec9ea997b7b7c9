//! Small cases for Miri: the unsafe code's pointer arithmetic on every path
//! through the safe API, on shapes small enough for an interpreter.
//!
//! `bash .ci/miri.sh` runs this file (and `tests/errors.rs`) under
//! `cargo +nightly miri test --no-default-features`: only the scalar kernel is
//! compiled then, because Miri cannot run AVX or NEON intrinsics. Miri checks
//! every pointer the driver builds (`ptr.add` must stay inside its
//! allocation), every element the scalar kernel reads or writes, the aliasing
//! of the output between the kernel and the activation pass, and data races
//! between the tasks of a plan run on two threads. Every buffer is allocated
//! at its exact logical size, so an access one element past it is an error.
//!
//! It is also an ordinary test: natively it runs the same cases on every ISA
//! this CPU has, in well under a second.

mod common;

use common::convs::{check_case, Case, ACTIVATIONS, LAYOUTS};
use common::sweep::Rng;
use pointwise::kernels::abi::{A_COLD, A_STREAMED, A_WARM};
use pointwise::kernels::{Strides, TileArgs, KERNELS};
use pointwise::{
    dispatch, Activation, Conv1x1, Error, Isa, Layout, Residual, RunOptions, Tensor, TensorDesc, TensorMut, Threads,
    WeightOrder,
};

fn isas() -> Vec<Isa> {
    dispatch::available_isas()
}

fn assert_ok(isa: Isa, results: Vec<Result<(), String>>) {
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "{}: {} of {} failed: {failures:#?}", isa.name(), failures.len(), results.len());
}

/// Every (input, output, residual) layout triple, residual absent included,
/// with stride, groups, channel slices and the activation rotating.
#[test]
fn every_layout_triple() {
    for isa in isas() {
        let mut results = Vec::new();
        let mut seq = 0;
        for &input in LAYOUTS {
            for &output in LAYOUTS {
                for residual in
                    [None, Some(Layout::Nhwc), Some(Layout::Nchw), Some(Layout::Nchwc(8)), Some(Layout::Nchwc(16))]
                {
                    seq += 1;
                    let groups = [1, 2, 3][seq % 3];
                    let (k, n) = [(3, 9), (5, 2), (1, 17)][seq % 3];
                    let case = Case {
                        conv: Conv1x1::new(k * groups, n * groups)
                            .with_groups(groups)
                            .with_stride(1 + seq % 2, 1 + (seq / 2) % 2)
                            .with_activation(ACTIVATIONS[seq % ACTIVATIONS.len()]),
                        batch: 1 + seq % 2,
                        height: 2,
                        width: 3,
                        input,
                        output,
                        residual,
                        bias: seq % 4 != 3,
                        order: if seq % 2 == 0 { WeightOrder::OutIn } else { WeightOrder::InOut },
                        in_slice: [(0, 0), (3, 1), (7, 0)][seq % 3],
                        out_slice: [(0, 0), (5, 2), (9, 0), (0, 3)][seq % 4],
                    };
                    results.push(check_case(&case, isa, seq as u64));
                }
            }
        }
        assert_ok(isa, results);
    }
}

/// Tiles: every remainder of the pixel axis (m = 1..=MR + 1 of a 4-row or
/// 12-row tile) and of the channel axis (one panel, a ragged one, two).
#[test]
fn tile_remainders() {
    for isa in isas() {
        let mut results = Vec::new();
        let mut seq = 0;
        for width in [1, 3, 4, 5, 13] {
            for cout in [1, 7, 8, 9, 16, 17, 33] {
                seq += 1;
                let case = Case {
                    conv: Conv1x1::new([1, 2, 8, 9][seq % 4], cout)
                        .with_activation([Activation::Relu6, Activation::None, Activation::Silu][seq % 3]),
                    batch: 1,
                    height: 1,
                    width,
                    input: LAYOUTS[seq % 4],
                    output: LAYOUTS[(seq / 4) % 4],
                    residual: (seq % 3 == 0).then_some(LAYOUTS[(seq / 3) % 4]),
                    bias: seq % 2 == 0,
                    order: WeightOrder::OutIn,
                    in_slice: (seq % 5, 0),
                    out_slice: (seq % 3, seq % 2),
                };
                results.push(check_case(&case, isa, seq as u64));
            }
        }
        assert_ok(isa, results);
    }
}

/// Depthwise and many-group convolutions whose groups share NCHWc blocks.
#[test]
fn groups_inside_blocks() {
    for isa in isas() {
        let mut results = Vec::new();
        for (seq, (groups, k, n)) in [(5, 1, 1), (4, 3, 2), (8, 2, 3), (3, 5, 7)].into_iter().enumerate() {
            for (l, &layout) in LAYOUTS.iter().enumerate() {
                let case = Case {
                    conv: Conv1x1::new(groups * k, groups * n).with_groups(groups).with_stride(2, 1),
                    batch: 1,
                    height: 3,
                    width: 2,
                    input: LAYOUTS[(l + 1) % 4],
                    output: layout,
                    residual: (seq % 2 == 1).then_some(layout),
                    bias: true,
                    order: if l % 2 == 0 { WeightOrder::InOut } else { WeightOrder::OutIn },
                    in_slice: (l, 1),
                    out_slice: (3 * l, 0),
                };
                results.push(check_case(&case, isa, (seq * 4 + l) as u64));
            }
        }
        assert_ok(isa, results);
    }
}

/// The task API on two threads: Miri checks that the tasks of a plan (one per
/// group here, writing interleaved channels of the same NCHWc blocks) do not
/// race, and that results match a single-threaded call bit for bit.
#[test]
fn plan_on_two_threads() {
    // LeakyReLU needs the activation pass (a &mut slice over each task's outputs), and
    // is exact: Miri perturbs transcendental functions by a few ulp on purpose.
    let conv = Conv1x1::new(6, 9).with_groups(3).with_activation(Activation::LeakyRelu { alpha: 0.1 });
    let mut rng = Rng::new(11);
    let weights: Vec<f32> = (0..9 * 2).map(|_| rng.f32()).collect();
    let in_desc = TensorDesc::new(Layout::Nchwc(8), 1, 2, 3, 6);
    let out_desc = TensorDesc::new(Layout::Nchwc(8), 1, 2, 3, 11).with_channel_offset(1);
    let input: Vec<f32> = (0..in_desc.len().unwrap()).map(|_| rng.f32()).collect();
    // Each also with the residual in the output (the 0.5 it starts as):
    // each task then reads the outputs it writes, beside the other tasks'
    // writes to the same NCHWc blocks.
    for (isa, residual) in isas().into_iter().flat_map(|isa| [(isa, Residual::None), (isa, Residual::InOutput)]) {
        let packed = conv.pack_for(isa, &weights, WeightOrder::OutIn, None).unwrap();
        let mut single = vec![0.5f32; out_desc.len().unwrap()];
        packed
            .run_with(
                Tensor::new(&input, in_desc),
                TensorMut::new(&mut single, out_desc),
                residual,
                &RunOptions::default(),
            )
            .unwrap();

        let mut output = vec![0.5f32; out_desc.len().unwrap()];
        let plan =
            packed.plan(Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc), residual, 2).unwrap();
        assert!(plan.task_count() >= 3, "one task per group at least");
        std::thread::scope(|s| {
            for worker in 0..2 {
                let plan = &plan;
                s.spawn(move || {
                    // Both workers try every task, in opposite orders: each runs once.
                    let tasks: Vec<usize> = if worker == 0 {
                        (0..plan.task_count()).collect()
                    } else {
                        (0..plan.task_count()).rev().collect()
                    };
                    for task in tasks {
                        plan.run_task(task);
                    }
                });
            }
        });
        assert!(!plan.run_task(0), "a task ran twice");
        assert!(!plan.run_task(usize::MAX), "an out-of-range task ran");
        assert!(single.iter().zip(&output).all(|(a, b)| a.to_bits() == b.to_bits()), "{} {residual:?}", isa.name());
        if let Residual::InOutput = residual {
            // The bits of the same residual in a tensor of its own.
            let skip = vec![0.5f32; out_desc.len().unwrap()];
            let mut apart = vec![0.5f32; out_desc.len().unwrap()];
            packed
                .run_residual(
                    Tensor::new(&input, in_desc),
                    TensorMut::new(&mut apart, out_desc),
                    Tensor::new(&skip, out_desc),
                )
                .unwrap();
            assert!(apart.iter().zip(&output).all(|(a, b)| a.to_bits() == b.to_bits()), "{}", isa.name());
        }
    }
}

/// pointwise's own workers ([`Threads::Count`]): Miri checks the hand-off of
/// a call to a worker thread and back, over calls in a row, for data races
/// and for any use of a call after its caller returned.
#[test]
fn workers_on_two_threads() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cores >= 2, "Threads::Count(2) would run on one thread: {cores} core (under Miri: -Zmiri-num-cpus=2)");
    let conv = Conv1x1::new(6, 9).with_groups(3).with_activation(Activation::LeakyRelu { alpha: 0.1 });
    let mut rng = Rng::new(12);
    let weights: Vec<f32> = (0..9 * 2).map(|_| rng.f32()).collect();
    let (in_desc, out_desc) = (TensorDesc::nhwc(1, 2, 3, 6), TensorDesc::nhwc(1, 2, 3, 9));
    let input: Vec<f32> = (0..in_desc.len().unwrap()).map(|_| rng.f32()).collect();
    let packed = conv.pack(&weights, WeightOrder::OutIn, None).unwrap();
    let mut single = vec![0.5f32; out_desc.len().unwrap()];
    packed.run(Tensor::new(&input, in_desc), TensorMut::new(&mut single, out_desc)).unwrap();
    let options = RunOptions { threads: Threads::Count(2), ..RunOptions::default() };
    for call in 0..3 {
        let mut output = vec![0.5f32; out_desc.len().unwrap()];
        let out = TensorMut::new(&mut output, out_desc);
        packed.run_with(Tensor::new(&input, in_desc), out, Residual::None, &options).unwrap();
        assert!(single.iter().zip(&output).all(|(a, b)| a.to_bits() == b.to_bits()), "call {call}");
    }
}

/// Invalid calls return an error and write nothing.
#[test]
fn invalid_calls_write_nothing() {
    let conv = Conv1x1::new(4, 6).with_groups(2).pack_for(Isa::Scalar, &[0.25; 12], WeightOrder::OutIn, None).unwrap();
    let input = vec![1.0f32; 2 * 3 * 4];
    let good_out = TensorDesc::nhwc(1, 2, 3, 6);
    for (in_desc, in_len, out_desc, out_len) in [
        (TensorDesc::nhwc(1, 2, 3, 4), 23, good_out, 36),
        (TensorDesc::nhwc(1, 2, 3, 4), 24, good_out, 37),
        (TensorDesc::nhwc(1, 2, 3, 4).with_channel_offset(1), 24, good_out, 36),
        (TensorDesc::nhwc(1, 2, 3, 4), 24, good_out.with_channel_offset(1), 36),
        (TensorDesc::new(Layout::Nchwc(4), 1, 2, 3, 4), 24, good_out, 36),
        (TensorDesc::nhwc(1, 2, 3, 4), 24, TensorDesc::new(Layout::Nchwc(8), 1, 2, 3, 6), 36),
        (TensorDesc::nhwc(1, 2, 3, 4), 24, TensorDesc::nhwc(1, 3, 2, 6), 36),
    ] {
        let mut output = vec![7.0f32; out_len];
        let result = conv.run(Tensor::new(&input[..in_len.min(24)], in_desc), TensorMut::new(&mut output, out_desc));
        assert!(result.is_err(), "{in_desc:?} {out_desc:?} was accepted");
        assert!(output.iter().all(|&v| v == 7.0), "a failed call wrote");
    }
    let err = conv
        .run_with(
            Tensor::new(&input, TensorDesc::nhwc(1, 2, 3, 4)),
            TensorMut::new(&mut [0.0; 36], good_out),
            Residual::None,
            &RunOptions { expect_isa: Some(Isa::Avx2), ..RunOptions::default() },
        )
        .unwrap_err();
    assert_eq!(err, Error::WeightsPackedForOtherIsa { packed: Isa::Scalar, requested: Isa::Avx2 });
}

/// Each kernel through its ABI, with every activation row, output row and
/// residual row in an allocation of its own and of the exact size the
/// contract names (no canaries, no slack): an access one element past a row
/// is out of bounds for Miri and for AddressSanitizer. Depth and columns go
/// through contiguous, NCHW-like and blocked strides.
#[test]
fn kernels_on_exact_rows() {
    let depths: &[usize] = if cfg!(miri) { &[0, 1, 3, 9] } else { &[0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 33] };
    for kernel in KERNELS.iter().filter(|k| dispatch::is_available(k.isa)) {
        let oracle = pointwise::kernels::scalar_oracle(kernel.mr, kernel.nr).unwrap();
        let mut rng = Rng::new(5);
        let ms: Vec<usize> = if cfg!(miri) { vec![1, kernel.mr] } else { (1..=kernel.mr).collect() };
        let mut case = 0;
        for &m in &ms {
            // The last: 5 panels, the kernels' M = 1 path takes 4 at once.
            for n in [1, 2, kernel.nr / 2 + 1, kernel.nr - 1, kernel.nr, 4 * kernel.nr + 3] {
                for &k in depths {
                    case += 1;
                    // Every other 2-column case is plain (contiguous rows and
                    // columns, no residual, no accumulate): what the dot
                    // kernels' walks take.
                    let plain = n == 2 && case % 2 == 1;
                    let a_k = [
                        Strides::CONTIGUOUS,
                        Strides { block: 1, block_stride: 3, phase: 0 },
                        Strides { block: 8, block_stride: 11, phase: case % 8 },
                    ][if plain { 0 } else { case % 3 }];
                    let c_cols = [
                        Strides::CONTIGUOUS,
                        Strides { block: 16, block_stride: 19, phase: 0 },
                        Strides { block: 1, block_stride: 2, phase: 0 },
                        Strides { block: 8, block_stride: 8, phase: 0 },
                    ][if plain { 0 } else { case % 4 }];
                    let span = |s: &Strides, count: usize| if count == 0 { 0 } else { s.offset(count - 1) + 1 };
                    let a: Vec<Vec<f32>> = (0..m).map(|_| (0..span(&a_k, k)).map(|_| rng.f32()).collect()).collect();
                    let r: Vec<Vec<f32>> = (0..m).map(|_| (0..span(&c_cols, n)).map(|_| rng.f32()).collect()).collect();
                    // Panels of k·NR floats, 64-byte aligned, exactly as long
                    // as the last one needs.
                    let (nr, panels) = (kernel.nr, n.div_ceil(kernel.nr));
                    let panel_stride = (k * nr).next_multiple_of(16);
                    let panel = aligned_vec::AVec::<f32, aligned_vec::ConstAlign<64>>::from_iter(
                        0,
                        (0..(panels - 1) * panel_stride + k * nr).map(|i| {
                            let (q, at) = (i / panel_stride, i % panel_stride);
                            if at < k * nr && q * nr + at % nr < n {
                                rng.f32()
                            } else {
                                0.0
                            }
                        }),
                    );
                    let bias: Vec<f32> = (0..panels * nr).map(|_| rng.f32()).collect();
                    let accumulate = !plain && case % 5 == 1;
                    let run = |f: pointwise::kernels::KernelFn| {
                        let mut c: Vec<Vec<f32>> = (0..m).map(|i| vec![0.5 + i as f32; span(&c_cols, n)]).collect();
                        let a_rows: Vec<*const f32> = a.iter().map(|row| row.as_ptr()).collect();
                        let r_rows: Vec<*const f32> = r.iter().map(|row| row.as_ptr()).collect();
                        let c_rows: Vec<*mut f32> = c.iter_mut().map(|row| row.as_mut_ptr()).collect();
                        let args = TileArgs {
                            m,
                            n,
                            k,
                            a_rows: a_rows.as_ptr(),
                            a_k,
                            b_panel: panel.as_ptr(),
                            b_panel_stride: panel_stride,
                            bias: if case % 2 == 0 { bias.as_ptr() } else { core::ptr::null() },
                            c_rows: c_rows.as_ptr(),
                            c_cols,
                            r_rows: if !plain && case % 3 != 2 { r_rows.as_ptr() } else { core::ptr::null() },
                            r_cols: c_cols,
                            clamp_min: if case % 4 == 1 { -0.25 } else { f32::NEG_INFINITY },
                            clamp_max: if case % 4 == 1 { 0.5 } else { f32::INFINITY },
                            accumulate: accumulate as u32,
                            a_cold: [A_WARM, A_COLD, A_STREAMED][case / 2 % 3],
                            b_next: core::ptr::null(),
                            b_next_len: 0,
                        };
                        // SAFETY: every row holds exactly the elements the
                        // contract names for (m, n, k) and these strides; each
                        // panel holds k·NR floats, 64-byte aligned; bias holds
                        // ceil(n / NR)·NR floats; the CPU supports the kernel's ISA.
                        unsafe { f(&args) };
                        c
                    };
                    let (got, want) = (run(kernel.run), run(oracle));
                    let bound = 2.0 * (k as f32 + 4.0) * f32::EPSILON * (k as f32 + 3.0) + 1e-6;
                    for (i, (g_row, w_row)) in got.iter().zip(&want).enumerate() {
                        for (at, (g, w)) in g_row.iter().zip(w_row).enumerate() {
                            assert!(
                                (g - w).abs() <= bound,
                                "{}: m={m} n={n} k={k} row {i} element {at}: {g} vs {w}",
                                kernel.name
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The micro-kernel sweep of `tests/kernels.rs` (every m, every n up to
/// 2·NR + 1, canaries around every row and in every padding column) on fewer
/// depths: the full sweep's depths up to 257 take Miri well over 15 minutes.
#[test]
fn kernel_sweep_small_depths() {
    for kernel in KERNELS.iter().filter(|k| dispatch::is_available(k.isa)) {
        let tally = common::sweep::sweep_rows(kernel, &[0, 1, 8, 17], false);
        assert_eq!(tally.failed, 0, "{}: {:#?}", kernel.name, tally.first_failures);
    }
}

/// More tasks than the plan has claim bits (4096): a depthwise layer of 4099
/// groups, where each claim covers two tasks. Natively only (4099 groups of
/// Miri are minutes).
#[test]
#[cfg_attr(miri, ignore)]
fn more_tasks_than_claim_bits() {
    for isa in isas() {
        let case = Case {
            conv: Conv1x1::new(4099, 4099).with_groups(4099).with_activation(Activation::Sigmoid),
            batch: 1,
            height: 1,
            width: 3,
            input: Layout::Nchwc(16),
            output: Layout::Nhwc,
            residual: Some(Layout::Nchwc(8)),
            bias: true,
            order: WeightOrder::OutIn,
            in_slice: (1, 0),
            out_slice: (0, 0),
        };
        check_case(&case, isa, 4099).unwrap_or_else(|e| panic!("{}: {e}", isa.name()));
        let packed = case.conv.pack_for(isa, &vec![0.5; 4099], WeightOrder::OutIn, None).unwrap();
        let input = vec![1.0; 3 * 4099];
        let mut output = vec![0.0; 3 * 4099];
        let plan = packed
            .plan(
                Tensor::new(&input, TensorDesc::nhwc(1, 1, 3, 4099)),
                TensorMut::new(&mut output, TensorDesc::nhwc(1, 1, 3, 4099)),
                Residual::None,
                2,
            )
            .unwrap();
        assert!(plan.task_count() <= 4096, "{} claims", plan.task_count());
        for task in (0..plan.task_count()).rev() {
            assert!(plan.run_task(task));
        }
        let want = Activation::Sigmoid.apply(0.5);
        assert!(output.iter().all(|&v| v == want), "{}: a task of a shared claim did not run", isa.name());
    }
}
