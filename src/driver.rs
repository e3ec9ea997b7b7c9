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

use pointwise_kernels::abi::{StridedArgs, StridedFn};
use pointwise_kernels::abi::{A_COLD, A_STREAMED, A_WARM};
use pointwise_kernels::{Kernel, Strides, TileArgs};

use crate::cache;
use crate::conv::Conv1x1;
use crate::layout::{Geometry, TensorDesc};
use crate::pack::{self, panel_offset, panels};

/// How a block's activation rows are copied before the kernels read them
/// (see `run_block`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gather {
    /// One element per channel plane.
    Planar,
    /// Contiguous rows, into rows 16 floats longer.
    Contiguous,
}

/// A task copies contiguous rows only when it has at least this many weight
/// panels to reuse the copy for: resnet50.s4.reduce (then copied) cut into
/// tasks of one panel each ran 20% slower on two threads with a copy per
/// task.
const GATHER_MIN_PANELS: usize = 4;

thread_local! {
    /// Per-thread scratch for gathered activation rows (planar input, and rows
    /// that would alias in L1).
    /// It grows to the largest block once and is reused: no allocation per call
    /// in the steady state.
    static PACKED_ROWS: core::cell::Cell<Vec<f32>> = const { core::cell::Cell::new(Vec::new()) };
}

/// One weight panel of a task, with where its output columns go.
struct PanelView {
    b_panel: *const f32,
    bias: *const f32,
    /// Output base plus the panel's channel offset (add a pixel offset).
    c_base: *mut f32,
    c_cols: Strides,
    /// Residual base plus the panel's channel offset, and its column strides.
    residual: Option<(*const f32, Strides)>,
}

/// Upper bound of rows per block: a multiple of every tile height up to 16.
const MAX_BLOCK_ROWS: usize = 240;
/// The same for calls that take a strided entry point, which need no row
/// pointer arrays (whose size sets `MAX_BLOCK_ROWS`): unet.head (K = 64)
/// then runs in blocks of 2048 pixels (512 KiB of input) rather than 240,
/// each one call of the kernel. Builds alternated eight times (Zen 4,
/// medians): AVX-512 74 to 80 GFLOP/s at 32x32 and 64x64 pixels, 42 to 45
/// at 256x256; AVX2 61-63 to 66-69 and 49 to 53. The general kernels'
/// strided walk, against blocks of 240 rows (the two timed in turn in one
/// process, two runs, Zen 4): mobilenetv2.b1.project (K = 32) from 112 to
/// 115 GFLOP/s with AVX-512 kernels and 107-110 to 111-113 with AVX2,
/// b2.expand (K = 16) +1%.
const MAX_STRIDED_BLOCK_ROWS: usize = 240 * 16;
/// Bytes of activations a block aims to keep in L2: half of this core's L2,
/// so that a weight panel streaming past fits beside them. On 7x7 and 14x14
/// layers with K of 1024-2048 this keeps all pixels in one block, so the
/// weights (the larger operand there) stream once per call instead of once
/// per block: measured on Zen 4 (1 MiB L2), s5.downsample went from 84 to 94
/// GFLOP/s on one thread, and s5.reduce from 1.7x to 1.9x on two.
fn block_bytes() -> usize {
    cache::l2_bytes() / 2
}

/// Where a call's residual lies.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ResidualData<'a> {
    /// A tensor of its own.
    Tensor(&'a [f32]),
    /// The output's elements, read by each tile before it writes them (the
    /// kernel ABI allows an R element to be its own C element).
    InOutput,
}

