//! The panel walk of the x86-64 kernels that walk (see
//! [`Kernel::panels_walk_depth`](crate::abi::Kernel)): one row tile of a
//! call that spans several panels, across all of them, its rows staying in
//! L1 and its output and residual rows written and read whole. Written once
//! over [`Lanes`], the few vector operations it needs, which the AVX2 and
//! AVX-512 kernels provide for their register width, and over
//! [`CallRows`], so that the kernels' strided entry points walk too, each
//! row's address computed from its stride ([`walk_strided_tile`]).
//!
//! Its k loop is its own, not the general tiles': a panel loop inside those,
//! around their masked and elementwise epilogues, made LLVM store all 24
//! accumulators of the 12x32 AVX-512 tile on the stack after every k loop,
//! and ran 1-7% slower than one call per panel.

use super::rows::{CallRows, IndirectRows, StridedRows};
use crate::abi::{NextRows, StridedArgs, TileArgs};
#[cfg(doc)]
use crate::abi::{A_COLD, A_STREAMED};

/// How many k steps before the end of a panel's k loop the walk prefetches
/// the panel's residual lines into L1, for its epilogue (from the start, at
/// depths up to this).
///
/// The residual's loads are what a residual costs: with the loads dropped
/// (an experiment, results wrong), bias + residual + ReLU ran as fast as
/// bias + ReLU. Fetched at the panel's start, the lines did as little as no
/// prefetch at depths 128 and 256 (likely gone from L1 again: the k loop
/// reads 12-32 KiB of panel and rows), and so did a fetch into L2 alone
/// (`prefetcht1`, `t2`) 32 steps ahead. 8, 16, 48 and 64 steps ahead did no
/// better than 32; nor did fetching the next row tile's residual into L2,
/// each row's lines at its own step of the 32 (staggered rather than in one
/// burst), or the next panel's lines (one panel ahead): on s2.expand, +6.4 to
/// +8.7% over bias + ReLU for both, against +7.5 to +7.8% for this one (two
/// runs, 2026-11-27).
///
/// What bias + residual + ReLU cost over bias + ReLU, Zen 4, the variants
/// timed in turn in one process, without and with the prefetch (runs apart
/// from the README's, which time against the plain layer):
/// * 12x32 AVX-512: s2.reduce +6.3-17.3% and +3.5-12.1%, s3.expand +9.0-19.5%
///   and +4.4-7.0%, s4.expand +4.8-9.1% and +3.2-5.4% (three runs);
///   s2.expand (K = 64) +22-31% and +8.5-9.7% (two runs);
/// * 6x16 AVX2: s2.reduce +3.4-10.5% and +2.7-5.2%, s3.expand +1.3-4.9% and
///   +3.1-3.7%, s4.expand +3.5-4.7% and +1.4-3.5%; s2.expand +18-22% and
///   +8.6-11%.
///
/// The prefetches themselves cost 2-5% of s2.expand (prefetching without
/// the loads). What remains is the traffic of 3 MiB of residual besides 3
/// MiB of output on s2.expand, and L1 associativity where a 12-row tile's
/// residual and output rows are 4 KiB apart (1024 channels: the same line
/// of every row in one set of 8 ways on Zen 4), which the driver now avoids
/// by handing such tiles to the kernel in calls of at most 8 rows
/// (s4.expand from +3.6-4.5% to +1.5-2.5%; `residual_rows_alias_in_l1` in
/// the driver). Non-temporal stores for the output (an experiment: no read
/// for ownership, so that the residual would be the only stream read, as
/// with the residual in the output) did not help s2.expand: +6.2% over
/// bias and ReLU in two runs, against +5.2 and +6.5% without (12x32 Zen 4
/// kernel, a noisy hour).
const RESIDUAL_PREFETCH_STEPS: usize = 32;

