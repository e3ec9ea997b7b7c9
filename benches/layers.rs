//! Every layer of the public suite, per ISA, with the `gemm` and
//! `matrixmultiply` crates on the same GEMM in the same group.
//!
//! Throughput is in FLOPs: criterion's "elem/s" reads as FLOP/s.
//! `cargo bench -p pointwise-benches --bench layers -- resnet50.s3` filters by
//! layer name.
//!
//! The peers get the problem a 1x1 convolution is for them (see `peers.rs`).

mod common;
mod peers;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pointwise::suite::{self, Layer};
use pointwise::{Residual, RunOptions, Tensor, TensorMut, Threads, WeightOrder};
use std::time::{Duration, Instant};

fn bench_layer(c: &mut Criterion, layer: &Layer, pool: &rayon::ThreadPool) {
    let conv = layer.conv;
    let k = layer.gemm_shape()[1];
    let weights = common::fill(conv.out_channels * k, 1);
    let bias = common::fill(conv.out_channels, 2);
    let in_desc = layer.input_desc();
    let out_desc = layer.output_desc();
    let input = common::fill(in_desc.len().unwrap(), 3);
    let mut output = pointwise::measure::zeros(out_desc.len().unwrap());

    let mut group = c.benchmark_group(layer.name.as_str());
    group.throughput(Throughput::Elements(layer.flops() as u64));
    // 1 thread for every ISA and, side by side for the default one, all of
    // rayon's threads (called from a thread of the pool, as an engine that
    // runs its layers on one pool does) and as many of pointwise's own workers
    // (called from this thread, of no pool).
    let threads = pool.current_num_threads();
    let default_isa = pointwise::dispatch::default_isa().unwrap();
    for isa in common::isas_to_bench() {
        let packed = conv.pack_for(isa, &weights, WeightOrder::OutIn, Some(&bias)).unwrap();
        let mut variants = vec![("1-thread".to_string(), Threads::Single)];
        if isa == default_isa && threads > 1 {
            variants.push((format!("{threads}-thread-rayon"), Threads::Rayon(threads)));
            variants.push((format!("{threads}-thread-workers"), Threads::Count(threads)));
        }
        for (label, threads) in variants {
            let options = RunOptions { threads, ..RunOptions::default() };
            let mut calls = |iterations| {
                let start = Instant::now();
                for _ in 0..iterations {
                    let out = TensorMut::new(&mut output, out_desc);
                    packed.run_with(Tensor::new(&input, in_desc), out, Residual::None, &options).unwrap();
                }
                start.elapsed()
            };
            group.bench_function(BenchmarkId::new(format!("pointwise-{}", isa.name()), label), |b| {
                b.iter_custom(|iterations| match threads {
                    Threads::Rayon(_) => pool.install(|| calls(iterations)),
                    _ => calls(iterations),
                })
            });
        }
    }

    let mut problem = peers::GemmProblem::new(layer, &input, &weights);
    group.bench_function(BenchmarkId::new("gemm-0.19", "1-thread"), |b| b.iter(|| problem.run_gemm(&mut output)));
    group.bench_function(BenchmarkId::new("matrixmultiply", "1-thread"), |b| {
        b.iter(|| problem.run_matrixmultiply(&mut output))
    });
    group.finish();
}

fn layers(c: &mut Criterion) {
    common::print_peak();
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap();
    for layer in suite::parse(suite::PUBLIC_SUITE).unwrap() {
        bench_layer(c, &layer, &pool);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = layers
}
criterion_main!(benches);
