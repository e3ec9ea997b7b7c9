use pointwise::*;
fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (h, cin, cout, iters) = (args[0], args[1], args[2], args[3]);
    let conv =
        Conv1x1::new(cin, cout).pack(&vec![0.01; cin * cout], WeightOrder::OutIn, Some(&vec![0.0; cout])).unwrap();
    let input = vec![1.0f32; h * h * cin];
    let mut out = vec![0.0f32; h * h * cout];
    let (d_in, d_out) = (TensorDesc::nhwc(1, h, h, cin), TensorDesc::nhwc(1, h, h, cout));
    let t = std::time::Instant::now();
    for _ in 0..iters {
        conv.run(Tensor::new(&input, d_in), TensorMut::new(&mut out, d_out)).unwrap();
    }
    let s = t.elapsed().as_secs_f64() / iters as f64;
    println!("{:.1} us {:.1} GFLOP/s", s * 1e6, 2.0 * (h * h * cin * cout) as f64 / s / 1e9);
}