/// The vector operations of one register width that the walk uses.
///
/// The methods have no `#[target_feature]`, so that they can be
/// `#[inline(always)]`: they are only ever inlined into the walking kernels,
/// which enable the ISA (as the epilogues of the AVX-512 tiles are).
///
/// # Safety
/// Each method's intrinsics need the implementation's ISA: an
/// implementation may only be used from code that runs on a CPU with it.
pub(crate) unsafe trait Lanes {
    /// One register of `LANES` floats.
    type Vector: Copy;
    /// Floats per register.
    const LANES: usize;
    /// k steps per pass of the walk's k loop (see [`k_steps`]).
    const K_UNROLL: usize;
    /// The same, for steps over two panels at a time (see [`walk_rows`]).
    const PAIR_K_UNROLL: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self::Vector;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::Vector;
    /// All lanes the float at `p` (readable).
    unsafe fn broadcast(p: *const f32) -> Self::Vector;
    /// `LANES` floats at `p` (readable, aligned to the register width).
    unsafe fn load_aligned(p: *const f32) -> Self::Vector;
    /// `LANES` floats at `p` (readable).
    unsafe fn load(p: *const f32) -> Self::Vector;
    /// Writes `x` to the `LANES` floats at `p` (writable).
    unsafe fn store(p: *mut f32, x: Self::Vector);
    /// `a·b + c`, fused.
    unsafe fn fmadd(a: Self::Vector, b: Self::Vector, c: Self::Vector) -> Self::Vector;
    /// `a + b`.
    unsafe fn add(a: Self::Vector, b: Self::Vector) -> Self::Vector;
    /// Whether the walk's stores may leave out an infinite bound of the
    /// clamp (see [`open_clamp_bounds`]).
    const SKIPS_OPEN_CLAMP_BOUNDS: bool;
    /// Whether a last half panel (one vector of a two-vector panel) runs its
    /// k loop on two sets of accumulators, even and odd depths (see
    /// [`k_steps`]). Its kernel's other paths must sum such panels the same
    /// way, so that the results are the same bits whichever path a column
    /// takes.
    const SPLITS_HALF_PANELS: bool;
    /// `max(lo, x)`, lane by lane, NaN kept: it returns its second operand
    /// when either is NaN.
    unsafe fn max(lo: Self::Vector, x: Self::Vector) -> Self::Vector;
    /// `min(hi, x)`, lane by lane, NaN kept as by [`Lanes::max`].
    unsafe fn min(hi: Self::Vector, x: Self::Vector) -> Self::Vector;
    /// `min(hi, max(lo, x))`, lane by lane, NaN kept.
    #[inline(always)]
    unsafe fn clamp(lo: Self::Vector, hi: Self::Vector, x: Self::Vector) -> Self::Vector {
        // SAFETY: the CPU has the implementation's ISA (the caller's contract).
        unsafe { Self::min(hi, Self::max(lo, x)) }
    }
}

/// What the walk reads of a call besides its rows.
pub(crate) struct WalkCall {
    /// Columns of the call.
    n: usize,
    /// Depth.
    k: usize,
    /// The call's first panel.
    b_panel: *const f32,
    /// Floats from one panel to the next.
    b_panel_stride: usize,
    /// `NR` floats per panel, or null.
    bias: *const f32,
    clamp_min: f32,
    clamp_max: f32,
}

impl WalkCall {
    /// What the walk reads of `t` besides its rows.
    #[inline(always)]
    pub(crate) fn of(t: &TileArgs) -> Self {
        WalkCall {
            n: t.n,
            k: t.k,
            b_panel: t.b_panel,
            b_panel_stride: t.b_panel_stride,
            bias: t.bias,
            clamp_min: t.clamp_min,
            clamp_max: t.clamp_max,
        }
    }

    /// What the walk reads of `s` besides its rows.
    #[inline(always)]
    pub(crate) fn of_strided(s: &StridedArgs) -> Self {
        WalkCall {
            n: s.n,
            k: s.k,
            b_panel: s.b_panel,
            b_panel_stride: s.b_panel_stride,
            bias: s.bias,
            clamp_min: s.clamp_min,
            clamp_max: s.clamp_max,
        }
    }
}

/// The pieces that a streaming walk ([`walk_streams`]) cuts each panel's k
/// loop into, fetching an equal share of the next tile's rows before each:
/// the lines then reach L2's miss queue a few dozen at a time rather than a
/// panel's worth at once.
const STREAM_PIECES: usize = 4;
// A piece's stop is `len · (pieces - 1 - piece) / pieces`, with `len` at
// most `isize::MAX / 4` floats: the product fits in a usize up to 9 pieces.
const _: () = assert!(STREAM_PIECES <= 9);

