//! Two-thread calls made from outside the rayon pool and from one of its
//! threads, and on pointwise's own workers: a few small and mid-sized layers,
//! timed on one thread, on two rayon threads called from outside the pool, on
//! two called from inside it, and on the caller and one of pointwise's workers
//! (`Threads::Count(2)`, called from outside any pool). Each mode runs its
//! calls back to back, in rounds that take turns.
//!
//! `cargo run --release --example pool_handoff`

use std::time::{Duration, Instant};

use pointwise::measure::{fill, zeros};
use pointwise::suite;
use pointwise::{Residual, RunOptions, Tensor, TensorMut, Threads, WeightOrder};

fn main() {
    // One pool for both modes, so that no second pool's workers compete.
    rayon::ThreadPoolBuilder::new().num_threads(2).build_global().unwrap();
    let names = ["resnet50.s2.first", "mobilenetv2.b5.expand", "mobilenetv2.b7.project", "mobilenetv2.classifier"];
    println!("layer: median us on 1 thread | Rayon(2) from outside the pool | Rayon(2) inside the pool | Count(2)");
    for layer in suite::parse(suite::PUBLIC_SUITE).unwrap().iter().filter(|l| names.contains(&l.name.as_str())) {
        let conv = layer.conv;
        let packed = conv.pack(&fill(conv.out_channels * conv.in_channels / conv.groups, 1), WeightOrder::OutIn, None);
        let packed = packed.unwrap();
        let input = fill(layer.input_desc().len().unwrap(), 3);
        let mut output = zeros(layer.output_desc().len().unwrap());
        let (in_desc, out_desc) = (layer.input_desc(), layer.output_desc());
        let mut samples = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        for _round in 0..10 {
            for (mode, times) in samples.iter_mut().enumerate() {
                let threads = [Threads::Single, Threads::Rayon(2), Threads::Rayon(2), Threads::Count(2)][mode];
                let options = RunOptions { threads, ..Default::default() };
                let mut calls = || {
                    for call in 0..101 {
                        let start = Instant::now();
                        packed
                            .run_with(
                                Tensor::new(&input, in_desc),
                                TensorMut::new(&mut output, out_desc),
                                Residual::None,
                                &options,
                            )
                            .unwrap();
                        // The first call of a round wakes the pool.
                        if call > 0 {
                            times.push(start.elapsed());
                        }
                    }
                };
                if mode == 2 {
                    rayon::scope(|_| calls());
                } else {
                    calls();
                }
            }
        }
        let median = |times: &mut Vec<Duration>| {
            times.sort();
            times[times.len() / 2].as_secs_f64() * 1e6
        };
        let [one, outside, inside, workers] = &mut samples;
        println!(
            "{}: {:.1} | {:.1} | {:.1} | {:.1}",
            layer.name,
            median(one),
            median(outside),
            median(inside),
            median(workers)
        );
    }
}