/// A validated call. Lengths and channel ranges were checked by the caller,
/// so every address below is in bounds.
pub(crate) struct Call<'a> {
    pub desc: &'a Conv1x1,
    pub kernel: &'static Kernel,
    pub weights: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub input: (&'a [f32], TensorDesc, Geometry),
    /// The residual's elements, description and geometry (the output's own
    /// for a residual in the output).
    pub residual: Option<(ResidualData<'a>, TensorDesc, Geometry)>,
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
    /// How a task of `panels` weight panels copies its activation rows
    /// before the kernels read them, if it does (see `run_block`).
    fn gather(&self, panels: usize) -> Option<Gather> {
        let (_, a_k) = self.input.2.channels_from(self.input.1.channel_offset);
        if a_k.block == 1 {
            Some(Gather::Planar)
        } else if a_k.block == 0 && self.rows_alias_in_l1() && self.desc.stride != [1, 1] && panels >= GATHER_MIN_PANELS
        {
            Some(Gather::Contiguous)
        } else {
            None
        }
    }
    /// True when the kernel's tile reads more rows than an L1 set has ways,
    /// and consecutive rows of the input lie a multiple of a way's bytes
    /// apart (4 KiB on x86-64): the same k of every row of a tile then falls
    /// in one set (see `run_block`).
    fn rows_alias_in_l1(&self) -> bool {
        let row_step_bytes = 4 * self.input.2.pixel * self.desc.stride[1];
        cache::l1d().rows_alias(self.kernel.mr, row_step_bytes)
    }
    /// True when the residual rows of a tile alias in L1 as
    /// [`Call::rows_alias_in_l1`] says of activation rows (a residual of
    /// 1024 channels, or an output of 1024 for the residual in the output):
    /// the kernel loads the same line of every row of a tile in its
    /// epilogue, before it stores the tile's output lines, and with more
    /// rows than a set has ways they evict each other there. Such calls go
    /// to the kernel in calls of at most `cache::l1d().ways` rows (see
    /// `run_block`), but not where the call's rows stream from beyond L2
    /// ([`A_STREAMED`]), where the 12-row walks fetch the next tile's rows
    /// ahead from K = 512: a call of one tile would leave them no next tile.
    /// (The generic 12x32 kernel's walks of 64 columns or more, in 6-row
    /// tiles, fetch nothing ahead; its 12 rows alias only in L1s of fewer
    /// than 12 ways, which the Intel cores measured with it do not have.)
    fn residual_rows_alias_in_l1(&self) -> bool {
        self.residual.as_ref().is_some_and(|(_, _, r)| cache::l1d().rows_alias(self.kernel.mr, 4 * r.pixel))
            && self.cold_rows() != A_STREAMED
    }
    /// The `a_cold` hint of a block's first read of its rows: whether the
    /// activations the call reads are larger than twice L2, so that most of
    /// them stream from L3 or memory rather than stay in L2 from the layer
    /// before.
    ///
    /// Twice rather than once: resnet50.s3.reduce (1.5 MiB of input, 1 MiB
    /// L2) lost 1-3.5% with the AVX-512 kernel's walk fetching its rows
    /// ahead (`walk_streams` in the kernels' crate), where its batch of 2
    /// (3.1 MiB) moved within ±1% and of 8 gained 5-6% (Zen 4, one
    /// process). The dot kernels, the other ones that follow the hint, were
    /// not measured between once and twice L2, where the hint changed for
    /// them (at 4 MiB, prefetching into L2 or L1 moved within the noise).
    fn cold_rows(&self) -> u32 {
        let bytes = self.pixels().saturating_mul(self.desc.in_channels).saturating_mul(4);
        if bytes > 2 * cache::l2_bytes() {
            A_STREAMED
        } else {
            A_COLD
        }
    }
    /// True when the call runs through the kernel's strided entry point.
    pub(crate) fn takes_strided_entry(&self) -> bool {
        self.strided_rows().is_some()
    }
    /// The row strides of the input and output, when the kernel has a
    /// strided entry point and the call can take it: each row's channels
    /// contiguous and every pixel a fixed distance from the one before, in
    /// the input, the output and the residual if any (NHWC at stride 1); and
    /// the driver's policy takes it: a depth up to the kernel's
    /// `strided_depth`, two pixels or more, activation and residual rows
    /// that do not alias in L1.
    fn strided_rows(&self) -> Option<StridedCall> {
        let run = self.kernel.run_strided?;
        // Activation or residual rows that alias in L1 go to the indirect
        // entry point, which reads them in calls of at most
        // `cache::l1d().ways` rows (see `run_block`), where the strided walk
        // would take the kernel's full tiles; a call of one pixel has no rows
        // to stride over.
        if self.k() > self.kernel.strided_depth
            || self.pixels() < 2
            || self.rows_alias_in_l1()
            || self.residual_rows_alias_in_l1()
        {
            return None;
        }
        let d = &self.out_desc;
        let (in_geometry, out_geometry) = (&self.input.2, &self.out_geometry);
        let contiguous = |g: &Geometry, offset: usize| g.channels_from(offset).1.block == 0;
        let plain = self.desc.stride == [1, 1]
            && contiguous(in_geometry, self.input.1.channel_offset)
            && contiguous(out_geometry, d.channel_offset)
            && self.residual.is_none_or(|(_, r_desc, r_geometry)| contiguous(&r_geometry, r_desc.channel_offset));
        if !plain {
            return None;
        }
        // At stride 1 the input has the output's pixels, as the residual has.
        let step = |g: &Geometry| g.flat_pixel_step(d.batch, d.height, d.width);
        Some(StridedCall {
            run,
            a_row_stride: step(in_geometry)?,
            c_row_stride: step(out_geometry)?,
            r_row_stride: match self.residual {
                Some((_, _, r_geometry)) => step(&r_geometry)?,
                None => 0,
            },
        })
    }
    /// Rows per block: the activations of a block fill about `block_bytes()`.
    fn block_rows(&self) -> usize {
        let mr = self.kernel.mr;
        let max = if self.strided_rows().is_some() { MAX_STRIDED_BLOCK_ROWS } else { MAX_BLOCK_ROWS };
        let rows = (block_bytes() / (4 * self.k().max(1))).clamp(mr, max);
        (rows / mr) * mr
    }
}

/// How a call is cut into tasks: `groups x row_blocks x panel_chunks`, each
/// task one group's block of output pixels and a range of its output-channel
/// panels. Tasks write disjoint outputs and each output element is computed by
/// exactly one tile, in the same order whatever the cut: results are bitwise
/// identical for every thread count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    groups: usize,
    pixels: usize,
    rows_per_block: usize,
    row_blocks: usize,
    panels: usize,
    panels_per_chunk: usize,
    panel_chunks: usize,
}

/// Below this many multiply-adds, a second thread costs more than it saves.
const MIN_PARALLEL_WORK: usize = 1 << 20;