/// Whether a walk streams: fetches the next row tile's rows into L2 while it
/// computes the current one, an equal share before each of the
/// [`STREAM_PIECES`] pieces of each panel's k loop (lines in the order that
/// tile reads them), and each panel's output lines into L1 before its k
/// loop. On a block's first read of rows whose hint ([`TileArgs::a_cold`])
/// is `from` or later ([`A_COLD`] < [`A_STREAMED`]), where
/// [`super::streams_rows`] says so (depths of 512 and more, tiles of at
/// least half the kernel's rows, rows that do not alias in L1).
///
/// The 6x16 AVX2 kernel streams from [`A_COLD`], the 12x32 AVX-512 kernels'
/// 12-row walks from [`A_STREAMED`] (the generic kernel's walks of 64
/// columns or more, in 6-row pairs of panels, do not stream). Measured on
/// Zen 4 (1 MiB L2), one thread, the variants timed in turn in one process
/// (two runs), resnet50.s3.reduce at
/// batches 1, 2 and 8 (1.5, 3.1 and 12.25 MiB of input), against no fetch
/// ahead and against a panel's share fetched at once (with the output
/// lines):
/// * AVX2: batch 8 +9.1-9.4% and +2-3%, batch 2 +1.8-1.9% and +0.7-2.2%,
///   batch 1 +0.3-0.7% and +0.4-1.5%; the layers whose inputs fit in L2
///   (mobilenetv2.b15.project, b17.project, resnet50.s5.expand) −0.6 to
///   +0.1% and +0.4-0.8%.
/// * AVX-512: batch 8 +5.2-5.9% and +3.6-3.9%; batch 2 +0.1 and −0.7%,
///   batch 1 −1.0 and −3.5% (hence [`A_STREAMED`] from twice L2, in the
///   driver); batch 4 and 16 +4.2-6.1%. The output lines alone were 1-3% of
///   the gain from batch 4 up: 3.1 MiB of output at batch 8 is in no cache
///   when it is written.
///
/// Against the build before (the AVX2 walk fetched a panel's share at once
/// and no output lines, the AVX-512 walk nothing), builds alternated three
/// times: batch 8 with AVX-512 kernels 108.6-109.0
/// GFLOP/s against 103.2-104.0, with AVX2 108.8-109.6 against 103.8-106.0;
/// the L2-sized layers above within the noise.
///
/// The fetch code's values are read through an opaque reference to the
/// stack: the 12-row tile's k loop takes 14 general-purpose registers and,
/// between pieces, a stop in a 15th; with the values in registers, two row
/// pointers were reloaded from the stack at every k step. Also tried: k
/// loops in chunks of 16 or 64 steps (a stop at a test of the index's low
/// bits), each fetching a few rows' lines: batch 8 no faster than no fetch
/// on AVX-512 (builds alternated). And, with temporary switches timed in
/// turn in one process (AVX-512, batch 8, two runs each, 2026-11-27): 2, 8
/// or 16 pieces instead of 4 (−0.6%, −2%, −6%: past 4, the k loop's
/// restarts cost more than finer shares gain; one piece −0.3 to −0.7%); the
/// tile after the next one fetched as well (±0.2%); a call's last tile fetching the
/// next block's first rows (±0.4%); non-temporal output stores (−2.3 to
/// −3.0%). What the batch of 8 still loses is its streams:
/// `examples/batch_streams.rs` (one call per image, each with its own input
/// and output, or reading one image's input or writing one image's output
/// again and again) puts the input's cost at 5-7% and the output's at 2.5-5%
/// without a fetch ahead, and the one call over the batch, which fetches,
/// 4-6% below the calls that read and write cached images (three runs).
#[inline(always)]
pub(crate) fn walk_streams(t: &TileArgs, mr: usize, from: u32) -> bool {
    t.a_cold >= from && super::streams_rows(t, mr)
}

/// One row tile of `MR == t.m` rows across all of `t`'s panels of `2·LANES`
/// columns, and a last half panel, `STEP_V` vectors of columns at a time,
/// or two whole panels at a time while two are left (`PAIR_W` = 4; 0:
/// never; see [`walk_rows`]); a `STREAM` tile fetches `next`'s rows and its
/// panels' output lines as it goes ([`walk_streams`]), and then steps one
/// whole panel at a time (`STEP_V == 2`, no pairs). `MR` is first so that
/// `per_row_count!` can name the instance.
///
/// # Safety
/// The ABI contract for `NR = 2·LANES`, with `t.m == MR`, `t.n` a multiple of
/// `LANES`, contiguous activation rows, output columns and residual columns,
/// no accumulate, and a residual exactly when `RESIDUAL`; `next` holds
/// `next.count` readable row pointers; the CPU has the ISA of `L`.
#[inline(always)]
pub(crate) unsafe fn walk_tile<
    const MR: usize,
    L: Lanes,
    const STEP_V: usize,
    const PAIR_W: usize,
    const STREAM: bool,
    const RESIDUAL: bool,
>(
    t: &TileArgs,
    next: NextRows,
) {
    // The stream's shares are counted in whole panels, one step each.
    const { assert!(!STREAM || (STEP_V == 2 && PAIR_W == 0)) };
    let rows = IndirectRows::of(t);
    let nr = 2 * L::LANES;
    let ahead = (next, t.c_rows, t.c_cols.offset(0), t.k, t.n.div_ceil(nr));
    let before_piece = |first: usize, piece: usize| {
        if STREAM {
            // Read through an opaque reference to the stack, so that none of
            // it stays in a register across the k loops: there, a 12-row
            // tile's loop takes all 14 general-purpose registers, and two row
            // pointers were otherwise reloaded from the stack at every step.
            let (next, c_rows, c_offset, k, panels) = *core::hint::black_box(&ahead);
            if piece == 0 {
                for r in 0..MR {
                    // SAFETY: r < MR: c_rows[r] is readable, and columns
                    // c_offset + first.. of the row are the tile's (a
                    // prefetch past them, in a last half panel, never
                    // faults).
                    unsafe { super::prefetch_span((*c_rows.add(r)).add(c_offset + first), nr) };
                }
            }
            // SAFETY: the caller's contract on `next`.
            unsafe {
                super::prefetch_next_rows_share(
                    &next,
                    MR,
                    k,
                    first / nr * STREAM_PIECES + piece,
                    panels * STREAM_PIECES,
                )
            };
        }
    };
    let pieces = if STREAM { STREAM_PIECES } else { 1 };
    // SAFETY: forwarded.
    unsafe { walk_rows::<L, MR, 2, STEP_V, PAIR_W, RESIDUAL, _>(&WalkCall::of(t), &rows, pieces, before_piece) }
}

