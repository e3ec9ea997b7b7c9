use pointwise::kernels::{Strides, TileArgs, KERNELS};
use std::time::Instant;
fn main() {
    let name = std::env::args().nth(1).unwrap();
    let kernel = KERNELS.iter().find(|k| k.name == name).unwrap();
    let (mr, nr) = (kernel.mr, kernel.nr);
    let ks: Vec<usize> = std::env::args().nth(2).map_or(vec![16, 24, 32, 64, 128, 256], |s| vec![s.parse().unwrap()]);
    for &k in &ks {
        let a = vec![1.0f32; mr * k];
        let a_rows: Vec<*const f32> = (0..mr).map(|i| a[i * k..].as_ptr()).collect();
        let panel = aligned_vec::AVec::<f32, aligned_vec::ConstAlign<64>>::from_slice(0, &vec![0.5f32; k * nr]);
        let mut c_buf = vec![0.0f32; mr * 256];
        let c_base = c_buf.as_mut_ptr();
        let c_rows: Vec<*mut f32> = (0..mr).map(|i| unsafe { c_base.add(i * 256) }).collect();
        let bias = vec![0.0f32; nr];
        let args = TileArgs {
            m: mr,
            n: nr,
            k,
            a_rows: a_rows.as_ptr(),
            a_k: Strides::CONTIGUOUS,
            b_panel: panel.as_ptr(),
            bias: bias.as_ptr(),
            c_rows: c_rows.as_ptr(),
            c_cols: Strides::CONTIGUOUS,
            r_rows: core::ptr::null(),
            r_cols: Strides::CONTIGUOUS,
            clamp_min: f32::NEG_INFINITY,
            clamp_max: f32::INFINITY,
            accumulate: 0,
        };
        let reps = 200_000;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..reps {
                unsafe { (kernel.run)(std::hint::black_box(&args)) }
            }
            best = best.min(t.elapsed().as_secs_f64() / reps as f64);
        }
        let flops = 2.0 * (mr * nr * k) as f64;
        println!("{name} k={k:4} ns/call={:7.1} GFLOP/s={:6.1}", best * 1e9, flops / best / 1e9);
    }
}