/// The fixed cost of one tile (pointer set-up, the epilogue), in units of one
/// row's multiply-adds over one depth step. Measured on Zen 4 when the driver
/// called the kernel once per tile: a 12x32 AVX-512 tile cost about 110
/// cycles besides its FMAs, about as much as 64 row-depth steps of it. (The
/// kernel now walks a block's tiles in one call, which cut that to about
/// 60 cycles at K = 16, kernel alone; this constant was not re-tuned.)
const TILE_COST: usize = 64;
/// The fixed cost of one task (pixel offsets, row pointers, claiming it), in
/// the same units.
const TASK_COST: usize = 1024;
/// Copying a task's activation rows costs about one row-depth step per
/// `GATHER_COST` copied floats (a guess from two-thread timings of
/// resnet50.s4.reduce; see `Call::gather`).
const GATHER_COST: usize = 2;
/// Threads claim tasks as they go ([`crate::Plan`]), so a thread that the
/// machine slows down holds the others up by part of one task at the end,
/// not by its whole share: the cut is scored with that lag, a fraction of a
/// task (1 / `LAG_SHARE`). Scored without it, resnet50.s4.reduce and
/// s4.downsample were cut into one task per thread and ran at 1.4-1.5x on
/// two threads in runs where the cut chosen with it ran at 1.9-2.1x; 1/4 did
/// better than 1/2 on the small MobileNetV2 layers (CLI, Zen 4 VM).
const LAG_SHARE: usize = 4;

impl Schedule {
    /// The cut with the shortest estimated makespan on `threads` threads.
    ///
    /// With one thread: blocks as large as the cache allows, all panels in one
    /// chunk. With more: candidate cuts of the pixel axis (in whole tiles) and of
    /// the panel axis are scored by `ceil(tasks / threads) · largest task`, so
    /// that ragged last blocks do not leave threads idle (as XNNPACK and MLAS
    /// choose their tiles). A task's cost counts rows, not tiles: the last tile
    /// of a block may have a few rows only, and costs that much (each row count
    /// has its own kernel instance), plus a fixed cost per tile and per task.
    /// Pixel blocks are cut in whole tiles or, when that is more even, in
    /// equal rows: 14x14 layers (196 pixels, 17 tiles of 12) were cut 108 + 88
    /// and ran at 1.3-1.7x on two threads.
    pub fn new(call: &Call<'_>, threads: usize) -> Schedule {
        let (mr, nr) = (call.kernel.mr, call.kernel.nr);
        let groups = call.desc.groups;
        let pixels = call.pixels();
        let panels = panels(call.n(), nr);
        let max_rows = call.block_rows();
        let tiles = pixels.div_ceil(mr);
        let min_blocks = pixels.div_ceil(max_rows);
        let work = groups * pixels * call.k() * call.n();
        let threads = if work < MIN_PARALLEL_WORK { 1 } else { threads.max(1) };
        // `whole_tiles`: blocks of whole tiles (only the last block is ragged);
        // otherwise rows split evenly (every block may end in a short tile).
        // Either is bitwise the same: each row is summed alone, in k order.
        let cut = |row_blocks: usize, panel_chunks: usize, whole_tiles: bool| {
            let rows_per_block =
                if whole_tiles { tiles.div_ceil(row_blocks) * mr } else { pixels.div_ceil(row_blocks) };
            let panels_per_chunk = panels.div_ceil(panel_chunks);
            Schedule {
                groups,
                pixels,
                rows_per_block,
                row_blocks: pixels.div_ceil(rows_per_block),
                panels,
                panels_per_chunk,
                panel_chunks: panels.div_ceil(panels_per_chunk),
            }
        };
        if threads == 1 {
            return cut(min_blocks, 1, true);
        }
        let k = call.k().max(1);
        // Where a block's rows alias in L1 and are copied (`Call::gather`:
        // now only at strides past 1, such as s4.downsample), keep enough
        // panels per task for the copy, if the weights fit in L2.
        // resnet50.s4.reduce (1 MiB of weights), when it was copied too, was
        // cut into tasks of one panel, which read their rows in place in
        // 12-row tiles, and ran at 1.79-1.80x on two threads; kept to 8
        // panels per task it ran at 1.91-1.92x (three runs each,
        // interleaved). s5.reduce (4 MiB) ran 1.98x without this and 1.93x
        // with it.
        let keep_copy = call.gather(panels) == Some(Gather::Contiguous) && 4 * k * call.n() <= 2 * block_bytes();
        let mut best = (usize::MAX, cut(min_blocks, 1, true));
        for row_blocks in min_blocks..=(min_blocks + 4 * threads).min(tiles) {
            for panel_chunks in 1..=(4 * threads).min(panels) {
                for whole_tiles in [true, false] {
                    let s = cut(row_blocks, panel_chunks, whole_tiles);
                    if keep_copy && s.panels_per_chunk < GATHER_MIN_PANELS {
                        continue;
                    }
                    // The first block and chunk are the largest.
                    let rows = s.rows_per_block.min(pixels);
                    let copy = if call.gather(s.panels_per_chunk).is_some() { rows * k / GATHER_COST } else { 0 };
                    let task_cost = s.panels_per_chunk * (rows * k + rows.div_ceil(mr) * TILE_COST) + copy + TASK_COST;
                    let makespan = s.task_count().div_ceil(threads) * task_cost + task_cost / LAG_SHARE;
                    if makespan < best.0 {
                        best = (makespan, s);
                    }
                }
            }
        }
        best.1
    }

    /// Number of independent tasks.
    pub fn task_count(&self) -> usize {
        self.groups * self.row_blocks * self.panel_chunks
    }
}

