//! x86-64 kernels. Each function carries `#[target_feature]`; calling it is
//! sound only on a CPU with that feature set (`pointwise` checks with pulp).

/// Runs [`walk::walk_tile`] on `$lanes` registers, `$step_v` vectors of
/// columns at a time, on each row tile of the call `$t` (see
/// `per_row_count!`), each tile given the next one's rows, in the instance
/// for whether the walk streams (`$stream`, see [`walk::walk_streams`];
/// left out: it does not) and whether the call has a residual.
#[cfg(any(feature = "avx2", feature = "avx512"))]
macro_rules! walk_row_tiles {
    ($t:expr, $lanes:ty, $step_v:literal, $stream:expr, [$($m:literal),*], $mr:literal) => {{
        let t: &$crate::abi::TileArgs = $t;
        match ($stream, !t.r_rows.is_null()) {
            (true, false) => per_row_count!(t, walk_tile::<_, $lanes, $step_v, 0, true, false>, [$($m),*], $mr, with_next_rows),
            (true, true) => per_row_count!(t, walk_tile::<_, $lanes, $step_v, 0, true, true>, [$($m),*], $mr, with_next_rows),
            (false, false) => per_row_count!(t, walk_tile::<_, $lanes, $step_v, 0, false, false>, [$($m),*], $mr, with_next_rows),
            (false, true) => per_row_count!(t, walk_tile::<_, $lanes, $step_v, 0, false, true>, [$($m),*], $mr, with_next_rows),
        }
    }};
    ($t:expr, $lanes:ty, $step_v:literal, [$($m:literal),*], $mr:literal) => {
        walk_row_tiles!($t, $lanes, $step_v, pairs 0, [$($m),*], $mr)
    };
    // Without streaming, two whole panels at a time while two are left
    // (`pairs` `2·$step_v`, see `walk::walk_rows`; 0: never).
    ($t:expr, $lanes:ty, $step_v:literal, pairs $pair_w:literal, [$($m:literal),*], $mr:literal) => {{
        let t: &$crate::abi::TileArgs = $t;
        if t.r_rows.is_null() {
            per_row_count!(t, walk_tile::<_, $lanes, $step_v, $pair_w, false, false>, [$($m),*], $mr, with_next_rows)
        } else {
            per_row_count!(t, walk_tile::<_, $lanes, $step_v, $pair_w, false, true>, [$($m),*], $mr, with_next_rows)
        }
    }};
}

#[cfg(feature = "avx2")]
pub mod avx2;
#[cfg(feature = "avx512")]
pub mod avx512;
#[cfg(any(feature = "avx2", feature = "avx512"))]
mod dot;
#[cfg(any(feature = "avx2", feature = "avx512"))]
mod rows;
#[cfg(any(feature = "avx2", feature = "avx512"))]
mod walk;
#[cfg(any(feature = "avx2", feature = "avx512"))]
pub use walk::STRIDED_WALK_DEPTH;

/// How far ahead of the element being read (in floats) a kernel that streams
/// its activations prefetches them with [`prefetch_activations`]: 8 KiB into
/// L1, or 32 KiB into L2 for activations that come from L3 or memory. Every
/// layout is walked in increasing address order within a channel run (pixels
/// follow each other in NHWC and inside an NCHWc or NCHW plane), so the same
/// channels further on are what a later tile of the block reads. A prefetch
/// never faults, so a guess past the end of the tensor is harmless.
const PREFETCH_AHEAD_L1: usize = 2048;
/// See [`PREFETCH_AHEAD_L1`].
const PREFETCH_AHEAD_L2: usize = 8192;

/// The floats of a 64-byte cache line.
const LINE_FLOATS: usize = 16;

/// `i`, hidden from LLVM's loop strength reduction: an empty asm block that
/// only claims to change it. A k loop that counts an index up to 0 needs no
/// end register besides it; without the block, LLVM traded the count for a
/// count up plus an end (in a register, or on the stack where the k loop has
/// none to spare). Under Miri, which runs no inline assembly, `i` as it is.
#[inline(always)]
pub(crate) fn opaque_index(mut i: isize) -> isize {
    #[cfg(not(miri))]
    // SAFETY: the block is empty: it reads and writes nothing but `i`'s
    // register, and keeps the flags.
    unsafe {
        core::arch::asm!("/* {0} */", inout(reg) i, options(pure, nomem, nostack, preserves_flags))
    };
    i
}

