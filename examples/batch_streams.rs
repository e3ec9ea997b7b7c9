//! What a batch's activation streams cost: a one-image layer (`LAYER`,
//! default resnet50.s3.reduce) at `IMAGES` images (default 8, the suite's
//! batch of 8), timed as one call over the batch, and as one call per image
//! in four ways: each image's own input and output (what the batch reads and
//! writes), every call reading image 0's input ("input hot": it stays in the
//! caches, L3 and partly L2, from call to call), every call writing image
//! 0's output ("output hot"), and both. In turn in one process, one thread,
//! as shares of the FMA peak measured in the same process.
//!
//! The gap between the first and the last of the per-image ways is what the
//! batch's input and output streams cost beyond the caches; the gap between
//! "input hot" and "output hot" says which stream costs more. The 12x32
//! AVX-512 kernel fetches the next tile's rows ahead where a call's input is
//! more than twice L2 (`A_STREAMED`): the one call over the default layer's
//! batch does, its one-image calls (1.5 MiB each) do not. (The 6x16 AVX2
//! kernel, with `POINTWISE_ISA=avx2`, fetches ahead in both.)
//!
//! `cargo run --release --example batch_streams` (`LAYER=... IMAGES=...`)

use std::time::Duration;

use pointwise::measure::{fill, time_medians_interleaved, zeros};
use pointwise::{suite, Tensor, TensorMut, WeightOrder};

fn main() {
    let name = match std::env::var("LAYER") {
        Err(std::env::VarError::NotPresent) => "resnet50.s3.reduce".to_string(),
        Ok(name) => name,
        Err(e) => {
            eprintln!("LAYER: {e}");
            std::process::exit(2);
        }
    };
    let images = match std::env::var("IMAGES").map(|text| text.parse::<usize>()) {
        Err(std::env::VarError::NotPresent) => 8,
        Ok(Ok(n)) if n >= 1 => n,
        _ => {
            eprintln!("IMAGES takes a positive whole number");
            std::process::exit(2);
        }
    };
    let layers = suite::parse(suite::PUBLIC_SUITE).expect("the public suite parses");
    let Some(layer) = layers.iter().find(|l| l.name == name && l.batch == 1) else {
        eprintln!("LAYER: no layer of one image named {name:?} in the public suite");
        std::process::exit(2);
    };
    let conv = layer.conv;
    let packed = conv
        .pack(&fill(conv.out_channels * conv.in_channels / conv.groups, 1), WeightOrder::OutIn, None)
        .expect("a suite layer packs");
    let (in_desc, out_desc) = (layer.input_desc(), layer.output_desc());
    let (in_len, out_len) = (in_desc.len().unwrap(), out_desc.len().unwrap());
    let (mut batch_in, mut batch_out) = (in_desc, out_desc);
    (batch_in.batch, batch_out.batch) = (images, images);
    let input = fill(in_len * images, 3);
    let mut output = zeros(out_len * images);

    // (reads image 0's input, writes image 0's output); `None`: one call.
    let ways: [(&str, Option<(bool, bool)>); 5] = [
        ("one call over the batch", None),
        ("a call per image", Some((false, false))),
        ("  input hot", Some((true, false))),
        ("  output hot", Some((false, true))),
        ("  both hot", Some((true, true))),
    ];
    let times = time_medians_interleaved(Duration::from_millis(4000), ways.len(), |way| match ways[way].1 {
        None => {
            packed.run(Tensor::new(&input, batch_in), TensorMut::new(&mut output, batch_out)).unwrap();
        }
        Some((input_hot, output_hot)) => {
            for image in 0..images {
                let (a, c) = (if input_hot { 0 } else { image }, if output_hot { 0 } else { image });
                let (a, c) = (&input[a * in_len..][..in_len], &mut output[c * out_len..][..out_len]);
                packed.run(Tensor::new(a, in_desc), TensorMut::new(c, out_desc)).unwrap();
            }
        }
    });
    let peak = pointwise::peak::measure_gflops(packed.isa()).expect("the packed kernel's ISA runs here");
    println!(
        "{name} x {images} ({:.1} MiB in, {:.1} MiB out), {}; peak {peak:.1} GFLOP/s",
        (in_len * images * 4) as f64 / (1 << 20) as f64,
        (out_len * images * 4) as f64 / (1 << 20) as f64,
        packed.kernel().name
    );
    for ((way, _), time) in ways.iter().zip(&times) {
        let gflops = layer.flops() * images as f64 / time.as_secs_f64() / 1e9;
        println!("{way:24} {gflops:6.1} GFLOP/s {:5.1}% of peak", 100.0 * gflops / peak);
    }
}