/// Runs task `index` of `schedule`.
///
/// # Safety
/// `call` is validated against the output slice that starts at `out`, and no
/// other thread runs the same task at the same time.
pub(crate) unsafe fn run_task(call: &Call<'_>, schedule: &Schedule, out: *mut f32, index: usize) {
    let chunk = index % schedule.panel_chunks;
    let block = (index / schedule.panel_chunks) % schedule.row_blocks;
    let g = index / (schedule.panel_chunks * schedule.row_blocks);
    let first = block * schedule.rows_per_block;
    let count = schedule.rows_per_block.min(schedule.pixels - first);
    let first_panel = chunk * schedule.panels_per_chunk;
    let panels = first_panel..schedule.panels.min(first_panel + schedule.panels_per_chunk);
    // SAFETY: forwarded; the task's rows and panels lie inside the shape.
    unsafe { run_block(call, out, g, first, count, panels) };
}

/// Calls `emit(i, [input, output, residual])` with the element offsets of
/// output pixel `first + i` in the three tensors, for `i < count`, in order.
#[inline(always)]
fn for_each_pixel(call: &Call<'_>, first: usize, count: usize, mut emit: impl FnMut(usize, [usize; 3])) {
    let d = &call.out_desc;
    let [sy, sx] = call.desc.stride;
    let plane = d.height * d.width;
    let residual = call.residual.map(|r| r.2);
    // Offsets at the start of the current output row, and the step to the
    // next pixel of the row. Divisions and multiplications happen once per
    // output row, not per pixel: per pixel they cost as much as the FMAs of a
    // narrow layer.
    let row_start = |b: usize, y: usize| {
        [
            call.input.2.pixel_offset(b, y * sy, 0),
            call.out_geometry.pixel_offset(b, y, 0),
            residual.map_or(0, |r| r.pixel_offset(b, y, 0)),
        ]
    };
    let step = [call.input.2.pixel * sx, call.out_geometry.pixel, residual.map_or(0, |r| r.pixel)];
    let (mut b, mut y, mut x) = (first / plane, (first % plane) / d.width, first % d.width);
    // One output row at a time; within it, each offset is the previous one
    // plus a step: the multiplications per pixel cost mobilenetv2.b1.project
    // about 8% (85 to 92 GFLOP/s without them, AVX-512, Zen 4).
    let mut done = 0;
    while done < count {
        let at = row_start(b, y);
        let run = (d.width - x).min(count - done);
        let mut offset = [at[0] + x * step[0], at[1] + x * step[1], at[2] + x * step[2]];
        for i in done..done + run {
            emit(i, offset);
            offset = [offset[0] + step[0], offset[1] + step[1], offset[2] + step[2]];
        }
        done += run;
        x = 0;
        y += 1;
        if y == d.height {
            y = 0;
            b += 1;
        }
    }
}

/// Room for the row pointers of one block, not zeroed first: three zeroed
/// arrays of `MAX_BLOCK_ROWS` pointers were 2.8% of the time of
/// mobilenetv2.b1.project (K = 32, N = 16; perf, `memset`), and without
/// them it ran 1.9% faster (four interleaved runs).
struct BlockRows<P> {
    slots: [core::mem::MaybeUninit<P>; MAX_BLOCK_ROWS],
}

impl<P: Copy> BlockRows<P> {
    fn new() -> Self {
        BlockRows { slots: [const { core::mem::MaybeUninit::uninit() }; MAX_BLOCK_ROWS] }
    }

    /// The first `count` rows.
    ///
    /// # Safety
    /// Slots `0..count` were written.
    unsafe fn rows(&mut self, count: usize) -> &mut [P] {
        // SAFETY: the caller's contract; `MaybeUninit<P>` has the layout of `P`.
        unsafe { core::slice::from_raw_parts_mut(self.slots[..count].as_mut_ptr().cast::<P>(), count) }
    }
}

/// The kernel's strided entry point and the row strides it is called with,
/// for a call that `Call::strided_rows` accepts. (Not the kernels' own
/// `StridedRows`, which walks the rows inside one call.)
struct StridedCall {
    run: StridedFn,
    a_row_stride: usize,
    c_row_stride: usize,
    /// 0 without residual.
    r_row_stride: usize,
}

