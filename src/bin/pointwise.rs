//! `pointwise`: runs real network layers through the library and reports speed
//! and error.
//!
//! ```text
//! cargo run --release -- [--layers FILE] [--isa NAME] [--threads N [--workers]] [--csv]
//! ```
//!
//! For each layer: the kernel that ran, the median time, GFLOP/s, the share of
//! the single-core f32 FMA peak of the ISA that ran, measured at start-up (the
//! header gives the CPU's best beside it when another ISA was forced), and the
//! error against the naive f64 reference (`pointwise::reference`). With
//! `--threads N`, the N-thread figures too, the speed-up, and `cores`: the
//! speed-up of a register-only FMA burst timed in the same rounds, which shows
//! whether the machine really gave N cores meanwhile. Exits non-zero when a
//! layer fails or its error exceeds the bound `1e-5 · sqrt(K)`.

use std::process::ExitCode;
use std::time::Duration;

use pointwise::measure::{self, fill};
use pointwise::reference;
use pointwise::suite::{self, Layer};
use pointwise::{
    dispatch, peak, Isa, Layout, Residual, RunOptions, Tensor, TensorDesc, TensorMut, Threads, WeightOrder,
};

/// `print!` and `println!` that end the program when stdout is closed early
/// (`pointwise | head`), with the status a SIGPIPE gives in a shell, instead
/// of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if write!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(141);
        }
    }};
}
macro_rules! outln {
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n");
    }};
}

struct Options {
    layers: Option<String>,
    isa: Option<Isa>,
    csv: bool,
    threads: usize,
    /// N-thread calls on pointwise's own workers, not on the rayon pool.
    workers: bool,
    layout: Layout,
}

const USAGE: &str = "usage: pointwise [--layers FILE] [--isa scalar|avx2|avx512|neon] [--threads N [--workers]]
                 [--layout nhwc|nchw|nchw8c|nchw16c] [--csv]

Runs each layer (default: the embedded public suite) on 1 thread, and on N
threads too when --threads N > 1, and reports median time, GFLOP/s, share of
the measured single-core FMA peak of the ISA that runs, and the error against
the naive f64 reference.
With N > 1, `cores` is the N-thread speed-up of an FMA burst timed in the same
rounds: how many cores the machine gave while the layer was timed. The N-thread
calls run on a rayon pool of N threads (Threads::Rayon), or with --workers on
the caller and N - 1 of pointwise's own workers (Threads::Count).";