/// Whether a kernel's strided entry point walks `s` ([`walk_strided_tile`])
/// rather than handing it to its indirect entry point: rows enough for a
/// tile of two, columns in whole vectors of `lanes`, and a depth up to
/// [`STRIDED_WALK_DEPTH`].
#[inline(always)]
pub(crate) fn walks_strided(s: &StridedArgs, lanes: usize) -> bool {
    s.m >= 2 && s.n.is_multiple_of(lanes) && s.k <= STRIDED_WALK_DEPTH
}

/// The deepest call a strided entry point walks. Deeper calls go to the
/// indirect entry point, whose walk streams where `walk_streams` says so
/// (from K = 512), which the strided walk does not.
/// The tile table's `strided_depth` of the general kernels is at most this
/// (`tests/kernels.rs` checks).
pub const STRIDED_WALK_DEPTH: usize = 256;

/// One row tile of a strided call: `m` rows from `rows`, across all the
/// call's panels.
pub(crate) struct StridedTile<'a> {
    /// The call.
    pub call: &'a WalkCall,
    /// The call's rows from the tile's first.
    pub rows: StridedRows,
    /// Rows in the tile.
    pub m: usize,
}

impl<'a> StridedTile<'a> {
    /// Rows `first..first + m` of `s`, whose walk reads `call`.
    #[inline(always)]
    pub(crate) fn of(call: &'a WalkCall, s: &StridedArgs, first: usize, m: usize) -> Self {
        StridedTile { call, rows: StridedRows::of(s, first), m }
    }
}

/// [`walk_rows`] on the tile of a strided call, whose panels hold `PANEL_V`
/// vectors, `STEP_V` of them at a time, or two whole panels at a time
/// (`PAIR_W` vectors, see [`walk_rows`]) while two are left; `MR` is first
/// so that `per_row_count!` can name the instance.
///
/// # Safety
/// The contract of the strided call, for `NR = PANEL_V·LANES`, with
/// `tile.m == MR`, the call's `n` a multiple of `LANES`, and a residual
/// exactly when `RESIDUAL`; the CPU has the ISA of `L`.
#[inline(always)]
pub(crate) unsafe fn walk_strided_tile<
    const MR: usize,
    L: Lanes,
    const PANEL_V: usize,
    const STEP_V: usize,
    const PAIR_W: usize,
    const RESIDUAL: bool,
>(
    tile: &StridedTile,
) {
    debug_assert_eq!(tile.m, MR);
    // SAFETY: forwarded; a strided call has contiguous rows and columns
    // (residual columns included), and no accumulate.
    unsafe { walk_rows::<L, MR, PANEL_V, STEP_V, PAIR_W, RESIDUAL, _>(tile.call, &tile.rows, 1, |_, _| {}) }
}

/// One row tile of `MR` rows (`rows` from its first) across all of `call`'s
/// panels of `PANEL_V` vectors, and a last panel of fewer whole vectors,
/// `STEP_V` vectors of columns at a time: one k loop over the whole panel
/// (`STEP_V == PANEL_V`), or one over each of its vectors (`STEP_V == 1`,
/// see `f32_pw_12x32__avx512f_zen4`). Each step's k loop runs in `pieces`
/// pieces of about equal depth, and `before_piece(first, piece)` runs
/// before piece `piece` of the step of columns `first..`.
///
/// With `PAIR_W = 2·PANEL_V` (0: never), a step takes two whole panels at
/// once while two are left: `PAIR_W` accumulators per row, each activation
/// broadcast feeding all of them, the two panels' rows loaded from their own
/// addresses (`b_panel_stride` apart). Each output element is still the same
/// chain of FMAs over k from its bias, so the results are the same bits as
/// panel by panel. It is for tiles of half the rows (a 6x64 tile of the 12x32
/// kernel: 24 accumulators, 4 panel loads and 6 broadcasts per 24 FMAs,
/// against 2 and 12), which read each activation row once per pair rather
/// than once per panel: see `pairs_of_panels` in `avx512.rs`.
///
/// # Safety
/// The contract of the call that `call` and `rows` describe, for `NR =
/// PANEL_V·LANES`, with `MR` rows, `n` a multiple of `LANES`, contiguous
/// activation rows, output columns and residual columns, no accumulate, and
/// a residual exactly when `RESIDUAL`; the CPU has the ISA of `L`.
#[inline(always)]
unsafe fn walk_rows<
    L: Lanes,
    const MR: usize,
    const PANEL_V: usize,
    const STEP_V: usize,
    const PAIR_W: usize,
    const RESIDUAL: bool,
    R: CallRows,