/// `run_block` for a call that `Call::strided_rows` accepts: a call of the
/// kernel's strided entry point per panel, or per group of panels it walks
/// (`panel_calls`, as `run_block` cuts them); the driver writes no row
/// pointer arrays (the kernels' strided walks need none). On
/// unet.head (K = 64, Cout = 2), writing the arrays was 17% of the time at
/// 32x32 pixels (perf), about what the FMAs of two rows cost. Without them
/// (Zen 4, the two builds alternated ten times, medians): AVX-512 64 to 74
/// GFLOP/s at 32x32 and 61 to 71 at 64x64 pixels (in L2), 37 to 41 at the
/// suite's 256x256; AVX2 54 to 64, 53 to 60 and 41 to 44.
///
/// # Safety
/// As for `run_block`; `strided` is what `Call::strided_rows` returned for
/// `call`, and `view` is `run_block`'s.
unsafe fn run_block_strided(
    call: &Call<'_>,
    g: usize,
    pixels: core::ops::Range<usize>,
    panels: core::ops::Range<usize>,
    view: impl Fn(usize) -> PanelView,
    strided: StridedCall,
) {
    let (k, n, nr) = (call.k(), call.n(), call.kernel.nr);
    let (in_data, in_desc, in_geometry) = call.input;
    let (a_channel, _) = in_geometry.channels_from(in_desc.channel_offset + g * k);
    let (clamp_min, clamp_max) = call.desc.activation.kernel_clamp();
    // SAFETY: pixel `first` lies at `first` times the row stride (what
    // `strided_rows` checked), within the validated input.
    let a = unsafe { in_data.as_ptr().add(a_channel + pixels.start * strided.a_row_stride) };
    // Walkable: `strided_rows` found the rows, the output's and the
    // residual's columns contiguous.
    for (panel, panels_in_call) in panel_calls(call, pixels.len(), panels.clone(), true) {
        let v = view(panel);
        let args = StridedArgs {
            m: pixels.len(),
            n: ((panel + panels_in_call).min(panels.end) * nr).min(n) - panel * nr,
            k,
            a,
            a_row_stride: strided.a_row_stride,
            b_panel: v.b_panel,
            b_panel_stride: pack::panel_stride(k, nr),
            bias: v.bias,
            // SAFETY: as for `a`, in the validated output.
            c: unsafe { v.c_base.add(pixels.start * strided.c_row_stride) },
            c_row_stride: strided.c_row_stride,
            // SAFETY: as for `a`, in the validated residual.
            r: v.residual.map_or(core::ptr::null(), |(r, _)| unsafe { r.add(pixels.start * strided.r_row_stride) }),
            r_row_stride: strided.r_row_stride,
            clamp_min,
            clamp_max,
            a_cold: if panel == panels.start { call.cold_rows() } else { A_WARM },
        };
        // SAFETY: the pointers above satisfy the contract of a strided call:
        // rows evenly spaced with contiguous channels and columns (the
        // residual's too), inside the validated tensors; the dispatch
        // checked the kernel's ISA.
        unsafe { (strided.run)(&args) };
    }
}