/// Prefetches what a later tile of the block reads at element `at` of `row`
/// (which the caller reads from element 0 on): into L1 8 KiB on, or, for
/// `STREAMED` activations (the `a_cold` hint [`A_STREAMED`]), into L2 32 KiB
/// on and once per 16 floats from the row's start (a line's worth: rows need
/// not start on a line, so each prefetch may fall anywhere in its line). For the dot kernels, which do little
/// arithmetic per activation and read their input at the rate they compute.
///
/// Measured on unet.head (K = 64, Cout = 2; Zen 4, a noisy shared machine;
/// builds alternated, medians), prefetching into L2 rather than L1:
/// * 64 MiB of input (512x512 pixels, from memory): AVX-512 7-10 to 14-15
///   GFLOP/s, AVX2 8-11 to 15-18 (from 45% to 66-81% of a plain read of the
///   input, timed in turn in the same process).
/// * 16 MiB (the suite's): the same in quiet rounds, but whenever the other
///   tenants pushed the input out of L3, prefetching into L1 fell to 7-16
///   GFLOP/s, and into L2 held 18-41. L1's few miss buffers, each held for
///   the whole trip to memory, left the loads waiting.
/// * 256 KiB to 1 MiB (in L2): AVX-512 62-65 to 56-62 in the quiet rounds,
///   AVX2 53-57 to 51-53; hence the choice by the hint. Into L1, a prefetch
///   at every load, in the k loop, beat one per line hoisted ahead of a
///   tile's FMAs: AVX-512 66 against 62, AVX2 57-60 against 51.
///
/// [`A_STREAMED`]: crate::abi::A_STREAMED
#[inline(always)]
pub(crate) fn prefetch_activations<const STREAMED: bool>(row: *const f32, at: usize) {
    if !STREAMED {
        prefetch_line(row.wrapping_add(at + PREFETCH_AHEAD_L1));
    } else if at.is_multiple_of(LINE_FLOATS) {
        prefetch_l2(row.wrapping_add(at + PREFETCH_AHEAD_L2));
    }
}

/// Prefetches into L1 the line that holds `p`. A safe call for every caller:
/// `_mm_prefetch` is safe inside a function that enables SSE in recent Rust
/// and unsafe in 1.89, the crate's oldest, so that an `unsafe` block around it
/// in a kernel would warn as unused on the one and be required on the other.
#[inline(always)]
pub(crate) fn prefetch_line(p: *const f32) {
    use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: a prefetch never faults, whatever the address, and x86-64
    // always has SSE.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
}

/// Prefetches into L2 the line that holds `p` (see [`prefetch_line`]).
#[inline(always)]
pub(crate) fn prefetch_l2(p: *const f32) {
    use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
    // SAFETY: a prefetch never faults, whatever the address, and x86-64
    // always has SSE.
    unsafe { _mm_prefetch::<_MM_HINT_T1>(p as *const i8) };
}

/// Prefetches into L1 the lines of the `len` floats at `p`, which the caller
/// reads soon. Written as plain loops, which unroll at a constant `len`: an
/// iterator chain here compiled to a loop with a state machine.
#[inline(always)]
pub(crate) fn prefetch_span(p: *const f32, len: usize) {
    let mut at = 0;
    while at < len {
        prefetch_line(p.wrapping_add(at));
        at += LINE_FLOATS;
    }
    // `p` need not start a line: the last float's line may be one more.
    if len > 0 {
        prefetch_line(p.wrapping_add(len - 1));
    }
}

/// How far ahead of the panel row being read (in floats: 16 KiB) a kernel
/// prefetches its panel, when [`streams_panel`] says so.
#[cfg(feature = "avx512")]
pub(crate) const PANEL_PREFETCH_AHEAD: usize = 4096;

/// True when a tile of at least `mr / 2` rows reads a panel of `nr` columns
/// too large to stay in L1 (64 KiB or more: K >= 512 at 32 columns): it then
/// streams the panel from L2, L3 or memory, and prefetches it ahead. The
/// first tile of each panel of the 7x7 layers with K >= 1024 (8-16 MiB of
/// weights) otherwise waited on memory (measured when the 12x32 kernel went
/// panel by panel there; it now walks them, and its per-panel tiles take the
/// calls it does not walk: blocked layouts, one panel, weights over the
/// driver's walk budget). Left alone:
/// * smaller panels: prefetching 16 KiB ahead there fetches other panels into
///   L1 early;
/// * tiles of a few rows (M = 1 layers: classifier, squeeze-excitation): too
///   few FMAs per panel row to hide the extra instructions, measured 23%
///   slower on the classifier;
/// * the AVX2 kernels: a 6x16 k step is 12 ymm FMAs against 24 zmm ones for
///   12x32 (double-pumped on Zen 4), so the prefetch weighs four times as
///   much; measured on Zen 4, s4.reduce (K = 1024) went from 111 to 100
///   GFLOP/s with it, and only the 7x7 K = 2048 layer gained.
#[cfg(feature = "avx512")]
#[inline(always)]
pub(crate) fn streams_panel(t: &crate::abi::TileArgs, mr: usize, nr: usize) -> bool {
    2 * t.m >= mr && t.k * nr >= 16 * 1024
}

