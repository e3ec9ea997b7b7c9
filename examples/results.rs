//! Makes the README's results table: every layer of the public suite on one
//! thread, pointwise (default ISA, and AVX2 beside it) against gemm 0.19, matrixmultiply and
//! XNNPACK, measured in one run of this process (XNNPACK from a CSV that
//! `../shared/peers/run` wrote just before; see `scripts/results.sh`).
//!
//! `cargo run --release --example results -- [--xnnpack FILE]` prints Markdown.

#[path = "../benches/peers.rs"]
mod peers;

use std::collections::HashMap;
use std::time::Duration;

use pointwise::measure::{fill, time_medians_interleaved};
use pointwise::suite::{self, Layer};
use pointwise::{dispatch, peak, Isa, Tensor, TensorMut, WeightOrder};

/// Seconds of timing per layer and library.
const BUDGET: Duration = Duration::from_millis(300);

fn gflops(layer: &Layer, time: Duration) -> f64 {
    layer.flops() / time.as_secs_f64() / 1e9
}

/// XNNPACK GFLOP/s per layer from the peers CSV (`layer,peer,threads,gflops,...`).
fn read_xnnpack(path: &str) -> HashMap<String, f64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() > 3 && f[1] == "tflite_xnnpack" && f[2] == "1" {
                Some((f[0].to_string(), f[3].parse().ok()?))
            } else {
                None
            }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let xnnpack = args.iter().position(|a| a == "--xnnpack").map(|i| read_xnnpack(&args[i + 1])).unwrap_or_default();
    let isa = dispatch::default_isa().expect("a usable ISA");
    let peak_isa = dispatch::detected_isa();
    let peak = peak::measure_gflops(peak_isa).expect("peak");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap().trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let date = std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    println!(
        "Machine: {cpu}, {date}, 1 thread. Measured f32 FMA peak ({}, 1 core): {peak:.1} GFLOP/s. \
         pointwise ran {}. GFLOP/s (higher is better); ratios are pointwise / peer.\n",
        peak_isa.name(),
        isa.name()
    );
    // The ISA dispatch picks, and AVX2 beside it when that is another one
    // (the issue this table answers is about AVX2 speed).
    let second = (isa != Isa::Avx2 && dispatch::is_available(Isa::Avx2)).then_some(Isa::Avx2);
    let second_header = second.map_or(String::new(), |s| format!(" pointwise {} |", s.name()));
    let second_ratio = second.map_or(String::new(), |s| format!(" {} vs XNNPACK |", s.name()));
    let second_rule = if second.is_some() { "---:|" } else { "" };
    println!(
        "| layer | pointwise {} | % peak |{second_header} gemm 0.19 | matrixmultiply | XNNPACK | vs gemm | vs XNNPACK |{second_ratio}",
        isa.name()
    );
    println!("|---|---:|---:|{second_rule}---:|---:|---:|---:|---:|{second_rule}");
    let (mut log_gemm, mut log_xnn, mut log_second, mut n_xnn) = (0.0f64, 0.0f64, 0.0f64, 0usize);
    let layers = suite::parse(suite::PUBLIC_SUITE).unwrap();
    for layer in &layers {
        let conv = layer.conv;
        let k = layer.gemm_shape()[1];
        let weights = fill(conv.out_channels * k, 1);
        let bias = fill(conv.out_channels, 2);
        let input = fill(layer.input_desc().len().unwrap(), 3);
        let mut output = vec![0.0f32; layer.output_desc().len().unwrap()];
        let packed = conv.pack_for(isa, &weights, WeightOrder::OutIn, Some(&bias)).unwrap();
        let packed_second = second.map(|s| conv.pack_for(s, &weights, WeightOrder::OutIn, Some(&bias)).unwrap());
        let mut problem = peers::GemmProblem::new(layer, &input, &weights);
        // Sampled in turn, so that a noisy neighbour slows every library alike.
        let times = time_medians_interleaved(BUDGET * 4, 4, |variant| match variant {
            0 | 1 => {
                let p = if variant == 0 { Some(&packed) } else { packed_second.as_ref() };
                if let Some(p) = p {
                    p.run(Tensor::new(&input, layer.input_desc()), TensorMut::new(&mut output, layer.output_desc()))
                        .unwrap();
                }
            }
            2 => problem.run_gemm(&mut output),
            _ => problem.run_matrixmultiply(&mut output),
        });
        let (ours, ours_second, gemm, mm) =
            (gflops(layer, times[0]), gflops(layer, times[1]), gflops(layer, times[2]), gflops(layer, times[3]));
        log_gemm += (ours / gemm).ln();
        let xnn = xnnpack.get(&layer.name).copied();
        let (xnn_cell, xnn_ratio, second_ratio_cell) = match xnn {
            Some(x) => {
                log_xnn += (ours / x).ln();
                log_second += (ours_second / x).ln();
                n_xnn += 1;
                (format!("{x:.1}"), format!("{:.2}x", ours / x), format!(" {:.2}x |", ours_second / x))
            }
            None => ("n/a".into(), "n/a".into(), " n/a |".into()),
        };
        let second_cell = if second.is_some() { format!(" {ours_second:.1} |") } else { String::new() };
        let second_ratio_cell = if second.is_some() { second_ratio_cell } else { String::new() };
        println!(
            "| {} | {ours:.1} | {:.0}% |{second_cell} {gemm:.1} | {mm:.1} | {xnn_cell} | {:.2}x | {xnn_ratio} |{second_ratio_cell}",
            layer.name,
            100.0 * ours / peak,
            ours / gemm,
        );
    }
    let geo = |log: f64, n: usize| if n == 0 { "n/a".to_string() } else { format!("{:.2}x", (log / n as f64).exp()) };
    let (blank, second_geo) =
        if second.is_some() { (" |", format!(" **{}** |", geo(log_second, n_xnn))) } else { ("", String::new()) };
    println!(
        "| **geometric mean** | | |{blank} | | | **{}** | **{}** |{second_geo}",
        geo(log_gemm, layers.len()),
        geo(log_xnn, n_xnn)
    );
}
