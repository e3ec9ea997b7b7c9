//! Threads: bitwise determinism whatever the thread count, concurrent calls
//! on shared packed weights, and the task API on plain std threads.

mod common;

use common::sweep::Rng;
use pointwise::suite;
use pointwise::{
    Activation, Conv1x1, PackedConv, Residual, RunOptions, Tensor, TensorDesc, TensorMut, Threads, WeightOrder,
};

fn setup(layer: &suite::Layer, activation: Activation) -> (PackedConv, Vec<f32>) {
    let mut rng = Rng::new(3);
    let conv = layer.conv.with_activation(activation);
    let k = conv.in_channels / conv.groups;
    let weights: Vec<f32> = (0..conv.out_channels * k).map(|_| rng.f32()).collect();
    let bias: Vec<f32> = (0..conv.out_channels).map(|_| rng.f32()).collect();
    let input: Vec<f32> = (0..layer.input_desc().len().unwrap()).map(|_| rng.f32()).collect();
    (conv.pack(&weights, WeightOrder::OutIn, Some(&bias)).unwrap(), input)
}

fn run(packed: &PackedConv, layer: &suite::Layer, input: &[f32], threads: Threads) -> Vec<f32> {
    run_with_skip(packed, layer, input, threads, Skip::None)
}

/// The residual of a call of [`run_with_skip`].
#[derive(Clone, Copy, Debug, PartialEq)]
enum Skip {
    None,
    /// [`skip_values`] in the output.
    InOutput,
    /// [`skip_values`] in a tensor of their own.
    Apart,
}

/// A residual for `layer`'s output.
fn skip_values(layer: &suite::Layer) -> Vec<f32> {
    (0..layer.output_desc().len().unwrap()).map(|i| (i % 7) as f32 * 0.25 - 0.75).collect()
}

/// [`run`] with a residual, the output starting as [`skip_values`].
fn run_with_skip(packed: &PackedConv, layer: &suite::Layer, input: &[f32], threads: Threads, skip: Skip) -> Vec<f32> {
    let mut out = skip_values(layer);
    let apart = skip_values(layer);
    packed
        .run_with(
            Tensor::new(input, layer.input_desc()),
            TensorMut::new(&mut out, layer.output_desc()),
            match skip {
                Skip::None => Residual::None,
                Skip::InOutput => Residual::InOutput,
                Skip::Apart => Residual::Tensor(Tensor::new(&apart, layer.output_desc())),
            },
            &RunOptions { threads, ..RunOptions::default() },
        )
        .unwrap();
    out
}

fn layers() -> Vec<suite::Layer> {
    let mut layers = suite::parse(suite::PUBLIC_SUITE).unwrap();
    // Every shape class: large, 7x7, 14x14 (whose pixels split in equal
    // rows, not whole tiles), strided, grouped, M = 1 (single-threaded, and
    // the classifier: panel chunks handed to one kernel call each), tiny Cout,
    // and calls that end in a half panel (N = 144 = 4.5·32, 24 = 1.5·16),
    // which a kernel may walk with their whole panels; weights over the
    // walk budget but within L2 (on a 2 MiB L2: mobilenetv2.head, 1.6 MiB),
    // walked in calls of the budget's panels on one thread and whole by
    // each of two.
    layers.retain(|l| {
        [
            "resnet50.s3.expand",
            "mobilenetv2.head",
            "mobilenetv2.b3.expand",
            "mobilenetv2.b2.project",
            "resnet50.s5.reduce",
            "resnet50.s4.reduce",
            "resnet50.s4.downsample",
            "shufflenet.grouped",
            "se.reduce",
            "mobilenetv2.classifier",
            "unet.head",
        ]
        .contains(&l.name.as_str())
    });
    layers
}

