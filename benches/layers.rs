//! Every layer of the public suite, per ISA, with the `gemm` and
//! `matrixmultiply` crates on the same GEMM in the same group.
//!
//! Throughput is in FLOPs: criterion's "elem/s" reads as FLOP/s.
//! `cargo bench --bench layers -- resnet50.s3` filters by layer name.
//!
//! The peers get the problem a 1x1 convolution is for them: `M = N·Ho·Wo`,
//! `K = Cin/groups`, `N = Cout/groups`, no bias. For a strided layer their
//! time includes the gather of the subsampled input rows; for a grouped layer
//! it includes one call per group.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pointwise::suite::{self, Layer};
use pointwise::{Tensor, TensorMut, WeightOrder};
use std::time::Duration;

fn bench_layer(c: &mut Criterion, layer: &Layer) {
    let conv = layer.conv;
    let [m, k, n] = layer.gemm_shape();
    let groups = conv.groups;
    let weights = common::fill(conv.out_channels * k, 1);
    let bias = common::fill(conv.out_channels, 2);
    let in_desc = layer.input_desc();
    let out_desc = layer.output_desc();
    let input = common::fill(in_desc.len().unwrap(), 3);
    let mut output = vec![0.0f32; out_desc.len().unwrap()];

    let mut group = c.benchmark_group(layer.name.as_str());
    group.throughput(Throughput::Elements(layer.flops() as u64));
    for isa in common::isas_to_bench() {
        let packed = conv.pack_for(isa, &weights, WeightOrder::OutIn, Some(&bias)).unwrap();
        group.bench_function(BenchmarkId::new("pointwise", isa.name()), |b| {
            b.iter(|| packed.run(Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc)).unwrap())
        });
    }

    // Peers: per group, C[m x n] = A[m x k] · B[k x n], A gathered when strided.
    let cin = conv.in_channels;
    let cout = conv.out_channels;
    let [sy, sx] = conv.stride;
    let [ho, wo] = conv.output_size(layer.height, layer.width);
    let gather = |a: &mut Vec<f32>| {
        a.clear();
        for b in 0..layer.batch {
            for y in 0..ho {
                for x in 0..wo {
                    let at = ((b * layer.height + y * sy) * layer.width + x * sx) * cin;
                    a.extend_from_slice(&input[at..at + cin]);
                }
            }
        }
    };
    let strided = sy > 1 || sx > 1;
    let mut gathered = Vec::with_capacity(m * cin);
    // B as [k][cout] (row-major, per group a column slice).
    let b_matrix: Vec<f32> = (0..k * cout).map(|i| weights[(i % cout) * k + i / cout]).collect();
    group.bench_function(BenchmarkId::new("gemm-0.19", "1-thread"), |bench| {
        bench.iter(|| {
            let a: &[f32] = if strided {
                gather(&mut gathered);
                &gathered
            } else {
                &input
            };
            for g in 0..groups {
                // SAFETY: all strides describe in-bounds row-major matrices.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        output.as_mut_ptr().add(g * n),
                        1,
                        cout as isize,
                        false,
                        a.as_ptr().add(g * k),
                        1,
                        cin as isize,
                        b_matrix.as_ptr().add(g * n),
                        1,
                        cout as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            }
        })
    });
    group.bench_function(BenchmarkId::new("matrixmultiply", "1-thread"), |bench| {
        bench.iter(|| {
            let a: &[f32] = if strided {
                gather(&mut gathered);
                &gathered
            } else {
                &input
            };
            for g in 0..groups {
                // SAFETY: all strides describe in-bounds row-major matrices.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr().add(g * k),
                        cin as isize,
                        1,
                        b_matrix.as_ptr().add(g * n),
                        cout as isize,
                        1,
                        0.0,
                        output.as_mut_ptr().add(g * n),
                        cout as isize,
                        1,
                    )
                }
            }
        })
    });
    group.finish();
}

fn layers(c: &mut Criterion) {
    common::print_peak();
    for layer in suite::parse(suite::PUBLIC_SUITE).unwrap() {
        bench_layer(c, &layer);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = layers
}
criterion_main!(benches);
