//! Measurement helpers shared by the command-line runner, the benches and the
//! examples: deterministic data in cache-line-aligned buffers, and a robust
//! median timer.

use std::time::{Duration, Instant};

use aligned_vec::{AVec, ConstAlign};

use crate::suite::Layer;

/// f32 values that start on a 64-byte boundary (a cache line): how the
/// measurements hold tensors, as inference engines do (TensorFlow Lite's
/// arena, which the XNNPACK figures come from, aligns its tensors to 64
/// bytes). A `Vec<f32>` of a large tensor starts 16 bytes past a page
/// boundary (glibc), and every 64-byte store of the AVX-512 kernels then
/// spans two lines: on an Intel Xeon (Emerald Rapids, one thread) that cost
/// mobilenetv2.b2.expand 27% of its speed (148 GFLOP/s aligned, 108 at 16
/// bytes past), b3.expand 10% and the ResNet-50 stage-2 expand layers 5%
/// (see README, "Buffers").
pub type Buffer = AVec<f32, ConstAlign<64>>;

/// `len` zeros in a [`Buffer`].
pub fn zeros(len: usize) -> Buffer {
    AVec::from_iter(0, core::iter::repeat_n(0.0, len))
}

/// `len` deterministic values in `[-1, 1)` (xorshift, seeded), in a
/// [`Buffer`].
pub fn fill(len: usize, seed: u64) -> Buffer {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    AVec::from_iter(
        0,
        (0..len).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }),
    )
}

/// A suite layer's data in NHWC, filled with [`fill`] (weights seed 1, bias 2,
/// input 3, residual 4), and an output buffer: what the examples time.
pub struct LayerData {
    /// `out_channels · in_channels / groups` weights, out-in order.
    pub weights: Buffer,
    /// One bias per output channel.
    pub bias: Buffer,
    /// The layer's input ([`Layer::input_desc`]).
    pub input: Buffer,
    /// A residual of the output's shape ([`Layer::output_desc`]).
    pub residual: Buffer,
    /// Zeros, of the output's shape.
    pub output: Buffer,
}

impl LayerData {
    /// The data of `layer`.
    ///
    /// # Panics
    /// When the layer's tensors overflow `usize` (no layer of a parsed
    /// suite does).
    pub fn new(layer: &Layer) -> Self {
        let conv = layer.conv;
        let out_len = layer.output_desc().len().expect("a parsed layer's output size fits");
        LayerData {
            weights: fill(conv.out_channels * (conv.in_channels / conv.groups), 1),
            bias: fill(conv.out_channels, 2),
            input: fill(layer.input_desc().len().expect("a parsed layer's input size fits"), 3),
            residual: fill(out_len, 4),
            output: zeros(out_len),
        }
    }
}

/// Median time of one `call`, over samples lasting about `budget` in all.
///
/// Each sample batches enough calls to last at least 20 µs, so the timer's
/// resolution does not dominate tiny layers; between 5 and 500 samples.
pub fn time_median(budget: Duration, mut call: impl FnMut()) -> Duration {
    time_medians_interleaved(budget, 1, |_| call())[0]
}

/// Median times of `variants` versions of a call (`call(v)` runs version
/// `v`), sampled in turn: a round of samples of each version, then again,
/// about ten rounds within `budget`, each in a pseudo-random order (a fixed
/// sequence of shuffles). On a shared machine a noisy neighbour
/// then slows every version alike, so the ratio of two medians means
/// something (the results table compares libraries this way). A round
/// starts with one untimed call of its version.
///
/// The CLI compares thread counts this way too, calling from a thread of the
/// pool. (Before threads that ran out of work spun instead of sleeping, the
/// pool's workers went idle during each 1-thread round and came back slowly:
/// the 2-thread rounds then ran at 0.7-0.9x of one thread.)
///
/// Each sample batches enough calls of its version to last at least 20 µs;
/// between 5 and 500 samples per version.
pub fn time_medians_interleaved(budget: Duration, variants: usize, mut call: impl FnMut(usize)) -> Vec<Duration> {
    const ROUNDS: u32 = 10;
    let calibration: Vec<(u32, Duration)> = (0..variants)
        .map(|v| {
            call(v);
            let start = Instant::now();
            call(v);
            let once = start.elapsed().max(Duration::from_nanos(100));
            let per_sample = (Duration::from_micros(20).as_nanos() / once.as_nanos()).max(1) as u32;
            (per_sample, once * per_sample)
        })
        .collect();
    let round_time: Duration = calibration.iter().map(|&(_, sample)| sample).sum();
    let per_round = (budget.as_nanos() / (round_time.as_nanos() * u128::from(ROUNDS))).clamp(1, 50) as usize;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants];
    let start = Instant::now();
    let mut round = 0;
    while times[0].len() < 500 && (times[0].len() < 5 || start.elapsed() < budget) {
        // Each round takes the versions in another order (a fixed sequence
        // of shuffles), so that no version always follows the same one: on
        // unet.head (16 MiB of input; Zen 4), in rounds of two identical
        // AVX-512 versions, an AVX2 one and a read of 64 MiB, the version
        // that always came after the read ran at 32-41 GFLOP/s and its twin
        // at 39-49.
        for v in shuffled(variants, round) {
            let samples = &mut times[v];
            call(v);
            let per_sample = calibration[v].0;
            for _ in 0..per_round {
                let sample = Instant::now();
                for _ in 0..per_sample {
                    call(v);
                }
                samples.push(sample.elapsed() / per_sample);
            }
        }
        round += 1;
    }
    times
        .into_iter()
        .map(|mut samples| {
            samples.sort();
            samples[samples.len() / 2]
        })
        .collect()
}

/// `0..n` in the order of round `round`: the identity first, then Fisher-Yates
/// shuffles driven by a fixed xorshift sequence, the same on every run.
fn shuffled(n: usize, round: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if round == 0 {
        return order;
    }
    let mut state = round.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}
