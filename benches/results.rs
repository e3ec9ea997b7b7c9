//! Makes the README's results table: every layer of the public suite on one
//! thread, pointwise (default ISA, and AVX2 beside it) against gemm 0.19, matrixmultiply and
//! XNNPACK, measured in one run of this process (XNNPACK from a CSV that
//! `../shared/peers/run` wrote just before; see `scripts/results.sh`).
//!
//! `cargo run --release -p pointwise-benches --example results -- [--xnnpack FILE]`
//! prints Markdown. With `--no-default-features` gemm runs its AVX2 kernels,
//! and with `POINTWISE_ISA=avx2` pointwise its own: the two side by side on
//! the AVX2 machines that the speed targets were first set on.

mod peers;

use std::collections::HashMap;
use std::time::Duration;

use pointwise::measure::{fill, time_medians_interleaved, zeros};
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
    // The peak of the ISA of the first column, as the runner measures it
    // (AVX2's where `POINTWISE_ISA=avx2`), at the start and again at the
    // end, and the better one kept: a noisy neighbour during one
    // measurement once put the peak 2% low and the best layers at 101% of
    // it.
    let peak_at_start = peak::measure_gflops(isa).expect("peak");
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

    // The ISA dispatch picks, and AVX2 beside it when that is another one
    // (the issue this table answers is about AVX2 speed).
    let mut isas = vec![isa];
    if isa != Isa::Avx2 && dispatch::is_available(Isa::Avx2) {
        isas.push(Isa::Avx2);
    }
    let others = &isas[1..];
    let cells = |f: &dyn Fn(Isa) -> String| others.iter().map(|&o| f(o)).collect::<String>();
    // Each layer's row, its share of peak left to fill in at the end.
    let mut rows: Vec<(String, f64, String)> = Vec::new();
    let mut log_gemm = 0.0f64;
    // Per ISA: the sum of log(pointwise / XNNPACK), over the layers XNNPACK ran.
    let (mut log_xnn, mut n_xnn) = (vec![0.0f64; isas.len()], 0usize);
    let layers = suite::parse(suite::PUBLIC_SUITE).unwrap();
    for layer in &layers {
        let conv = layer.conv;
        let k = layer.gemm_shape()[1];
        let weights = fill(conv.out_channels * k, 1);
        let bias = fill(conv.out_channels, 2);
        let input = fill(layer.input_desc().len().unwrap(), 3);
        let mut output = zeros(layer.output_desc().len().unwrap());
        let packed: Vec<_> =
            isas.iter().map(|&i| conv.pack_for(i, &weights, WeightOrder::OutIn, Some(&bias)).unwrap()).collect();
        let mut problem = peers::GemmProblem::new(layer, &input, &weights);
        // Sampled in turn, so that a noisy neighbour slows every library alike:
        // pointwise per ISA, then gemm, then matrixmultiply.
        let times = time_medians_interleaved(BUDGET * (isas.len() as u32 + 2), isas.len() + 2, |variant| {
            if let Some(p) = packed.get(variant) {
                p.run(Tensor::new(&input, layer.input_desc()), TensorMut::new(&mut output, layer.output_desc()))
                    .unwrap();
            } else if variant == isas.len() {
                problem.run_gemm(&mut output);
            } else {
                problem.run_matrixmultiply(&mut output);
            }
        });
        let speeds: Vec<f64> = times.iter().map(|&t| gflops(layer, t)).collect();
        let (ours, gemm, mm) = (speeds[0], speeds[isas.len()], speeds[isas.len() + 1]);
        log_gemm += (ours / gemm).ln();
        let xnn = xnnpack.get(&layer.name).copied();
        if let Some(x) = xnn {
            for (log, speed) in log_xnn.iter_mut().zip(&speeds) {
                *log += (speed / x).ln();
            }
            n_xnn += 1;
        }
        let vs_xnn = |speed: f64| xnn.map_or("n/a".to_string(), |x| format!("{:.2}x", speed / x));
        rows.push((
            format!("| {} | {ours:.1} |", layer.name),
            ours,
            format!(
                "{} {gemm:.1} | {mm:.1} | {} | {:.2}x | {} |{}",
                speeds[1..isas.len()].iter().map(|s| format!(" {s:.1} |")).collect::<String>(),
                xnn.map_or("n/a".to_string(), |x| format!("{x:.1}")),
                ours / gemm,
                vs_xnn(ours),
                speeds[1..isas.len()].iter().map(|&s| format!(" {} |", vs_xnn(s))).collect::<String>(),
            ),
        ));
    }
    let peak = peak_at_start.max(peak::measure_gflops(isa).expect("peak"));
    // Which kernels gemm may pick: its AVX-512 ones only with the
    // `gemm-avx512` feature (benches/Cargo.toml).
    let gemm_kernels = if cfg!(feature = "gemm-avx512") {
        "its AVX-512 kernels where the CPU has them"
    } else {
        "its AVX2 kernels at most (built without the gemm-avx512 feature)"
    };
    println!(
        "Machine: {cpu}, {date}, 1 thread. Measured f32 FMA peak ({isa}, 1 core, the better of a measurement \
         before the layers and one after): {peak:.1} GFLOP/s. pointwise ran {isa}, with the kernels tuned for {} \
         where the tile table has them; gemm 0.19 ran {gemm_kernels}. GFLOP/s (higher is better); ratios are \
         pointwise / peer.\n",
        dispatch::default_tuning().expect("a valid POINTWISE_TUNING").name(),
        isa = isa.name(),
    );
    println!(
        "| layer | pointwise {} | % peak |{} gemm 0.19 | matrixmultiply | XNNPACK | vs gemm | vs XNNPACK |{}",
        isa.name(),
        cells(&|o| format!(" pointwise {} |", o.name())),
        cells(&|o| format!(" {} vs XNNPACK |", o.name()))
    );
    println!("|---|---:|---:|{0}---:|---:|---:|---:|---:|{0}", cells(&|_| "---:|".into()));
    for (head, ours, tail) in rows {
        println!("{head} {:.0}% |{tail}", 100.0 * ours / peak);
    }
    let geo = |log: f64, n: usize| if n == 0 { "n/a".to_string() } else { format!("{:.2}x", (log / n as f64).exp()) };
    println!(
        "| **geometric mean** | | |{} | | | **{}** | **{}** |{}",
        cells(&|_| " |".into()),
        geo(log_gemm, layers.len()),
        geo(log_xnn[0], n_xnn),
        log_xnn[1..].iter().map(|&l| format!(" **{}** |", geo(l, n_xnn))).collect::<String>()
    );
}