>(
    call: &WalkCall,
    rows: &R,
    pieces: usize,
    mut before_piece: impl FnMut(usize, usize),
) {
    // A step is a whole panel or one vector of it, or two whole panels, so
    // that no step straddles a panel's end.
    const { assert!(STEP_V == PANEL_V || STEP_V == 1) };
    const { assert!(PAIR_W == 0 || PAIR_W == 2 * PANEL_V) };
    let step = STEP_V * L::LANES;
    let pair = 2 * PANEL_V * L::LANES;
    // SAFETY: the tile has MR >= 1 rows; element k is one past each row's
    // last (contiguous rows).
    let ends: [*const f32; MR] = unsafe { rows.a_rows_at(call.k) };
    let mut first = 0;
    while first < call.n {
        let before_piece = |piece| before_piece(first, piece);
        if PAIR_W != 0 && first + pair <= call.n {
            // SAFETY: forwarded; columns first..first + 2·NR are the tile's,
            // two whole panels (`first` is a whole number of panels in).
            unsafe {
                walk_panel::<L, MR, PANEL_V, PAIR_W, 2, 1, RESIDUAL, R>(call, rows, &ends, first, pieces, before_piece)
            };
            first += pair;
            continue;
        }
        // SAFETY: forwarded; columns first..first + STEP_V·LANES (or, in a
        // last panel of one vector, first + LANES) are the tile's, within
        // one panel.
        unsafe {
            if STEP_V == 1 || first + step <= call.n {
                walk_panel::<L, MR, PANEL_V, STEP_V, 1, 1, RESIDUAL, R>(call, rows, &ends, first, pieces, before_piece);
            } else if L::SPLITS_HALF_PANELS {
                walk_panel::<L, MR, PANEL_V, 1, 1, 2, RESIDUAL, R>(call, rows, &ends, first, pieces, before_piece);
            } else {
                walk_panel::<L, MR, PANEL_V, 1, 1, 1, RESIDUAL, R>(call, rows, &ends, first, pieces, before_piece);
            }
        }
        first += step;
    }
}

/// [`walk_rows`]' work on the `V` vectors of columns `first..` (`PANEL_V`:
/// a whole panel; 1: one vector of a panel, or a last panel of one vector;
/// with `P = 2` panels, `2·PANEL_V`: two whole panels, `V / P` vectors of
/// each). The bias, the k loop in `pieces` pieces (`before_piece(piece)`
/// before each) on `SETS` sets of accumulators (1, or 2 for a last half
/// panel: see [`k_steps`]), the residual and the clamped stores.
///
/// # Safety
/// As for [`walk_rows`]; `ends` holds the tile's row pointers moved to
/// element k; columns `first..first + V·LANES` are the tile's, within one
/// panel (or, with `P = 2`, the two whole panels from `first`), and `first`
/// is a multiple of `LANES`; `pieces >= 1`.
#[inline(always)]
unsafe fn walk_panel<
    L: Lanes,
    const MR: usize,
    const PANEL_V: usize,
    const V: usize,
    const P: usize,
    const SETS: usize,
    const RESIDUAL: bool,
    R: CallRows,