#[test]
fn results_are_bitwise_identical_for_every_thread_count() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    for layer in layers() {
        let (packed, input) = setup(&layer, Activation::Silu);
        // And with a residual in the output: each task reads the outputs it
        // writes, and no other task's (the bits of the residual apart).
        for skip in [Skip::None, Skip::InOutput] {
            let run = |threads| run_with_skip(&packed, &layer, &input, threads, skip);
            let single = run(Threads::Single);
            if skip == Skip::InOutput {
                let apart = run_with_skip(&packed, &layer, &input, Threads::Single, Skip::Apart);
                assert!(
                    single.iter().zip(&apart).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{}: the residual in the output differs from the same residual apart",
                    layer.name
                );
            }
            for threads in
                [Threads::Rayon(2), Threads::Rayon(3), Threads::Rayon(0), Threads::Count(2), Threads::Count(0)]
            {
                // From a thread of the pool, and from outside any pool (the
                // caller then takes part through a rayon scope, or hands the
                // call to pointwise's own workers).
                let inside = pool.install(|| run(threads));
                let outside = run(threads);
                for (parallel, from) in [(inside, "inside"), (outside, "outside")] {
                    assert!(
                        single.iter().zip(&parallel).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{}: {threads:?} called from {from} the pool differs from one thread ({skip:?})",
                        layer.name
                    );
                }
            }
        }
    }
}

#[test]
fn concurrent_calls_share_packed_weights() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PackedConv>();
    for layer in layers() {
        let (packed, input) = setup(&layer, Activation::Relu);
        let expected = run(&packed, &layer, &input, Threads::Single);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (packed, input, expected, layer) = (&packed, &input, &expected, &layer);
                s.spawn(move || {
                    // Two threads ask for pointwise's workers at once: one of
                    // them runs its calls alone.
                    let threads = [Threads::Single, Threads::Rayon(2), Threads::Count(2), Threads::Count(0)][t];
                    for _ in 0..3 {
                        assert_eq!(&run(packed, layer, input, threads), expected, "{}", layer.name);
                    }
                });
            }
        });
    }
}

#[test]
fn plan_tasks_run_on_std_threads_once_each() {
    let conv = Conv1x1::new(64, 96);
    let weights = vec![0.25f32; 64 * 96];
    let packed = conv.pack(&weights, WeightOrder::OutIn, None).unwrap();
    let input = vec![1.0f32; 2 * 30 * 30 * 64];
    let mut output = vec![0.0f32; 2 * 30 * 30 * 96];
    let plan = packed
        .plan(
            Tensor::new(&input, TensorDesc::nhwc(2, 30, 30, 64)),
            TensorMut::new(&mut output, TensorDesc::nhwc(2, 30, 30, 96)),
            Residual::None,
            3,
        )
        .unwrap();
    assert!(plan.task_count() >= 3, "{} tasks for 3 workers", plan.task_count());
    let ran = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            // Every worker tries every task: each must run exactly once.
            s.spawn(|| {
                for task in 0..plan.task_count() {
                    if plan.run_task(task) {
                        ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(ran.into_inner(), plan.task_count());
    assert!(!plan.run_task(plan.task_count()), "an out-of-range task ran");
    assert!(output.iter().all(|&v| v == 16.0));
}

#[test]
fn workers_take_calls_back_to_back_from_two_threads() {
    // A worker that ran on into a later call, or wrote after its caller
    // returned, would leave a NaN or a wrong value in some output.
    let conv = Conv1x1::new(64, 48).with_activation(Activation::Relu);
    let mut rng = Rng::new(5);
    let weights: Vec<f32> = (0..64 * 48).map(|_| rng.f32()).collect();
    let packed = conv.pack(&weights, WeightOrder::OutIn, None).unwrap();
    let (in_desc, out_desc) = (TensorDesc::nhwc(1, 24, 24, 64), TensorDesc::nhwc(1, 24, 24, 48));
    let input: Vec<f32> = (0..in_desc.len().unwrap()).map(|_| rng.f32()).collect();
    let mut expected = vec![0.0; out_desc.len().unwrap()];
    packed.run(Tensor::new(&input, in_desc), TensorMut::new(&mut expected, out_desc)).unwrap();
    std::thread::scope(|s| {
        for caller in 0..2 {
            let (packed, input, expected) = (&packed, &input, &expected);
            s.spawn(move || {
                let options = RunOptions { threads: Threads::Count(2), ..RunOptions::default() };
                let mut output = vec![0.0; expected.len()];
                for call in 0..300 {
                    output.fill(f32::NAN);
                    let out = TensorMut::new(&mut output, out_desc);
                    packed.run_with(Tensor::new(input, in_desc), out, Residual::None, &options).unwrap();
                    assert!(
                        output.iter().zip(expected).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "caller {caller}, call {call}: output differs from one thread"
                    );
                    if call % 50 == 49 {
                        // Let the workers go to sleep.
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            });
        }
    });
}
