//! Two kernels of the tile table side by side on every layer of the public
//! suite (or those named in `LAYERS=a,b,...`), one thread: each layer packed
//! for both (`Conv1x1::pack_for_kernel`), plain and with bias, residual and
//! ReLU, the four sampled in turn in one process (`time_medians_interleaved`)
//! so that a noisy neighbour slows them alike. Prints each kernel's GFLOP/s
//! and the second's speed over the first's, and says where their outputs
//! differ in any bit (a tuned kernel's and its generic kernel's must not).
//!
//! `cargo run --release --example kernels_side_by_side -- f32_pw_12x32__avx512f f32_pw_12x32__avx512f_zen4`

use std::time::Duration;

use pointwise::measure::{time_medians_interleaved, LayerData};
use pointwise::suite;
use pointwise::{Activation, Tensor, TensorMut, WeightOrder};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [first, second] = args.as_slice() else {
        eprintln!("usage: kernels_side_by_side KERNEL KERNEL (names as the CLI prints them)");
        std::process::exit(2);
    };
    let only: Option<Vec<String>> = std::env::var("LAYERS").ok().map(|l| l.split(',').map(String::from).collect());
    let layers = suite::parse(suite::PUBLIC_SUITE).unwrap();
    if let Some(name) = only.iter().flatten().find(|name| !layers.iter().any(|l| &l.name == *name)) {
        eprintln!("LAYERS: no layer {name:?} in the suite");
        std::process::exit(2);
    }
    println!("layer: {first} GF/s | {second} GF/s (speed-up); with bias + residual + ReLU: the same");
    for layer in layers.iter().filter(|l| only.as_ref().is_none_or(|names| names.contains(&l.name))) {
        let conv = layer.conv;
        let LayerData { weights, bias, input, residual, mut output } = LayerData::new(layer);
        let (in_desc, out_desc) = (layer.input_desc(), layer.output_desc());
        let pack = |name: &str, fused: bool| {
            let conv = if fused { conv.with_activation(Activation::Relu) } else { conv };
            conv.pack_for_kernel(name, &weights, WeightOrder::OutIn, fused.then_some(&bias[..])).unwrap_or_else(|e| {
                eprintln!("{}: {e}", layer.name);
                std::process::exit(2)
            })
        };
        let packed = [pack(first, false), pack(second, false), pack(first, true), pack(second, true)];

        let mut outputs = Vec::new();
        for (i, p) in packed.iter().enumerate() {
            let (x, y) = (Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc));
            if i < 2 { p.run(x, y) } else { p.run_residual(x, y, Tensor::new(&residual, out_desc)) }.unwrap();
            outputs.push(output.clone());
        }
        let same_bits = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        let same_bits = same_bits(&outputs[0], &outputs[1]) && same_bits(&outputs[2], &outputs[3]);

        let times = time_medians_interleaved(Duration::from_millis(1500), packed.len(), |variant| {
            let (input, output) = (Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc));
            if variant < 2 {
                packed[variant].run(input, output)
            } else {
                packed[variant].run_residual(input, output, Tensor::new(&residual, out_desc))
            }
            .unwrap();
        });
        let gf = |t: Duration| layer.flops() / t.as_secs_f64() / 1e9;
        let gain = |a: Duration, b: Duration| 100.0 * (a.as_secs_f64() / b.as_secs_f64() - 1.0);
        println!(
            "{:28} {:6.1} | {:6.1} ({:+5.1}%); fused {:6.1} | {:6.1} ({:+5.1}%){}",
            layer.name,
            gf(times[0]),
            gf(times[1]),
            gain(times[0], times[1]),
            gf(times[2]),
            gf(times[3]),
            gain(times[2], times[3]),
            if same_bits { "" } else { "  (outputs differ)" }
        );
    }
}