>(
    call: &WalkCall,
    rows: &R,
    ends: &[*const f32; MR],
    first: usize,
    pieces: usize,
    mut before_piece: impl FnMut(usize),
) {
    let (lanes, nr, len) = (L::LANES, PANEL_V * L::LANES, call.k);
    // SAFETY (every block below): the CPU has L's ISA (the caller's contract).
    let mut sets = [[[unsafe { L::zero() }; V]; MR]; SETS];
    if !call.bias.is_null() {
        for v in 0..V {
            // SAFETY: bias holds the n columns' floats.
            let b = unsafe { L::load(call.bias.add(first + v * lanes)) };
            for row in sets[0].iter_mut() {
                row[v] = b;
            }
        }
    }
    // SAFETY: the panel of columns `first..` exists, and column `first` is
    // in it, `first % nr` floats into each of its rows.
    let mut panel = unsafe { call.b_panel.add(first / nr * call.b_panel_stride + first % nr) };
    // The second panel of a pair, this many floats on.
    let stride = call.b_panel_stride;
    // `len` floats lie in one allocation, so `len <= isize::MAX / 4` (and
    // `len · (pieces - 1)` below fits in a usize: see `STREAM_PIECES`). The index
    // counts up to 0 from -len: the loop needs no end register besides the
    // row pointers, the index and the panel pointer (the 12-row tile takes
    // all 14 general-purpose registers there are).
    let mut i = -(len as isize);
    for piece in 0..pieces {
        before_piece(piece);
        if piece + 1 < pieces {
            let stop = -((len * (pieces - 1 - piece) / pieces) as isize);
            // SAFETY: forwarded; -len <= i <= stop <= 0, the stops rising
            // with the pieces.
            unsafe { k_steps::<L, MR, PANEL_V, V, P, SETS>(&mut sets, ends, &mut panel, stride, len, &mut i, stop) };
        }
    }
    if RESIDUAL {
        // A constant stop, which the loop compares with as an immediate.
        let fetch_at = -(RESIDUAL_PREFETCH_STEPS as isize);
        if i < fetch_at {
            // SAFETY: forwarded; -len < fetch_at < 0.
            unsafe {
                k_steps::<L, MR, PANEL_V, V, P, SETS>(&mut sets, ends, &mut panel, stride, len, &mut i, fetch_at)
            };
        }
        for r in 0..MR {
            // SAFETY: r < MR: the call has a residual, and columns first..
            // of each row are the tile's. Opaque, so that the addresses are
            // computed again for the loads after the k loop rather than held
            // in registers through it.
            unsafe { super::prefetch_span(core::hint::black_box(rows.r_row(r)).add(first), V * lanes) };
        }
    }
    // SAFETY: forwarded; -len <= i <= 0.
    unsafe { k_steps::<L, MR, PANEL_V, V, P, SETS>(&mut sets, ends, &mut panel, stride, len, &mut i, 0) };
    // SAFETY: the CPU has L's ISA.
    let mut acc = unsafe { fold_sets::<L, MR, V, SETS>(&sets) };
    // Read again through an opaque reference, so that the 12-row tile's k
    // loop over one vector of a panel keeps all its row pointers in
    // registers: holding `first` through it, one residual instance of the
    // Zen 4 kernel's vector walk reloaded a row pointer from the stack at
    // every step. (The generic walks' last half panels, V = 1 too, take the
    // same path; their speed did not move, alternated with the build before.)
    let first = if V / P < PANEL_V { *core::hint::black_box(&first) } else { first };
    // Every residual load of the panel comes before its first store: a load
    // that follows a store to an address a multiple of 4 KiB away waits for
    // that store, and residual and output rows of 2 or 4 KiB (N = 512,
    // 1024), page-aligned as large allocations are, put each row's residual
    // a multiple of 4 KiB from an earlier row's output. What bias + residual
    // + ReLU cost over the plain layer at 7x7 pixels, all in L2 (medians of
    // three alternated runs, Zen 4), loaded between the stores and loaded
    // first: K = 128, N = 512: AVX-512 4.0% and 2.4%, AVX2 5.5% and 1.2%;
    // K = 256, N = 1024: AVX-512 5.1% and 4.7%, AVX2 6.5% and 2.1%.
    if RESIDUAL {
        for (r, acc_row) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR; columns first..first + V·LANES of the residual
            // row are the tile's (contiguous).
            unsafe {
                let residual = rows.r_row(r).add(first);
                for (v, x) in acc_row.iter_mut().enumerate() {
                    *x = L::add(*x, L::load(residual.add(v * lanes)));
                }
            }
        }
    }
    // SAFETY: forwarded; the bounds each instance leaves out are the
    // infinite ones that `open_clamp_bounds` reports.
    unsafe {
        match open_clamp_bounds::<L>(call) {
            (true, true) => store_rows::<L, MR, V, false, false, R>(call, rows, &acc, first),
            (false, true) => store_rows::<L, MR, V, true, false, R>(call, rows, &acc, first),
            // An infinite lower bound under a finite upper one (a clamp
            // activation that no network layer here uses) keeps both rather
            // than cost every walk a fourth store instance.
            (true, false) | (false, false) => store_rows::<L, MR, V, true, true, R>(call, rows, &acc, first),
        }
    }
}

/// Which bounds of `call`'s clamp are infinite, `(lower, upper)`, on the
/// register types whose walks leave such bounds out of their stores
/// ([`store_rows`], [`Lanes::SKIPS_OPEN_CLAMP_BOUNDS`]); `(false, false)`
/// on the others. `Activation::None` gives both, ReLU the upper one. The
/// stores are the same bits either way under the default MXCSR (and with
/// flush-to-zero): `max(-inf, x)` and `min(+inf, x)` are `x`, NaN, −0.0
/// and infinities included. (With denormals-are-zero set alone, a
/// denormal result would go out as it is rather than as zero.)
///
/// On AVX2 each bound is a µop per vector stored, on the ports that also
/// take the FMAs: 12 per 6x16 tile, against 12 FMAs per k step. Both left
/// out, measured with the AVX2 kernels forced on an Intel Xeon (Emerald
/// Rapids), CLI builds alternated 16 times, medians of the per-run ratios
/// (two sets of runs): mobilenetv2.b2.expand (K = 16) +5.1-5.2%, b3.expand
/// (K = 24) +2.8-2.9%, b5.expand (K = 32) +3.6-3.9%, resnet50.s2.expand
/// and s2.first (K = 64) +1.9-2.4%, shufflenet.grouped +1.9%, b8.expand,
/// b12.expand and s3.expand +1.2-2.6%. Measured on the 6x16 walks; the 8x8
/// kernel's strided walk shares the code. The 12x32 AVX-512 walks ran five
/// of nine such layers 0.5-2.5% slower without the bounds and the other
/// four within ±0.8% (12 and 20 alternations; not explained: the k loops
/// and their alignment stayed the same), so every zmm walk keeps both.
#[inline(always)]
fn open_clamp_bounds<L: Lanes>(call: &WalkCall) -> (bool, bool) {
    if L::SKIPS_OPEN_CLAMP_BOUNDS {
        (call.clamp_min == f32::NEG_INFINITY, call.clamp_max == f32::INFINITY)
    } else {
        (false, false)
    }
}