fn parse_args() -> Result<Options, String> {
    let mut options = Options { layers: None, isa: None, csv: false, threads: 1, workers: false, layout: Layout::Nhwc };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--layers" => options.layers = Some(args.next().ok_or("--layers needs a file")?),
            "--isa" => {
                let name = args.next().ok_or("--isa needs a name")?;
                options.isa = Some(dispatch::parse_isa(&name).map_err(|e| e.to_string())?);
            }
            "--csv" => options.csv = true,
            "--workers" => options.workers = true,
            "--layout" => {
                options.layout = match args.next().as_deref() {
                    Some("nhwc") => Layout::Nhwc,
                    Some("nchw") => Layout::Nchw,
                    Some("nchw8c") => Layout::Nchwc(8),
                    Some("nchw16c") => Layout::Nchwc(16),
                    _ => return Err(format!("--layout needs nhwc, nchw, nchw8c or nchw16c\n{USAGE}")),
                }
            }
            "--threads" => {
                let n = args.next().ok_or("--threads needs a number")?;
                options.threads = n.parse().ok().filter(|&n| n >= 1).ok_or("--threads needs a number >= 1")?;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// FMA rounds of one burst of the machine check: about 60 µs at 117 GFLOP/s
/// (AVX-512, 12 chains).
const BURST_ITERATIONS: usize = 20_000;

/// The threads that the N-thread timings run on.
///
/// They run on a worker of a rayon pool of N threads, as an engine that owns
/// a pool calls the library; `examples/pool_handoff.rs` compares calls from
/// outside any pool.
struct Pool {
    #[cfg(feature = "rayon")]
    pool: rayon::ThreadPool,
}

impl Pool {
    fn new(threads: usize) -> Result<Pool, String> {
        #[cfg(feature = "rayon")]
        {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
            Ok(Pool { pool: pool.map_err(|e| format!("cannot start {threads} threads: {e}"))? })
        }
        #[cfg(not(feature = "rayon"))]
        {
            let _ = threads;
            Ok(Pool {})
        }
    }

    /// Runs `op` once on each of `n` threads of the pool, at the same time;
    /// called from inside [`Pool::install`].
    fn on_each(&self, n: usize, op: impl Fn() + Sync) {
        #[cfg(feature = "rayon")]
        {
            use rayon::prelude::*;
            (0..n).into_par_iter().with_max_len(1).for_each(|_| op());
        }
        #[cfg(not(feature = "rayon"))]
        (0..n).for_each(|_| op());
    }

    fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        #[cfg(feature = "rayon")]
        return self.pool.install(op);
        #[cfg(not(feature = "rayon"))]
        op()
    }
}

struct Measured {
    /// Median time per thread count asked for.
    medians: Vec<(usize, Duration)>,
    /// GB/s of a plain read of the layer's input, weights (unpacked) and
    /// output, timed in the same rounds (when asked for: bandwidth-bound
    /// layers).
    read_gbps: Option<f64>,
    /// How many cores a register-only FMA burst found, timed in the same
    /// rounds (with several thread counts).
    machine_scaling: Option<f64>,
    max_abs_err: f32,
    max_rel_err: f32,
    kernel: &'static str,
    isa: Isa,
}

fn measure(
    layer: &Layer,
    isa: Isa,
    options: &Options,
    thread_counts: &[usize],
    pool: &Pool,
    time_read: bool,
) -> Result<Measured, String> {
    let layout = options.layout;
    let conv = layer.conv;
    let k = conv.in_channels / conv.groups;
    let weights = fill(conv.out_channels * k, 1);
    let bias = fill(conv.out_channels, 2);
    let in_desc = TensorDesc { layout, ..layer.input_desc() };
    let out_desc = TensorDesc { layout, ..layer.output_desc() };
    let input = fill(in_desc.len().map_err(|e| e.to_string())?, 3);
    let out_len = out_desc.len().map_err(|e| e.to_string())?;
    let packed =
        conv.pack_for(isa, &weights, WeightOrder::OutIn, Some(&bias)).map_err(|e| format!("{}: {e}", layer.name))?;

    let mut output = measure::zeros(out_len);
    let info =
        packed.run(Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc)).map_err(|e| e.to_string())?;
    // Against the f64 reference rather than the scalar kernel, so that a run
    // forced to the scalar kernel is checked too (against itself it would
    // report 0 whatever it computed).
    let expected = reference::conv1x1_f64(
        &conv,
        &weights,
        WeightOrder::OutIn,
        Some(&bias),
        &input,
        &in_desc,
        None,
        &vec![0.0; out_len],
        &out_desc,
    );
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::from(f32::MIN_POSITIVE));
    let max_abs_err = output.iter().zip(&expected).fold(0.0f64, |m, (&a, b)| m.max((f64::from(a) - b).abs()));

    // The thread counts are timed in turn, in rounds (`time_medians_interleaved`),
    // all on the pool: on this project's virtual machine one thread's speed
    // drifts by up to 1.4x over seconds as other tenants come and go, so two
    // medians taken one after the other gave "speed-ups" from 0.7x to 2.2x.
    // With several thread counts, the same rounds also time a register-only
    // FMA burst on one thread and on all of them at once: its speed-up is how
    // many cores the machine gave during this layer's rounds.
    // With --workers the calls still come from a thread of the pool (any
    // thread may call), whose other threads then sleep.
    let many = if options.workers { Threads::Count } else { Threads::Rayon };
    let options: Vec<RunOptions> = thread_counts
        .iter()
        .map(|&n| RunOptions { threads: if n == 1 { Threads::Single } else { many(n) }, ..Default::default() })
        .collect();
    let most = *thread_counts.last().unwrap_or(&1);
    let peak_isa = dispatch::detected_isa();
    let burst = || {
        std::hint::black_box(peak::fma_burst(peak_isa, BURST_ITERATIONS).ok());
    };
    // A bandwidth-bound layer's roofline takes the rate of a plain read of
    // its own input, weights and output, timed in the same rounds: as many
    // bytes, from wherever the other tenants leave them at that moment. (The
    // weights read are the unpacked ones, as large as the packed.)
    let bursts = if most > 1 { 2 } else { 0 };
    let variants = options.len() + bursts + usize::from(time_read);
    let budget = Duration::from_millis(200) * variants as u32;
    let times = pool.install(|| {
        measure::time_medians_interleaved(budget, variants, |v| match v.checked_sub(options.len()) {
            None => {
                let _ = packed.run_with(
                    Tensor::new(&input, in_desc),
                    TensorMut::new(&mut output, out_desc),
                    Residual::None,
                    &options[v],
                );
            }
            Some(b) if b == bursts => {
                std::hint::black_box(peak::read_sum(&input) + peak::read_sum(&weights) + peak::read_sum(&output));
            }
            Some(0) => burst(),
            Some(_) => pool.on_each(most, burst),
        })
    });
    let medians = thread_counts.iter().copied().zip(times.iter().copied()).collect();
    let after_runs = &times[options.len()..];
    let machine_scaling = (most > 1).then(|| most as f64 * after_runs[0].as_secs_f64() / after_runs[1].as_secs_f64());
    let read_bytes = 4 * (input.len() + weights.len() + output.len());
    let read_gbps = time_read.then(|| read_bytes as f64 / after_runs[bursts].as_secs_f64() / 1e9);
    Ok(Measured {
        medians,
        read_gbps,
        machine_scaling,
        max_abs_err: max_abs_err as f32,
        max_rel_err: (max_abs_err / scale) as f32,
        kernel: info.kernel,
        isa: info.isa,
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let text = match &options.layers {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("cannot read {path}: {e}");
                return ExitCode::from(2);
            }
        },
        None => suite::PUBLIC_SUITE.to_string(),
    };
    let layers = match suite::parse(&text) {
        Ok(layers) => layers,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (isa, tuning) = match options.isa.map(dispatch::check).unwrap_or_else(dispatch::default_isa).and_then(|isa| {
        let tuning = dispatch::default_tuning()?;
        Ok((isa, tuning))
    }) {
        Ok(choice) => choice,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The share of peak is against the peak of the ISA that runs: with
    // `--isa avx2` on a CPU with two 512-bit FMA units, half the CPU's best,
    // which the header gives beside it.
    let peak = peak::measure_gflops(isa).unwrap_or(f64::NAN);
    let best_isa = dispatch::detected_isa();
    let best_peak = if best_isa == isa { None } else { peak::measure_gflops(best_isa).ok() };
    // The kernel column holds the longest kernel name.
    let kernel_width = pointwise::kernels::KERNELS.iter().map(|k| k.name.len()).max().unwrap_or(0);
    let bandwidth = peak::Bandwidth::measure();

    let thread_counts: Vec<usize> = if options.threads > 1 { vec![1, options.threads] } else { vec![1] };
    let pool = match Pool::new(options.threads) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if options.csv {
        outln!(
            "layer,isa,kernel,threads,median_us,gflops,peak_pct,max_abs_err,max_rel_err,layout,roofline_gflops,machine_cores"
        );
    } else {
        outln!(
            "pointwise: {} layers, ISA {}, tuning {}, layout {}, threads {:?}{}; measured f32 FMA peak ({}, 1 core): \
             {:.1} GFLOP/s{}",
            layers.len(),
            isa.name(),
            tuning.name(),
            layout_name(options.layout),
            thread_counts,
            match (options.threads, options.workers) {
                (1, _) => "",
                (_, false) => " (rayon pool)",
                (_, true) => " (pointwise's workers)",
            },
            isa.name(),
            peak,
            best_peak.map_or(String::new(), |best| format!(" (this CPU's best, {}: {best:.1})", best_isa.name()))
        );
        outln!(
            "measured read bandwidth (1 core): L2 {:.0} GB/s, L3 {:.0} GB/s, memory {:.0} GB/s; \
             roof = min(peak, FLOPs / (bytes of input + weights + output at the read rate of the tier they fit in, \
             or, for bandwidth-bound layers, of a read of the layer's own buffers timed in the same rounds))",
            bandwidth.l2,
            bandwidth.l3,
            bandwidth.dram
        );
        out!("{:<28} {:<kernel_width$}", "layer", "kernel");
        for n in &thread_counts {
            out!(" {:>9} {:>7} {:>6}", format!("us/{n}t"), format!("GF/{n}t"), "%peak");
        }
        if thread_counts.len() > 1 {
            out!(" {:>7} {:>6}", "speedup", "cores");
        }
        outln!(" {:>7} {:>6} {:>9} {:>9}", "roof", "%roof", "max_abs", "max_rel");
    }
    let mut failures = 0;
    for layer in &layers {
        let by_tier = roofline(layer, peak, bandwidth.for_working_set(layer_bytes(layer)));
        match measure(layer, isa, &options, &thread_counts, &pool, by_tier < peak) {
            Ok(m) => {
                let bound = 1e-5 * (layer.gemm_shape()[1] as f32).sqrt();
                let verdict = if m.max_rel_err <= bound { "" } else { "  ERROR ABOVE BOUND" };
                failures += (!verdict.is_empty()) as usize;
                let rate = |d: &Duration| layer.flops() / d.as_secs_f64() / 1e9;
                let roof = m.read_gbps.map_or(by_tier, |gbps| roofline(layer, peak, gbps));
                if options.csv {
                    for (n, median) in &m.medians {
                        outln!(
                            "{},{},{},{n},{:.2},{:.2},{:.1},{:e},{:e},{},{roof:.1},{:.2}",
                            layer.name,
                            m.isa.name(),
                            m.kernel,
                            median.as_secs_f64() * 1e6,
                            rate(median),
                            100.0 * rate(median) / peak,
                            m.max_abs_err,
                            m.max_rel_err,
                            layout_name(options.layout),
                            if *n > 1 { m.machine_scaling.unwrap_or(1.0) } else { 1.0 },
                        );
                    }
                } else {
                    out!("{:<28} {:<kernel_width$}", layer.name, m.kernel);
                    for (_, median) in &m.medians {
                        let gflops = rate(median);
                        out!(" {:>9.1} {gflops:>7.1} {:>5.1}%", median.as_secs_f64() * 1e6, 100.0 * gflops / peak);
                    }
                    if let [(_, one), (_, many)] = m.medians[..] {
                        out!(
                            " {:>6.2}x {:>6.2}",
                            one.as_secs_f64() / many.as_secs_f64(),
                            m.machine_scaling.unwrap_or(1.0)
                        );
                    }
                    let pct_roof = 100.0 * rate(&m.medians[0].1) / roof;
                    outln!(" {roof:>7.1} {pct_roof:>5.1}% {:>9.2e} {:>9.2e}{verdict}", m.max_abs_err, m.max_rel_err);
                }
            }
            Err(e) => {
                failures += 1;
                if options.csv {
                    outln!("{},{},unsupported,1,,,,,,{},,", layer.name, isa.name(), layout_name(options.layout));
                }
                eprintln!("{}: unsupported: {e}", layer.name);
            }
        }
    }
    if failures > 0 {
        eprintln!("{failures} layer(s) failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Nhwc => "nhwc",
        Layout::Nchw => "nchw",
        Layout::Nchwc(8) => "nchw8c",
        Layout::Nchwc(_) => "nchw16c",
    }
}

/// Bytes a layer reads or writes once each: input, weights and output.
fn layer_bytes(layer: &Layer) -> f64 {
    let [m, k, n] = layer.gemm_shape();
    let groups = layer.conv.groups;
    4.0 * (m * k * groups + k * n * groups + m * n * groups) as f64
}

/// The layer's roofline in GFLOP/s: the FMA peak, or the rate at which its
/// bytes ([`layer_bytes`]) can be read at `gbps`, whichever is lower.
/// Bandwidth-bound layers (M = 1, tiny Cout) are judged against the second.
///
/// The read rates of the cache tiers say which layers those are. For them,
/// `gbps` is then the rate of a plain read of the layer's own input, weights
/// and output, timed in the same rounds as the layer (see `measure`): the tiers' sizes stand
/// for ranges, a shared L3 does not hold all it could, and the other
/// tenants' use of it changes from one second to the next. On Zen 4 (32 MiB
/// of L3, shared), a read of unet.head's 17 MB ran at 63-68 GB/s measured
/// apart from the layer, against 81-98 for the 8 MiB that stands for L3, and
/// the layer itself read faster than the first in some runs. The read covers
/// the buffers as laid out (with NCHWc padding, or the pixels a stride
/// skips), which may be more bytes than [`layer_bytes`] counts; its rate is
/// applied to the latter.
fn roofline(layer: &Layer, peak: f64, gbps: f64) -> f64 {
    peak.min(layer.flops() / (layer_bytes(layer) / (gbps * 1e9)) / 1e9)
}