/// Most lines of [`TileArgs::b_next`](crate::abi::TileArgs) that a tile
/// prefetches before each chunk of 16 k steps ([`NextWeights`]); of a larger
/// share, the rest is left to the next call's own reads. A bound on the
/// burst between two chunks' FMAs, not tuned: the 7x7 layers' tiles of 9-10
/// rows of 49 need 7 lines per chunk (their share of a panel of `k` rows of
/// 2 lines, over `k / 16` chunks).
const NEXT_WEIGHTS_LINES_PER_CHUNK: usize = 8;

/// A tile's share of the next call's weights
/// ([`TileArgs::b_next`](crate::abi::TileArgs::b_next), cut by `row_range`),
/// fetched into L2 a few lines before each chunk of 16 k steps, over the
/// tile's k loop.
///
/// On the 7x7 layers with megabytes of weights, which go one panel per call
/// (off AMD, the driver walks weights within the L2 only), each panel came
/// from L3 while the first of its 4-5 row tiles computed, and that
/// tile ran at about half speed: kept in L2 (1 MiB of weights), the same row
/// tiles ran at 174 GFLOP/s, against 155-157 with 8 MiB (12x32 AVX-512
/// kernel, Intel Xeon, Emerald Rapids, 2 MiB L2). Fetched a share per tile
/// ahead, the tiles of one panel bring in the next. Measured against no
/// `b_next`, in turn in one process, two runs, the same Xeon: 12x32 AVX-512,
/// resnet50.s5.reduce +2.8%, s5.expand +3.7-4.1%, s5.downsample +3.2-3.3%,
/// s4.downsample (17 row tiles per panel) +0.1-0.5%; 6x16 AVX2 (forced),
/// +3.6-3.8%, +0.9-1.1%, +4.4-4.5% and level. mobilenetv2.b17.project, whose
/// 1.2 MiB of weights stay in L2 between calls, ran 1.2% slower with the
/// fetch (an earlier form), so the driver gives no `b_next` where the
/// weights fit in L2. The form matters: a loop over a varying count of lines
/// cost 10% on its own; a cursor written back at each chunk made the 12-row
/// AVX-512 tile reload row pointers from the stack; tests of two bounds per
/// line (`line < per_chunk && from + line < lines`) fetched the same lines
/// and gained nothing on s5.reduce and s5.expand. Not measured on Zen 4.
#[derive(Clone, Copy)]
pub(crate) struct NextWeights {
    /// The share's first line.
    first: *const f32,
    /// Lines in the share.
    lines: usize,
    /// Lines per chunk, at most [`NEXT_WEIGHTS_LINES_PER_CHUNK`].
    per_chunk: usize,
}

impl NextWeights {
    /// The share of `t` (`t.b_next`, `t.b_next_len` floats), spread over the
    /// chunks of 16 steps of its k loop.
    #[inline(always)]
    pub(crate) fn of(t: &crate::abi::TileArgs) -> Self {
        let lines = t.b_next_len.div_ceil(LINE_FLOATS);
        let chunks = t.k.div_ceil(16).max(1);
        NextWeights { first: t.b_next, lines, per_chunk: lines.div_ceil(chunks).min(NEXT_WEIGHTS_LINES_PER_CHUNK) }
    }

    /// Prefetches into L2 the lines of the chunk that starts at k step
    /// `step`. A function of the step rather than of a cursor, so that the
    /// caller can keep `self` in memory, read through an opaque reference:
    /// with a cursor written back at each chunk, the 12-row AVX-512 tile
    /// reloaded two row pointers from the stack at every k step.
    #[inline(always)]
    pub(crate) fn fetch_chunk(&self, step: usize) {
        let from = step / 16 * self.per_chunk;
        if from >= self.lines {
            return;
        }
        let count = self.per_chunk.min(self.lines - from);
        let at = self.first.wrapping_add(from * LINE_FLOATS);
        for line in 0..NEXT_WEIGHTS_LINES_PER_CHUNK {
            if line < count {
                prefetch_l2(at.wrapping_add(line * LINE_FLOATS));
            }
        }
    }
}