/// Clamps (the lower bound where `LOWER`, the upper where `UPPER`) and
/// stores the `MR` rows of `acc` to columns `first..first + V·LANES` of the
/// output rows. A bound left out must be infinite ([`open_clamp_bounds`]),
/// or the results differ.
///
/// # Safety
/// As for [`walk_panel`], whose accumulators `acc` are.
#[inline(always)]
unsafe fn store_rows<L: Lanes, const MR: usize, const V: usize, const LOWER: bool, const UPPER: bool, R: CallRows>(
    call: &WalkCall,
    rows: &R,
    acc: &[[L::Vector; V]; MR],
    first: usize,
) {
    debug_assert!(LOWER || call.clamp_min == f32::NEG_INFINITY);
    debug_assert!(UPPER || call.clamp_max == f32::INFINITY);
    let lanes = L::LANES;
    // SAFETY: the CPU has L's ISA (the caller's contract).
    let (lo, hi) = unsafe { (L::splat(call.clamp_min), L::splat(call.clamp_max)) };
    for (r, acc_row) in acc.iter().enumerate() {
        // SAFETY: r < MR; columns first..first + V·LANES of the output row
        // are the tile's (contiguous); the CPU has L's ISA.
        unsafe {
            let c = rows.c_row(r).add(first);
            for (v, &x) in acc_row.iter().enumerate() {
                let x = if LOWER { L::max(lo, x) } else { x };
                let x = if UPPER { L::min(hi, x) } else { x };
                L::store(c.add(v * lanes), x);
            }
        }
    }
}

/// The k steps of [`walk_panel`] from index `*i` (counting up to 0 from
/// `-len`) to `stop`: `V` vectors of one panel row (of `PANEL_V` vectors),
/// or `V / 2` of each of two panels' rows `stride` floats apart (`P = 2`),
/// and one element of each activation row per step, `panel` moving along;
/// [`Lanes::K_UNROLL`] steps per pass (or `PAIR_K_UNROLL` with `P = 2`)
/// while as many are left, then one at a time. The same FMAs in the same
/// order whatever the unroll, so the same bits.
///
/// With `SETS = 2`, depth `d` (the step at index `d - len`) accumulates
/// into `sets[d % 2]`, which [`fold_sets`] then adds in that order: the
/// one-vector steps of a 6-row half panel are 6 FMA chains, too few to
/// cover the FMA's latency (4 cycles, 2 FMAs a cycle: 8 chains), and two
/// sets make them 12. Every step still goes to the set of its depth, so the
/// bits do not depend on where the walk's stops fall.
///
/// # Safety
/// As for [`walk_panel`]; `-len <= *i <= stop <= 0`, and `panel` points a
/// whole number of vectors into the panel's row `len + *i`, `V / P` vectors
/// before its end or more. With `P = 2`, `panel` is at its row's start, and
/// the next panel, `stride` floats on, is one of the call's whole panels
/// (columns `first + NR..first + 2·NR` within `n`).
#[inline(always)]
unsafe fn k_steps<
    L: Lanes,
    const MR: usize,
    const PANEL_V: usize,
    const V: usize,
    const P: usize,
    const SETS: usize,
