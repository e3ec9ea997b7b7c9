//! The loop driver: cuts a validated call into micro-kernel tiles.
//!
//! A call is a GEMM per group: `M` = output pixels (batch included), `K` =
//! input channels per group, `N` = output channels per group. The pixel axis is
//! cut into blocks of at most `MAX_BLOCK_ROWS` rows, sized so that the block's
//! activations stay in L2 while every weight panel streams past them. A block
//! of one group is a *task*: tasks are independent and write disjoint outputs.
//!
//! Within a task, each pixel gets a row pointer into the input, the output and
//! the residual, computed once from the layout and the stride. The kernels only
//! see row pointers and channel strides, so stride, groups, channel slices and
//! every layout go through the same code.

use pointwise_kernels::{Kernel, Strides, TileArgs};

use crate::conv::Conv1x1;
use crate::layout::{Geometry, TensorDesc};
use crate::pack::{panel_offset, panels};

/// Upper bound of rows per block: a multiple of every tile height up to 16.
const MAX_BLOCK_ROWS: usize = 240;
/// Bytes of activations a block aims to keep in L2 (half of a 512 KiB L2).
const BLOCK_BYTES: usize = 256 * 1024;

/// A validated call. Lengths and channel ranges were checked by the caller,
/// so every address below is in bounds.
pub(crate) struct Call<'a> {
    pub desc: &'a Conv1x1,
    pub kernel: &'static Kernel,
    pub weights: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub input: (&'a [f32], TensorDesc, Geometry),
    pub residual: Option<(&'a [f32], TensorDesc, Geometry)>,
    pub out_desc: TensorDesc,
    pub out_geometry: Geometry,
}

impl Call<'_> {
    fn k(&self) -> usize {
        self.desc.in_channels / self.desc.groups
    }
    fn n(&self) -> usize {
        self.desc.out_channels / self.desc.groups
    }
    fn pixels(&self) -> usize {
        self.out_desc.batch * self.out_desc.height * self.out_desc.width
    }
    /// Rows per block: the activations of a block fill about `BLOCK_BYTES`.
    fn block_rows(&self) -> usize {
        let mr = self.kernel.mr;
        let rows = (BLOCK_BYTES / (4 * self.k().max(1))).clamp(mr, MAX_BLOCK_ROWS);
        (rows / mr) * mr
    }
}

/// Runs every task of the call, in order.
pub(crate) fn run(call: &Call<'_>, output: &mut [f32]) {
    let out = output.as_mut_ptr();
    let rows = call.block_rows();
    for g in 0..call.desc.groups {
        let mut first = 0;
        while first < call.pixels() {
            let count = rows.min(call.pixels() - first);
            // SAFETY: `call` was validated against `output`'s length, and the
            // block [first, first + count) of group g lies inside the shape.
            unsafe { run_block(call, out, g, first, count) };
            first += count;
        }
    }
}

/// Pixel offsets of output pixels `first..first + count` in the input, output
/// and residual tensors.
fn pixel_offsets(call: &Call<'_>, first: usize, count: usize, offsets: &mut [[usize; 3]; MAX_BLOCK_ROWS]) {
    let d = &call.out_desc;
    let [sy, sx] = call.desc.stride;
    let plane = d.height * d.width;
    for (i, slot) in offsets.iter_mut().enumerate().take(count) {
        let q = first + i;
        let (b, y, x) = (q / plane, (q % plane) / d.width, q % d.width);
        let input = call.input.2.pixel_offset(b, y * sy, x * sx);
        let output = call.out_geometry.pixel_offset(b, y, x);
        let residual = call.residual.map_or(0, |r| r.2.pixel_offset(b, y, x));
        *slot = [input, output, residual];
    }
}

/// One task: group `g`, output pixels `first..first + count`.
///
/// # Safety
/// `call` is validated, `out` is the start of the validated output slice, and
/// no other thread writes this group's channels of these pixels.
unsafe fn run_block(call: &Call<'_>, out: *mut f32, g: usize, first: usize, count: usize) {
    let kernel = call.kernel;
    let (k, n, nr, mr) = (call.k(), call.n(), kernel.nr, kernel.mr);
    let mut offsets = [[0usize; 3]; MAX_BLOCK_ROWS];
    pixel_offsets(call, first, count, &mut offsets);

    let (in_data, in_desc, in_geometry) = call.input;
    let (a_channel, a_k) = in_geometry.channels_from(in_desc.channel_offset + g * k);
    let mut a_rows = [core::ptr::null::<f32>(); MAX_BLOCK_ROWS];
    for (row, off) in a_rows.iter_mut().zip(&offsets).take(count) {
        // SAFETY: pixel and channel offsets are within the validated input.
        *row = unsafe { in_data.as_ptr().add(off[0] + a_channel) };
    }

    let (clamp_min, clamp_max) = call.desc.activation.kernel_clamp();
    let mut c_rows = [core::ptr::null_mut::<f32>(); MAX_BLOCK_ROWS];
    let mut r_rows = [core::ptr::null::<f32>(); MAX_BLOCK_ROWS];
    for panel in 0..panels(n, nr) {
        let first_channel = g * n + panel * nr;
        let (c_channel, c_cols) = call.out_geometry.channels_from(call.out_desc.channel_offset + first_channel);
        for (row, off) in c_rows.iter_mut().zip(&offsets).take(count) {
            // SAFETY: within the validated output.
            *row = unsafe { out.add(off[1] + c_channel) };
        }
        let (has_residual, r_cols) = match call.residual {
            Some((r_data, r_desc, r_geometry)) => {
                let (r_channel, r_cols) = r_geometry.channels_from(r_desc.channel_offset + first_channel);
                for (row, off) in r_rows.iter_mut().zip(&offsets).take(count) {
                    // SAFETY: within the validated residual.
                    *row = unsafe { r_data.as_ptr().add(off[2] + r_channel) };
                }
                (true, r_cols)
            }
            None => (false, Strides::CONTIGUOUS),
        };
        let b_panel = call.weights[panel_offset(k, n, nr, g, panel)..].as_ptr();
        let bias = call.bias.map_or(core::ptr::null(), |b| b[(g * panels(n, nr) + panel) * nr..].as_ptr());
        let mut tile = 0;
        while tile < count {
            let args = TileArgs {
                m: mr.min(count - tile),
                n: nr.min(n - panel * nr),
                k,
                a_rows: a_rows[tile..].as_ptr(),
                a_k,
                b_panel,
                bias,
                c_rows: c_rows[tile..].as_ptr(),
                c_cols,
                r_rows: if has_residual { r_rows[tile..].as_ptr() } else { core::ptr::null() },
                r_cols,
                clamp_min,
                clamp_max,
                accumulate: 0,
            };
            // SAFETY: the pointers above satisfy the ABI contract for this
            // kernel (validated shapes, packed panels of k·nr floats, nr bias
            // floats), and the kernel's ISA was checked when packing.
            unsafe { (kernel.run)(&args) };
            tile += mr;
        }
    }

    if call.desc.activation.needs_pass() {
        let (c_channel, c_cols) = call.out_geometry.channels_from(call.out_desc.channel_offset + g * n);
        for off in offsets.iter().take(count) {
            c_cols.for_each_run(n, |_, offset, len| {
                // SAFETY: these outputs belong to this task and were just written;
                // no other reference to them is live.
                let run = unsafe { core::slice::from_raw_parts_mut(out.add(off[1] + c_channel + offset), len) };
                call.desc.activation.apply_slice(run);
            });
        }
    }
}