/// The least depth at which a kernel prefetches the next row tile's
/// activations ([`streams_rows`]).
pub(crate) const STREAM_ROWS_DEPTH: usize = 512;

/// True when a kernel of `mr` rows should prefetch the next row tile's
/// activations while it computes the current one: on a block's first panel
/// (`a_cold`, when its rows may be in L3 or memory), at depths of
/// [`STREAM_ROWS_DEPTH`] and more, for tiles of at least half `mr` rows whose rows do not alias in L1.
/// Such a tile is long enough (16 steps per line of its rows) to fetch the
/// next one's in time.
/// Measured on resnet50.s3.reduce.batch8 (K = 512, 12.25 MiB of input; Zen 4):
/// 12x32 AVX-512 from 104 to 108 GFLOP/s, 6x16 AVX2 from 100 to 108 (both
/// kernels walk that layer since, and fetch its rows as
/// [`walk::walk_streams`] says; the generic 12x32 kernel's walks of 64
/// columns or more no longer do, see `pairs_of_panels` in `avx512.rs`).
///
/// Rows a multiple of 4 KiB apart (read in place, not copied: see the
/// driver) put the same element of every row in one L1 set, and the next
/// tile's rows there too, past the set's 8 ways (Zen 4): resnet50.s5.reduce
/// (rows of 8 KiB) ran 12% slower with the prefetch on the 6x16 AVX2 kernel.
#[inline(always)]
pub(crate) fn streams_rows(t: &crate::abi::TileArgs, mr: usize) -> bool {
    if t.a_cold == 0 || t.m < 2 || 2 * t.m < mr || t.k < STREAM_ROWS_DEPTH {
        return false;
    }
    // SAFETY: the contract gives m >= 2 readable row pointers.
    let (first, second) = unsafe { (*t.a_rows, *t.a_rows.add(1)) };
    !(second as usize).wrapping_sub(first as usize).is_multiple_of(4096)
}

/// Prefetches into L2 element `at` of each of the next tile's rows (at most
/// `mr`): what that tile reads at the step the current one is at.
///
/// Into L2 rather than L1: the rows arrive a whole tile ahead, and L1's few
/// miss buffers are then left to the current tile's loads. resnet50.s3.reduce
/// and its batch of 8 ran 0.5-2.5% faster on the 12x32 AVX-512 kernel (Zen 4,
/// the two prefetches timed in turn in one process: faster in each of 12
/// pairs); the AVX2 kernels moved within the noise.
///
/// # Safety
/// `next` holds `next.count` readable row pointers.
#[inline(always)]
pub(crate) unsafe fn prefetch_next_rows(next: &crate::abi::NextRows, mr: usize, at: usize) {
    for j in 0..next.count.min(mr) {
        // SAFETY: `next` holds `count` readable row pointers.
        prefetch_l2(unsafe { *next.rows.add(j) }.wrapping_add(at));
    }
}

/// Prefetches the `part`-th of `parts` equal shares of the next tile's rows
/// (at most `mr` rows of `len` elements), a line of each row at a time.
///
/// # Safety
/// `next` holds `next.count` readable row pointers.
#[inline(always)]
pub(crate) unsafe fn prefetch_next_rows_share(
    next: &crate::abi::NextRows,
    mr: usize,
    len: usize,
    part: usize,
    parts: usize,
) {
    let lines = len.div_ceil(LINE_FLOATS);
    let parts = parts.max(1);
    for line in part * lines / parts..(part + 1) * lines / parts {
        // SAFETY: forwarded.
        unsafe { prefetch_next_rows(next, mr, line * LINE_FLOATS) };
    }
}

/// Stores two floats, the low (`high == false`) or the high half of `x`, at
/// `p`, which need only be aligned for `f32` (an unaligned 64-bit store:
/// `vmovlps` or `vmovhps`).
///
/// # Safety
/// Two floats at `p` are writable.
#[inline(always)]
pub(crate) unsafe fn store_pair(p: *mut f32, x: core::arch::x86_64::__m128, high: bool) {
    use core::arch::x86_64::{_mm_castps_pd, _mm_cvtsd_f64, _mm_unpackhi_pd};
    // SAFETY: SSE2 is part of x86-64; the caller's contract; the store is
    // unaligned.
    unsafe {
        let x = _mm_castps_pd(x);
        let half = if high { _mm_unpackhi_pd(x, x) } else { x };
        core::ptr::write_unaligned(p as *mut f64, _mm_cvtsd_f64(half));
    }
}