/// One task: group `g`, output pixels `first..first + count`, panels `panels`.
///
/// # Safety
/// `call` is validated, `out` is the start of the validated output slice, and
/// no other thread writes these outputs.
unsafe fn run_block(
    call: &Call<'_>,
    out: *mut f32,
    g: usize,
    first: usize,
    count: usize,
    panels: core::ops::Range<usize>,
) {
    let kernel = call.kernel;
    let (k, n, nr) = (call.k(), call.n(), kernel.nr);
    let view = |panel: usize| {
        let first_channel = g * n + panel * nr;
        let (c_channel, c_cols) = call.out_geometry.channels_from(call.out_desc.channel_offset + first_channel);
        let residual = call.residual.map(|(r_data, r_desc, r_geometry)| {
            let (r_channel, r_cols) = r_geometry.channels_from(r_desc.channel_offset + first_channel);
            let r_base = match r_data {
                ResidualData::Tensor(data) => data.as_ptr(),
                // The same pointer as the output's, so that reads and writes
                // of an element go through one provenance.
                ResidualData::InOutput => out.cast_const(),
            };
            // SAFETY: the residual's channel offset is within the validated
            // residual (or output).
            (unsafe { r_base.add(r_channel) }, r_cols)
        });
        PanelView {
            b_panel: call.weights[panel_offset(k, n, nr, g, panel)..].as_ptr(),
            bias: call.bias.map_or(core::ptr::null(), |b| b[(g * pack::panels(n, nr) + panel) * nr..].as_ptr()),
            // SAFETY: the channel offset is within the validated output.
            c_base: unsafe { out.add(c_channel) },
            c_cols,
            residual,
        }
    };

    if let Some(strided) = call.strided_rows() {
        // SAFETY: forwarded; `strided` is the call's.
        unsafe {
            run_block_strided(call, g, first..first + count, panels.clone(), view, strided);
            activation_pass(call, out, g, first, count, panels);
        }
        return;
    }

    // Row pointers of the whole block: activations, and output and residual
    // for the first panel (moved to each next panel below), written in one
    // walk over the pixels. One kernel call then covers the block and its
    // panel, and the kernel walks the row tiles (see `pointwise_kernels::abi`).
    // This per-row work is what a narrow layer pays besides its FMAs:
    // mobilenetv2.b1.project (K = 32, N = 16) spent 12% of its time in it when
    // it went through an array of offsets first.
    let (in_data, in_desc, in_geometry) = call.input;
    let (a_channel, mut a_k) = in_geometry.channels_from(in_desc.channel_offset + g * k);
    // SAFETY: the channel offset is within the validated input.
    let a_base = unsafe { in_data.as_ptr().add(a_channel) };
    let first_view = view(panels.start);
    let r_base = first_view.residual.map_or(core::ptr::null(), |r| r.0);
    let (mut a_rows, mut c_rows, mut r_rows) = (BlockRows::new(), BlockRows::new(), BlockRows::new());
    // A block never has more rows; saying so drops the bounds checks below.
    debug_assert!(count <= MAX_BLOCK_ROWS);
    let count = count.min(MAX_BLOCK_ROWS);
    for_each_pixel(call, first, count, |i, off| {
        // SAFETY: pixel offsets are within the validated tensors (the
        // residual's only when there is one).
        unsafe {
            a_rows.slots[i].write(a_base.add(off[0]));
            c_rows.slots[i].write(first_view.c_base.add(off[1]));
            if !r_base.is_null() {
                r_rows.slots[i].write(r_base.add(off[2]));
            }
        }
    });
    // SAFETY: rows 0..count were written above (the residual's when there is one).
    let (a_rows, c_rows, r_rows) =
        unsafe { (a_rows.rows(count), c_rows.rows(count), r_rows.rows(if r_base.is_null() { 0 } else { count })) };
    // Some blocks are read from a copy of their rows, made once per block and
    // reused by every weight panel (K·rows copies against K·rows·N FMAs):
    // * Planar (NCHW) input: each channel is a plane of its own, so a kernel
    //   reading rows in place would take one element per plane per k step.
    //   Measured on s3.expand (AVX2, Zen 4): 39 GFLOP/s in place against 103
    //   for NHWC. (The other orientation, weights broadcast and pixels loaded
    //   as vectors, would need a second family of kernels; blocked NCHWc
    //   reads in place at 90+% of NHWC speed.)
    // * Rows a multiple of a way's bytes apart (4 KiB on x86-64), read by a
    //   kernel of more rows than an L1 set has ways (`cache::L1d`), at a
    //   stride past 1 (see below for stride 1): the same k of every row then
    //   falls in one L1 set (8 ways on Zen 4, where this was measured; 12 on
    //   recent Intel cores, where the 12-row tiles need no copy). 12x32
    //   AVX-512 tiles at K = 1024 ran at 89.5% of peak, against 98.2% at
    //   K = 1040 (CLI, Zen 4); the copy's rows are 16 floats longer, and
    //   packed where the stride spread them out. With it, s4.reduce, s5.reduce,
    //   s4.downsample and s5.downsample went from 97-106 to 108-112 GFLOP/s
    //   (one thread, AVX-512, Zen 4).
    let gather = call.gather(panels.len());
    // Rows that alias in L1 and are read in place go to the kernel in calls
    // of at most `cache::l1d().ways` rows (as even as `row_tiles` cuts
    // them: 49 rows in 7 calls of 7, not 6 of 8 and one alone), so that its
    // tiles have no more rows than a set has ways. At stride 1 this beat the
    // copy (the two timed in turn in one process, three runs, AVX-512, Zen
    // 4): s4.reduce 111-112 to 115 GFLOP/s, s5.reduce 114 to 115-116; at
    // stride 2 the copy stays ahead (calls of 8 rows against it:
    // s4.downsample 1-2% slower, s5.downsample 3-6%).
    // So do the calls of a residual whose rows alias
    // (`Call::residual_rows_alias_in_l1`), such as ResNet-50's s4.expand (1024
    // channels: each row of residual and output 4 KiB from the next). Its bias
    // + residual + ReLU cost over the plain layer, which keeps its 12-row
    // tiles, went from +3.6-4.5% (eight runs) to +1.5-2.5% (seven; an eighth
    // was disturbed) with a residual tensor, and from +0.7-1.2% to +0.1-1.6%
    // with the residual in the output (`examples/epilogue_cost`, AVX-512 Zen 4
    // kernel, the builds alternated); s5.expand (K = 512, N = 2048) from
    // +0.5-1.0% to −0.1-+1.2%, and in the output from +0.7-1.6% to −0.5-+0.8%.
    // At 8 images, where the strided walk had taken blocks of 3840 rows rather
    // than 240, the two builds were level within the noise (this one's
    // residual tensor +5.4-7.2% against +6.0-6.6%, in the output +0.8-1.9%
    // against +0.7-1.2%; four runs). Calls of 6 rows cost the same as of 8 (a
    // temporary switch, two runs). The 6x16 AVX2 kernel, whose 6 rows fit a
    // set's ways, is left whole: in calls of 4 rows its residual cost on
    // s4.expand was +12-14%, against +2.0-2.3%.
    let rows_per_call = if (gather.is_none() && call.rows_alias_in_l1()) || call.residual_rows_alias_in_l1() {
        cache::l1d().ways
    } else {
        count
    };
    let mut scratch = None;
    if let Some(gather) = gather {
        let stride = if gather == Gather::Planar { k } else { k + 16 };
        let mut rows = PACKED_ROWS.with(|cell| cell.take());
        rows.clear();
        rows.resize(count * stride, 0.0);
        match gather {
            Gather::Planar => {
                for p in 0..k {
                    let plane = a_k.offset(p);
                    for (i, row) in a_rows.iter().enumerate() {
                        // SAFETY: element p of row i is in bounds of the validated input.
                        rows[i * stride + p] = unsafe { *row.add(plane) };
                    }
                }
            }
            Gather::Contiguous => {
                for (i, row) in a_rows.iter().enumerate() {
                    // SAFETY: the k channels of row i are contiguous and in
                    // bounds of the validated input.
                    rows[i * stride..i * stride + k].copy_from_slice(unsafe { core::slice::from_raw_parts(*row, k) });
                }
            }
        }
        for (i, row) in a_rows.iter_mut().enumerate() {
            *row = rows[i * stride..].as_ptr();
        }
        a_k = Strides::CONTIGUOUS;
        scratch = Some(rows);
    }

    let (clamp_min, clamp_max) = call.desc.activation.kernel_clamp();
    let walkable =
        pointwise_kernels::abi::walkable_layout(&a_k, &first_view.c_cols, first_view.residual.as_ref().map(|r| &r.1));
    let mut calls = panel_calls(call, count, panels.clone(), walkable).peekable();
    let panel_stride = pack::panel_stride(k, nr);
    let weights_stream = weights_stream(call, panels.len());
    let mut at = first_view;
    while let Some((panel, panels_in_call)) = calls.next() {
        let v = view(panel);
        let columns = ((panel + panels_in_call).min(panels.end) * nr).min(n) - panel * nr;
        if panel != panels.start {
            // The same pixels, this panel's channels: every row pointer moves
            // by the same distance.
            // SAFETY: both bases lie in the validated output (or residual),
            // and so does each moved row pointer.
            unsafe {
                let c_step = v.c_base.offset_from(at.c_base);
                for row in c_rows.iter_mut() {
                    *row = row.offset(c_step);
                }
                if let (Some((r_new, _)), Some((r_old, _))) = (v.residual, at.residual) {
                    let r_step = r_new.offset_from(r_old);
                    for row in r_rows.iter_mut() {
                        *row = row.offset(r_step);
                    }
                }
            }
        }
        // The next call's panels, for the kernel to fetch into L2 while it
        // computes, where the weights do not stay there.
        let (b_next, b_next_len) = match calls.peek() {
            Some(&(next, panels_in_next)) if weights_stream => {
                (view(next).b_panel, (next + panels_in_next).min(panels.end).saturating_sub(next) * panel_stride)
            }
            _ => (core::ptr::null(), 0),
        };
        let args = TileArgs {
            m: count,
            n: columns,
            k,
            a_rows: a_rows.as_ptr(),
            a_k,
            b_panel: v.b_panel,
            b_panel_stride: panel_stride,
            bias: v.bias,
            c_rows: c_rows.as_ptr(),
            c_cols: v.c_cols,
            r_rows: if v.residual.is_some() { r_rows.as_ptr() } else { core::ptr::null() },
            r_cols: v.residual.map_or(Strides::CONTIGUOUS, |r| r.1),
            clamp_min,
            clamp_max,
            accumulate: 0,
            // The block's first panel reads its rows from wherever they are;
            // the later ones find them in L2. A copy is already in cache.
            a_cold: if panel == panels.start && scratch.is_none() { call.cold_rows() } else { A_WARM },
            b_next,
            b_next_len,
        };
        at = v;
        // One call per panel: the kernel walks the block's row tiles with the
        // panel in L1. One call for several: the kernel walks its row tiles
        // across the panels (see `calls` above).
        // SAFETY: the pointers above satisfy the ABI contract for this kernel
        // (validated shapes, the block's `count` rows, 64-byte aligned panels
        // of k·nr floats `panel_stride` apart, nr bias floats per panel), and
        // the kernel's ISA was checked when packing; so does each call of
        // rows `at..at + rows` of them (`row_tiles` covers `0..count`).
        for (at, rows) in pointwise_kernels::abi::row_tiles(count, rows_per_call) {
            unsafe { (kernel.run)(&pointwise_kernels::abi::row_range(&args, at, rows)) };
        }
    }

    if let Some(rows) = scratch {
        // Back to the thread's cache: the next block reuses the allocation.
        PACKED_ROWS.with(|cell| cell.set(rows));
    }

    // SAFETY: forwarded; the kernels wrote these outputs above.
    unsafe { activation_pass(call, out, g, first, count, panels) };
}