>(
    sets: &mut [[[L::Vector; V]; MR]; SETS],
    ends: &[*const f32; MR],
    panel: &mut *const f32,
    stride: usize,
    len: usize,
    i: &mut isize,
    stop: isize,
) {
    const { assert!((P == 1 || P == 2) && V.is_multiple_of(P)) };
    const { assert!(SETS == 1 || (SETS == 2 && P == 1)) };
    let nr = PANEL_V * L::LANES;
    let (mut at, mut p) = (*i, *panel);
    // SAFETY (every `one_step` below): -len <= at (+ u) < stop <= 0, and
    // `p` (+ u·nr) is the panel row of that depth, a whole number of vectors
    // into it (wrapping: see below), as `one_step` needs.
    if SETS == 1 {
        let unroll = if P == 2 { L::PAIR_K_UNROLL } else { L::K_UNROLL };
        // `unroll` steps per pass while as many are left, then one at a time.
        while unroll > 1 && stop - at >= unroll as isize {
            for u in 0..unroll {
                unsafe {
                    one_step::<L, MR, PANEL_V, V, P>(
                        &mut sets[0],
                        ends,
                        p.wrapping_add(u * nr),
                        stride,
                        at + u as isize,
                    )
                };
            }
            // Wrapping: a step of a panel's second vector starts a vector
            // into each row, so after the panel's last row `p` is past the
            // panel's end (and, in the last panel, the allocation's), where
            // it is not read.
            p = p.wrapping_add(unroll * nr);
            at += unroll as isize;
            at = super::opaque_index(at);
        }
        while at != stop {
            unsafe { one_step::<L, MR, PANEL_V, V, P>(&mut sets[0], ends, p, stride, at) };
            p = p.wrapping_add(nr);
            at += 1;
            at = super::opaque_index(at);
        }
    } else {
        // An odd first depth goes alone, so that each pass starts on an even
        // one; then one step into each set per pass, and a last step into
        // the first set. (Two such pairs per pass, or a pair's steps
        // interleaved row by row, made LLVM spill accumulators; and a set
        // chosen at run time rather than by a constant index kept every set
        // on the stack.)
        if at != stop && (len as isize + at) % 2 == 1 {
            unsafe { one_step::<L, MR, PANEL_V, V, P>(&mut sets[SETS - 1], ends, p, stride, at) };
            p = p.wrapping_add(nr);
            at += 1;
        }
        while stop - at >= 2 {
            unsafe {
                one_step::<L, MR, PANEL_V, V, P>(&mut sets[0], ends, p, stride, at);
                one_step::<L, MR, PANEL_V, V, P>(&mut sets[SETS - 1], ends, p.wrapping_add(nr), stride, at + 1);
            }
            p = p.wrapping_add(2 * nr);
            at += 2;
            at = super::opaque_index(at);
        }
        if at != stop {
            unsafe { one_step::<L, MR, PANEL_V, V, P>(&mut sets[0], ends, p, stride, at) };
            p = p.wrapping_add(nr);
            at += 1;
        }
    }
    (*i, *panel) = (at, p);
}

/// One k step of [`k_steps`]: panel row `p` (`V` vectors of it, or `V / 2`
/// of it and of the row `stride` floats on, with `P = 2`) times element `at`
/// of each activation row, into `acc`. A function rather than a closure of
/// `k_steps`, so that it is always inlined: with more call sites (two
/// sets), LLVM kept the closure apart, which has none of the kernel's target
/// features, and it called its intrinsics out of line (20 times slower).
///
/// # Safety
/// As for [`k_steps`], with `-len <= at < 0` and `p` the panel row of depth
/// `len + at` (a whole number of vectors into it).
#[inline(always)]
unsafe fn one_step<L: Lanes, const MR: usize, const PANEL_V: usize, const V: usize, const P: usize>(
    acc: &mut [[L::Vector; V]; MR],
    ends: &[*const f32; MR],
    p: *const f32,
    stride: usize,
    at: isize,
) {
    let lanes = L::LANES;
    // SAFETY: each panel row is in bounds and aligned to the register width
    // (64-byte aligned panels, rows of PANEL_V·LANES floats, `p` a whole
    // number of vectors into its row); the CPU has L's ISA.
    let b: [L::Vector; V] = core::array::from_fn(|v| unsafe {
        L::load_aligned(p.wrapping_add(v / (V / P) * stride).add(v % (V / P) * lanes))
    });
    for (acc_row, end) in acc.iter_mut().zip(ends) {
        // SAFETY: -len <= at < 0: element len + at of the row.
        let a = unsafe { L::broadcast(end.offset(at)) };
        for v in 0..V {
            // SAFETY: the CPU has L's ISA.
            acc_row[v] = unsafe { L::fmadd(a, b[v], acc_row[v]) };
        }
    }
}

/// The accumulators of `SETS` sets added up, set by set in order (the first
/// holds the bias): those of [`k_steps`], and of the AVX2 tile's half panels.
///
/// # Safety
/// The CPU has the ISA of `L`.
#[inline(always)]
pub(crate) unsafe fn fold_sets<L: Lanes, const MR: usize, const V: usize, const SETS: usize>(
    sets: &[[[L::Vector; V]; MR]; SETS],
) -> [[L::Vector; V]; MR] {
    let mut acc = sets[0];
    for set in &sets[1..] {
        for (acc_row, set_row) in acc.iter_mut().zip(set) {
            for (x, &y) in acc_row.iter_mut().zip(set_row) {
                // SAFETY: the CPU has L's ISA (the caller's contract).
                *x = unsafe { L::add(*x, y) };
            }
        }
    }
    acc
}
