//! Each micro-kernel alone, on one tile with its panel in L1: the tile's
//! ceiling. Throughput is in FLOPs (2·MR·NR·k per call).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pointwise::dispatch;
use pointwise::kernels::{Strides, TileArgs, KERNELS};
use std::time::Duration;

fn ukernels(c: &mut Criterion) {
    common::print_peak();
    let isas = common::isas_to_bench();
    // A panel of 16 KiB: half of L1d on current x86 and Arm cores.
    let panel_floats = 4096;
    for kernel in KERNELS.iter().filter(|k| isas.contains(&k.isa)) {
        let (mr, nr) = (kernel.mr, kernel.nr);
        let k = panel_floats / nr;
        let a = common::fill(mr * k, 1);
        let a_rows: Vec<*const f32> = (0..mr).map(|i| a[i * k..].as_ptr()).collect();
        let panel = aligned_vec::AVec::<f32, aligned_vec::ConstAlign<64>>::from_slice(0, &common::fill(k * nr, 2));
        let mut c_buf = vec![0.0f32; mr * nr];
        let c_base = c_buf.as_mut_ptr();
        // SAFETY: row i of c_buf starts at i·nr.
        let c_rows: Vec<*mut f32> = (0..mr).map(|i| unsafe { c_base.add(i * nr) }).collect();
        let args = TileArgs {
            m: mr,
            n: nr,
            k,
            a_rows: a_rows.as_ptr(),
            a_k: Strides::CONTIGUOUS,
            b_panel: panel.as_ptr(),
            b_panel_stride: 0, // one panel: n <= NR
            bias: core::ptr::null(),
            c_rows: c_rows.as_ptr(),
            c_cols: Strides::CONTIGUOUS,
            r_rows: core::ptr::null(),
            r_cols: Strides::CONTIGUOUS,
            clamp_min: f32::NEG_INFINITY,
            clamp_max: f32::INFINITY,
            accumulate: 0,
            a_cold: 0,
            b_next: core::ptr::null(),
            b_next_len: 0,
        };
        assert!(dispatch::is_available(kernel.isa));
        let mut group = c.benchmark_group("ukernel");
        group.throughput(Throughput::Elements((2 * mr * nr * k) as u64));
        group.bench_function(BenchmarkId::new(kernel.name, format!("k{k}")), |b| {
            // SAFETY: the buffers satisfy the ABI contract and the ISA is available.
            b.iter(|| unsafe { (kernel.run)(std::hint::black_box(&args)) })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = ukernels
}
criterion_main!(benches);