/// The kernel calls of a task of `count` pixels over `panels`, as (first
/// panel, panels in the call).
///
/// A block of one pixel (the M = 1 layers: classifier, squeeze-excitation)
/// hands all its panels to one kernel call, which can then run several
/// panels' FMA chains side by side. A block at a depth the kernel walks
/// panels at (`Kernel::panels_walk_depth`), when its call can be walked
/// (`walkable`: contiguous activation rows, output and residual columns),
/// hands the kernel as many panels per call as [`walk_panels_per_call`]
/// allows, but for a last panel narrower than a whole one and not half of
/// one (`walk_granule`), which gets a call of its own. Other blocks go one
/// panel at a time (and, where their weights stream from L3, each call
/// fetches the next one's panels ahead: `TileArgs::b_next`).
fn panel_calls(
    call: &Call<'_>,
    count: usize,
    panels: core::ops::Range<usize>,
    walkable: bool,
) -> impl Iterator<Item = (usize, usize)> {
    let (kernel, nr) = (call.kernel, call.kernel.nr);
    let walk_panels = if count > 1 && call.k() <= kernel.panels_walk_depth && walkable {
        walk_panels_per_call(
            panels.len(),
            4 * pack::panel_stride(call.k(), nr),
            cache::walk_panel_budget_bytes(),
            weights_stream(call, panels.len()),
        )
    } else {
        0
    };
    let narrow_last = walk_panels > 0
        && !call.n().is_multiple_of(pointwise_kernels::abi::walk_granule(nr))
        && panels.end == pack::panels(call.n(), nr);
    let per_call = if count == 1 { panels.len() } else { walk_panels.max(1) };
    cut_panels(panels, per_call, narrow_last)
}

/// How many of a task's `panels` panels (of `panel_bytes` each) one walked
/// call takes, 0 for none walked: all of them where they fit the walk's
/// `budget` (`cache::walk_panel_budget_bytes`); where they do not but stay
/// in L2 between calls (not `streams`: see [`weights_stream`]), as many as
/// the budget allows, in an even number (the 12x32 AVX-512 kernel walks
/// pairs); and none where they stream from L3.
///
/// Walks in calls of the budget's panels, against one panel per call (Intel
/// Xeon, 2 MiB L2, a budget of 1 MiB; in turn in one process, three runs;
/// AVX2 kernels forced, two): mobilenetv2.head (1.6 MiB of weights, K = 320)
/// +4.1-4.9%, AVX2 +3.5-3.9%; resnet50.s4.downsample (2 MiB) +1.0-1.8%,
/// AVX2 +1.7-3.5%; mobilenetv2.b17.project (1.2 MiB) −1.0 to +1.5%, AVX2
/// +1.4-2.1%. Calls of even sizes instead (head in two calls of 20 panels,
/// not 24 and 16) ran level with these (builds alternated six times).
/// Where the weights stream from L3, the same calls lost 8-9% on
/// resnet50.s5.reduce, s5.expand and s5.downsample (4-8 MiB): each call's
/// first row tile then reads its panels from L3, which the walks do not
/// fetch ahead.
fn walk_panels_per_call(panels: usize, panel_bytes: usize, budget: usize, streams: bool) -> usize {
    if panels.saturating_mul(panel_bytes) <= budget {
        panels
    } else if streams {
        0
    } else {
        budget / panel_bytes.max(1) / 2 * 2
    }
}

