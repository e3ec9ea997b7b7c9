//! Measurement helpers shared by the command-line runner, the benches and the
//! results example: deterministic data and a robust median timer.

use std::time::{Duration, Instant};

/// `len` deterministic values in `[-1, 1)` (xorshift, seeded).
pub fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Median time of one `call`, over samples lasting about `budget` in all.
///
/// Each sample batches enough calls to last at least 20 µs, so the timer's
/// resolution does not dominate tiny layers; between 5 and 500 samples.
pub fn time_median(budget: Duration, mut call: impl FnMut()) -> Duration {
    call();
    let start = Instant::now();
    call();
    let once = start.elapsed().max(Duration::from_nanos(100));
    let per_sample = (Duration::from_micros(20).as_nanos() / once.as_nanos()).max(1) as u32;
    let samples = (budget.as_nanos() / (once.as_nanos() * per_sample as u128)).clamp(5, 500) as usize;
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_sample {
                call();
            }
            start.elapsed() / per_sample
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
