//! What the output's alignment costs: every layer of the public suite (or
//! `LAYER`) run with its output starting on a 64-byte boundary and 16 bytes
//! past one (where a large `Vec<f32>` starts), in turn in one process, one
//! thread, with the kernels the dispatch picks (`POINTWISE_ISA` to force
//! others). The input stays aligned. See README, "Buffers".
//!
//! `cargo run --release --example output_alignment` (`LAYER=...`)

use std::time::Duration;

use pointwise::measure::{fill, time_medians_interleaved, zeros};
use pointwise::{suite, Tensor, TensorMut, WeightOrder};

/// Floats past the 64-byte boundary for the unaligned output: 16 bytes.
const MISALIGNED_FLOATS: usize = 4;

fn main() {
    let only = std::env::var("LAYER").ok();
    let layers = suite::parse(suite::PUBLIC_SUITE).expect("the public suite parses");
    let chosen: Vec<_> = layers.iter().filter(|l| only.as_ref().is_none_or(|name| &l.name == name)).collect();
    if chosen.is_empty() {
        eprintln!("LAYER: no layer named {:?} in the public suite", only.unwrap_or_default());
        std::process::exit(2);
    }
    println!("{:28} {:24} {:>10} {:>10} {:>7}", "layer", "kernel", "aligned", "+16 B", "ratio");
    for layer in chosen {
        let conv = layer.conv;
        let packed = conv
            .pack(&fill(conv.out_channels * conv.in_channels / conv.groups, 1), WeightOrder::OutIn, None)
            .expect("a suite layer packs");
        let (in_desc, out_desc) = (layer.input_desc(), layer.output_desc());
        let input = fill(in_desc.len().expect("a suite layer's size fits"), 3);
        let out_len = out_desc.len().expect("a suite layer's size fits");
        // One buffer, 64-byte aligned, holds both outputs: at 0 and at 4 floats.
        let mut output = zeros(out_len + MISALIGNED_FLOATS);
        let times = time_medians_interleaved(Duration::from_millis(1000), 2, |variant| {
            let at = if variant == 0 { 0 } else { MISALIGNED_FLOATS };
            let c = &mut output[at..at + out_len];
            packed.run(Tensor::new(&input, in_desc), TensorMut::new(c, out_desc)).expect("a suite layer runs");
        });
        let gflops: Vec<f64> = times.iter().map(|t| layer.flops() / t.as_secs_f64() / 1e9).collect();
        println!(
            "{:28} {:24} {:>6.1} GF {:>6.1} GF {:>6.3}x",
            layer.name,
            packed.kernel().name,
            gflops[0],
            gflops[1],
            gflops[0] / gflops[1]
        );
    }
}