/// `panels` in calls of `per_call` (`>= 1`), as (first panel, panels in the
/// call), the last one alone when `narrow_last`.
fn cut_panels(
    panels: core::ops::Range<usize>,
    per_call: usize,
    narrow_last: bool,
) -> impl Iterator<Item = (usize, usize)> {
    let end = panels.end - usize::from(narrow_last && !panels.is_empty());
    (panels.start..end)
        .step_by(per_call.max(1))
        .map(move |panel| (panel, per_call.min(end - panel)))
        .chain((narrow_last && !panels.is_empty()).then(|| (panels.end - 1, 1)))
}

/// Whether a task's `panels` weight panels stream from L3 or memory on each
/// call rather than stay in L2 between calls: more of them than this core's
/// L2 holds. Its calls then give the kernel the next call's panels to fetch
/// ahead (`TileArgs::b_next`). Where they fit, the fetch finds them in L2
/// already and only costs its instructions: mobilenetv2.b17.project (1.2 MiB
/// of weights, 2 MiB L2) ran 1.2% slower with it.
fn weights_stream(call: &Call<'_>, panels: usize) -> bool {
    panels.saturating_mul(4 * pack::panel_stride(call.k(), call.kernel.nr)) > cache::l2_bytes()
}

/// The activation that the kernels' clamp does not fuse (sigmoid, ...), over
/// the outputs of a task that the kernels have written.
///
/// # Safety
/// As for `run_block`.
unsafe fn activation_pass(
    call: &Call<'_>,
    out: *mut f32,
    g: usize,
    first: usize,
    count: usize,
    panels: core::ops::Range<usize>,
) {
    if call.desc.activation.needs_pass() {
        let (n, nr) = (call.n(), call.kernel.nr);
        let first_channel = g * n + panels.start * nr;
        let channels = (panels.end * nr).min(n) - panels.start * nr;
        let (c_channel, c_cols) = call.out_geometry.channels_from(call.out_desc.channel_offset + first_channel);
        for_each_pixel(call, first, count, |_, off| {
            c_cols.for_each_run(channels, |_, offset, len| {
                // SAFETY: these outputs belong to this task and were just written;
                // no other reference to them is live.
                let run = unsafe { core::slice::from_raw_parts_mut(out.add(off[1] + c_channel + offset), len) };
                call.desc.activation.apply_slice(run);
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{cut_panels, walk_panels_per_call};

    #[test]
    fn walked_calls_take_what_the_budget_and_the_l2_allow() {
        const KIB: usize = 1024;
        // All of them where they fit the budget.
        assert_eq!(walk_panels_per_call(8, 128 * KIB, 1024 * KIB, false), 8);
        // Past the budget but within L2: the budget's panels, an even number.
        // mobilenetv2.head, 40 panels of 40 KiB: calls of 24 (and 16).
        assert_eq!(walk_panels_per_call(40, 40 * KIB, 1024 * KIB, false), 24);
        // resnet50.s4.downsample, 32 panels of 64 KiB: calls of 16.
        assert_eq!(walk_panels_per_call(32, 64 * KIB, 1024 * KIB, false), 16);
        // 30 panels of 48 KiB (21 fit the budget): calls of 20 (and 10).
        assert_eq!(walk_panels_per_call(30, 48 * KIB, 1024 * KIB, false), 20);
        // A budget of fewer than two panels: none walked.
        assert_eq!(walk_panels_per_call(3, 600 * KIB, 1024 * KIB, false), 0);
        // Past L2 (the weights stream from L3): none walked.
        assert_eq!(walk_panels_per_call(64, 128 * KIB, 1024 * KIB, true), 0);
        // A budget larger than the L2 (AMD: a third of the L3): all of them,
        // streaming or not.
        assert_eq!(walk_panels_per_call(64, 128 * KIB, 10 * 1024 * KIB, true), 64);
    }

    #[test]
    fn cut_panels_covers_each_panel_once() {
        for start in 0..4 {
            for len in 0..20 {
                for per_call in 1..8 {
                    for narrow_last in [false, true] {
                        let calls: Vec<_> = cut_panels(start..start + len, per_call, narrow_last).collect();
                        let mut next = start;
                        for &(first, count) in &calls {
                            assert_eq!(first, next, "{calls:?}");
                            assert!(count >= 1 && count <= per_call, "{calls:?}");
                            next += count;
                        }
                        assert_eq!(next, start + len, "{calls:?}");
                        if narrow_last && len > 0 {
                            assert_eq!(calls.last(), Some(&(start + len - 1, 1)), "{calls:?}");
                        }
                    }
                }
            }
        }
    }
}
