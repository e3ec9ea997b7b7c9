//! The GEMM peers on the problem a 1x1 convolution is for them: per group,
//! `C[M x N] = A[M x K] · B[K x N]` with `M = N·Ho·Wo`, `K = Cin/groups`,
//! `N = Cout/groups`, no bias. For a strided layer the call includes the
//! gather of the subsampled input rows; for a grouped layer, one call per
//! group. Shared by `layers.rs` and `results.rs`.
#![allow(dead_code)]

use pointwise::suite::Layer;

/// Inputs of one layer laid out for a GEMM library.
pub struct GemmProblem<'a> {
    layer: &'a Layer,
    input: &'a [f32],
    /// `[K][Cout]`, row-major.
    b: Vec<f32>,
    gathered: Vec<f32>,
}

impl<'a> GemmProblem<'a> {
    /// `weights` are `[Cout][K]` (PyTorch order), `input` is NHWC.
    pub fn new(layer: &'a Layer, input: &'a [f32], weights: &[f32]) -> Self {
        let [m, k, _] = layer.gemm_shape();
        let cout = layer.conv.out_channels;
        let b = (0..k * cout).map(|i| weights[(i % cout) * k + i / cout]).collect();
        GemmProblem { layer, input, b, gathered: Vec::with_capacity(m * layer.conv.in_channels) }
    }

    /// The A matrix: the input itself, or its strided rows gathered.
    fn a(&mut self) -> &[f32] {
        let l = self.layer;
        let [sy, sx] = l.conv.stride;
        if sy == 1 && sx == 1 {
            return self.input;
        }
        let cin = l.conv.in_channels;
        let [ho, wo] = l.conv.output_size(l.height, l.width);
        self.gathered.clear();
        for b in 0..l.batch {
            for y in 0..ho {
                for x in 0..wo {
                    let at = ((b * l.height + y * sy) * l.width + x * sx) * cin;
                    self.gathered.extend_from_slice(&self.input[at..at + cin]);
                }
            }
        }
        &self.gathered
    }

    /// gemm 0.19, single-threaded.
    pub fn run_gemm(&mut self, out: &mut [f32]) {
        let [m, k, n] = self.layer.gemm_shape();
        let (cin, cout, groups) = (self.layer.conv.in_channels, self.layer.conv.out_channels, self.layer.conv.groups);
        let a = self.a().as_ptr();
        for g in 0..groups {
            // SAFETY: the strides describe in-bounds row-major matrices.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    out.as_mut_ptr().add(g * n),
                    1,
                    cout as isize,
                    false,
                    a.add(g * k),
                    1,
                    cin as isize,
                    self.b.as_ptr().add(g * n),
                    1,
                    cout as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        }
    }

    /// matrixmultiply's sgemm (single-threaded).
    pub fn run_matrixmultiply(&mut self, out: &mut [f32]) {
        let [m, k, n] = self.layer.gemm_shape();
        let (cin, cout, groups) = (self.layer.conv.in_channels, self.layer.conv.out_channels, self.layer.conv.groups);
        let a = self.a().as_ptr();
        for g in 0..groups {
            // SAFETY: the strides describe in-bounds row-major matrices.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.add(g * k),
                    cin as isize,
                    1,
                    self.b.as_ptr().add(g * n),
                    cout as isize,
                    1,
                    0.0,
                    out.as_mut_ptr().add(g * n),
                    cout as isize,
                    1,
                )
            }
        }
    }
}
