//! What the fused epilogue costs: the public suite's large layers that take a
//! residual in their networks (ResNet-50's expand layers, MobileNetV2's
//! b12.project) and resnet50.s2.reduce, each run plain (no bias, no
//! activation), with bias and ReLU, with bias, residual and ReLU (a residual
//! tensor of its own), and the same with the residual in the output
//! (`Residual::InOutput`), sampled in turn in one process
//! (`time_medians_interleaved`), on the ISA dispatch picks (or
//! `POINTWISE_ISA`), one thread.
//!
//! `cargo run --release --example epilogue_cost`

use std::time::Duration;

use pointwise::measure::{time_medians_interleaved, LayerData};
use pointwise::suite;
use pointwise::{Activation, Tensor, TensorMut, WeightOrder};

fn main() {
    let layers = suite::parse(suite::PUBLIC_SUITE).unwrap();
    let names = [
        "resnet50.s2.reduce",
        "resnet50.s2.expand",
        "resnet50.s3.expand",
        "resnet50.s4.expand",
        "resnet50.s5.expand",
        "mobilenetv2.b12.project",
    ];
    println!(
        "layer, kernel: plain us | bias+relu us (cost) | bias+residual+relu us (cost) | the same, residual in the \
         output, us (cost)"
    );
    for layer in layers.iter().filter(|l| names.contains(&l.name.as_str())) {
        let conv = layer.conv;
        let LayerData { weights, bias, input, residual, mut output } = LayerData::new(layer);
        let plain = conv.pack(&weights, WeightOrder::OutIn, None).unwrap();
        let relu = conv.with_activation(Activation::Relu).pack(&weights, WeightOrder::OutIn, Some(&bias)).unwrap();
        let (in_desc, out_desc) = (layer.input_desc(), layer.output_desc());
        // The residual in the output: each call adds to what the call before
        // left there (values grow by a few units a call, or fall to 0 under
        // the ReLU; never subnormal), which changes nothing of the time.
        let times = time_medians_interleaved(Duration::from_millis(1500), 4, |variant| {
            let (input, output) = (Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc));
            match variant {
                0 => plain.run(input, output),
                1 => relu.run(input, output),
                2 => relu.run_residual(input, output, Tensor::new(&residual, out_desc)),
                _ => relu.run_residual_in_output(input, output),
            }
            .unwrap();
        });
        let us = |t: Duration| t.as_secs_f64() * 1e6;
        let cost = |t: Duration| 100.0 * (us(t) / us(times[0]) - 1.0);
        println!(
            "{}, {}: {:.1} | {:.1} ({:+.1}%) | {:.1} ({:+.1}%) | {:.1} ({:+.1}%)",
            layer.name,
            plain.kernel().name,
            us(times[0]),
            us(times[1]),
            cost(times[1]),
            us(times[2]),
            cost(times[2]),
            us(times[3]),
            cost(times[3])
        );
    }
}
