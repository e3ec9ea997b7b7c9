//! The walk of the x86-64 dot-product kernels (`f32_pw_8x2__avx512f`,
//! `f32_pw_6x2__avx2_fma`, for layers of 1 or 2 output channels per group):
//! a call's whole row tiles, up to K = [`DOT_WALK_DEPTH`], with the panel
//! split into its two columns once per call and the k steps unrolled. Written
//! once over [`DotLanes`], which the AVX2 and AVX-512 kernels provide for
//! their register width; the rows left over go to their per-tile `dot_tile`.
//!
//! `dot_tile` splits the panel on every k step of every tile, in a loop whose
//! trip count it learns at run time. unet.head (K = 64) at 32×32 pixels
//! (input in L2), the two builds alternated five times (Zen 4, a noisy shared
//! machine): AVX-512 34 to 45 GFLOP/s (medians), AVX2 31 to 48; in three
//! alternated CLI runs at 32×32 and 64×64 pixels, AVX-512 47-50 to 58-61 and
//! AVX2 44-45 to 51-53 (one AVX2 round 32). Each result is the one `dot_tile`
//! computes: the same FMAs in the same lanes, the same fold.

use super::rows::{CallRows, IndirectRows, StridedRows};
use super::walk::Lanes;
use crate::abi::{bias_pair_bits, plain_pairs, StridedArgs, TileArgs, A_STREAMED};

/// The deepest call the dot kernels walk: 64 depths are 4 zmm registers per
/// column, which the 8x2 AVX-512 kernel keeps beside its 16 accumulators
/// (the AVX2 kernel keeps its 16 ymm of columns in L1).
pub(crate) const DOT_WALK_DEPTH: usize = 64;

/// The vector operations of one register width that the dot walk uses
/// besides [`Lanes`].
///
/// # Safety
/// As for [`Lanes`]: each method needs the implementation's ISA.
pub(crate) unsafe trait DotLanes: Lanes {
    /// Column 0 and column 1 of `depths <= LANES` rows of a 2-column panel
    /// at `panel` (whose rows interleave the columns), zero in the lanes past
    /// `depths`.
    ///
    /// # Safety
    /// `2·depths` floats at `panel` are readable.
    unsafe fn split_panel(panel: *const f32, depths: usize) -> (Self::Vector, Self::Vector);
    /// The `depths <= LANES` floats at `p`, zero in the lanes past them,
    /// which are not read.
    ///
    /// # Safety
    /// `depths` floats at `p` are readable.
    unsafe fn load_depths(p: *const f32, depths: usize) -> Self::Vector;
    /// Every lane pair `(column 0, column 1)` of the bias whose bits
    /// [`bias_pair_bits`] gives.
    unsafe fn bias_pairs(bits: i64) -> Self::Vector;
    /// The epilogue of one tile of `MR` rows: each row's two sums are the
    /// lane sums of `acc[row]`; adds `bias` (in pairs, as
    /// [`bias_pairs`](DotLanes::bias_pairs) makes them), clamps to
    /// `lo..=hi` (NaN kept) and stores row `i`'s pair at `rows[i]`.
    ///
    /// # Safety
    /// Two floats at each `rows[i]` are writable (f32 alignment suffices).
    unsafe fn store_sums<const MR: usize>(
        acc: &[[Self::Vector; 2]; MR],
        bias: Self::Vector,
        lo: Self::Vector,
        hi: Self::Vector,
        rows: [*mut f32; MR],
    );
}

/// The dot walk of `t`'s whole row tiles, of `MR` rows, or of `STREAMED_MR`
/// when the `a_cold` hint says [`A_STREAMED`] (see [`dot_walk_hinted`]):
/// returns how many rows it computed (a multiple of the tile's rows, 0 when
/// it does not take `t`: see [`dot_walks`]). The caller computes the rest,
/// fewer than `MR` rows.
///
/// `0 < STREAMED_MR <= MR` (checked at compile time).
///
/// # Safety
/// The ABI contract for `NR = 2`; the CPU has the ISA of `L`.
#[inline(always)]
pub(crate) unsafe fn dot_walk_rows<L: DotLanes, const MR: usize, const STREAMED_MR: usize>(t: &TileArgs) -> usize {
    if !dot_walks(t, STREAMED_MR) {
        return 0;
    }
    let call = DotCall {
        m: t.m,
        k: t.k,
        b_panel: t.b_panel,
        bias: t.bias,
        clamp: (t.clamp_min, t.clamp_max),
        a_cold: t.a_cold,
    };
    // SAFETY: forwarded; `dot_walks` holds, so column 0 is where the pairs start.
    unsafe { dot_walk_call::<L, MR, STREAMED_MR, _>(&call, &IndirectRows::of(t)) }
}

/// [`dot_walk_rows`] for a strided call: the same walk, each row's addresses
/// computed from the strides.
///
/// # Safety
/// The contract of `s` for `NR = 2`; the CPU has the ISA of `L`.
#[inline(always)]
pub(crate) unsafe fn dot_walk_strided<L: DotLanes, const MR: usize, const STREAMED_MR: usize>(
    s: &StridedArgs,
) -> usize {
    if s.m < STREAMED_MR || !(1..=DOT_WALK_DEPTH).contains(&s.k) || s.n != 2 || !s.r.is_null() {
        return 0;
    }
    let call = DotCall {
        m: s.m,
        k: s.k,
        b_panel: s.b_panel,
        bias: s.bias,
        clamp: (s.clamp_min, s.clamp_max),
        a_cold: s.a_cold,
    };
    let rows = StridedRows::of(s, 0);
    // SAFETY: forwarded; the strided call has two adjacent columns (n = 2,
    // contiguous columns), no residual (checked above) and no accumulate.
    unsafe { dot_walk_call::<L, MR, STREAMED_MR, _>(&call, &rows) }
}

/// True when the dot walk takes `t`'s whole row tiles: at least one of `mr`
/// rows, 1 to [`DOT_WALK_DEPTH`] depths, two columns written as pairs
/// without accumulate or residual ([`plain_pairs`]), and contiguous
/// activation rows.
#[inline(always)]
fn dot_walks(t: &TileArgs, mr: usize) -> bool {
    t.m >= mr && (1..=DOT_WALK_DEPTH).contains(&t.k) && t.n == 2 && t.a_k.block == 0 && plain_pairs(t)
}

/// What the dot walk reads of a call besides its rows.
struct DotCall {
    m: usize,
    k: usize,
    b_panel: *const f32,
    bias: *const f32,
    clamp: (f32, f32),
    a_cold: u32,
}

/// The dot walk of a call's whole row tiles (see [`dot_walk_rows`]), found
/// through `rows`.
///
/// # Safety
/// The contract of the call that `call` and `rows` describe, for `NR = 2`,
/// with `1 <= k <= DOT_WALK_DEPTH`, two adjacent output columns, no residual
/// and no accumulate; the CPU has the ISA of `L`.
#[inline(always)]
unsafe fn dot_walk_call<L: DotLanes, const MR: usize, const STREAMED_MR: usize, R: CallRows>(
    call: &DotCall,
    rows: &R,
) -> usize {
    // A tile of 0 rows would never end; the leftover rows, fewer than a
    // tile, go to the callers' per-tile code, written for fewer than MR.
    const { assert!(0 < STREAMED_MR && STREAMED_MR <= MR) };
    // Each instance of `dot_walk` has its k steps unrolled; the guards are
    // constants that drop the instances deeper than `DOT_WALK_DEPTH`.
    // SAFETY: forwarded; each arm's STEPS covers k.
    unsafe {
        match call.k.div_ceil(L::LANES) {
            1 => dot_walk_hinted::<L, MR, STREAMED_MR, 1, R>(call, rows),
            2 if 2 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, STREAMED_MR, 2, R>(call, rows),
            3 if 3 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, STREAMED_MR, 3, R>(call, rows),
            4 if 4 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, STREAMED_MR, 4, R>(call, rows),
            5 if 5 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, STREAMED_MR, 5, R>(call, rows),
            6 if 6 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, STREAMED_MR, 6, R>(call, rows),
            7 if 7 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, STREAMED_MR, 7, R>(call, rows),
            8 if 8 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, STREAMED_MR, 8, R>(call, rows),
            _ => 0,
        }
    }
}

/// [`dot_walk`], its prefetches and its tile rows chosen by the `a_cold`
/// hint once per call: `STREAMED_MR` rows per tile for [`A_STREAMED`]
/// activations, `MR` otherwise. Each row's result is the same either way (a
/// row's lanes are folded alone).
///
/// The 8x2 AVX-512 kernel streams in tiles of 4 rows: unet.head (K = 64) at
/// 256x256 pixels (16 MiB of input, from L3), Zen 4. Trying tile rows, one
/// build per choice, three to six processes each: 8 rows 35-42 GFLOP/s, 4
/// rows 43-50, 2 rows 41-48. The change itself, builds alternated five times: 21-36 to
/// 38-46, ahead of the 6x2 AVX2 kernel timed in the same processes (where 8
/// rows had trailed it). At 128x128 (4 MiB) the two moved within the noise,
/// and in L2 (32x32) 8 rows stay well ahead: 78 against 64.
///
/// # Safety
/// As for [`dot_walk`].
#[inline(always)]
unsafe fn dot_walk_hinted<L: DotLanes, const MR: usize, const STREAMED_MR: usize, const STEPS: usize, R: CallRows>(
    call: &DotCall,
    rows: &R,
) -> usize {
    // SAFETY: forwarded.
    unsafe {
        if call.a_cold == A_STREAMED {
            dot_walk::<L, STREAMED_MR, STEPS, true, R>(call, rows)
        } else {
            dot_walk::<L, MR, STEPS, false, R>(call, rows)
        }
    }
}

/// [`dot_walk_call`] at depths `LANES·(STEPS - 1) < k <= LANES·STEPS`,
/// prefetching as [`super::prefetch_activations`] does for `STREAMED`.
///
/// # Safety
/// As for [`dot_walk_call`], with `k` in that range.
#[inline(always)]
unsafe fn dot_walk<L: DotLanes, const MR: usize, const STEPS: usize, const STREAMED: bool, R: CallRows>(
    call: &DotCall,
    rows: &R,
) -> usize {
    let lanes = L::LANES;
    let last_depths = call.k - lanes * (STEPS - 1);
    // SAFETY (every block below): the CPU has L's ISA (the caller's
    // contract). The panel holds 2·k floats, and step s reads 2·depths of
    // them from float 2·LANES·s.
    let columns: [(L::Vector, L::Vector); STEPS] = core::array::from_fn(|s| unsafe {
        L::split_panel(call.b_panel.add(2 * lanes * s), if s + 1 == STEPS { last_depths } else { lanes })
    });
    // -0.0 is the identity of addition: a -0.0 sum stays -0.0, as in `dot_tile`.
    let bias = if call.bias.is_null() {
        unsafe { L::splat(-0.0) }
    } else {
        // SAFETY: bias is not null.
        unsafe { L::bias_pairs(bias_pair_bits(call.bias)) }
    };
    let (lo, hi) = unsafe { (L::splat(call.clamp.0), L::splat(call.clamp.1)) };
    let mut first = 0;
    while first + MR <= call.m {
        // SAFETY: rows first..first + MR < m exist.
        let a_rows: [*const f32; MR] = core::array::from_fn(|i| unsafe { rows.a_row(first + i) });
        let mut acc = [[unsafe { L::zero() }; 2]; MR];
        for (s, &(w0, w1)) in columns.iter().enumerate() {
            for (sum, row) in acc.iter_mut().zip(a_rows) {
                super::prefetch_activations::<STREAMED>(row, lanes * s);
                // SAFETY: row elements LANES·s.. (all LANES but in the last
                // step, which reads only the k - LANES·s that exist) are in
                // bounds.
                unsafe {
                    let at = row.add(lanes * s);
                    let a = if s + 1 == STEPS { L::load_depths(at, last_depths) } else { L::load(at) };
                    sum[0] = L::fmadd(a, w0, sum[0]);
                    sum[1] = L::fmadd(a, w1, sum[1]);
                }
            }
        }
        // SAFETY: rows first + i < m; their columns 0 and 1 are adjacent and
        // in bounds (n = 2).
        let out: [*mut f32; MR] = core::array::from_fn(|i| unsafe { rows.c_row(first + i) });
        // SAFETY: two floats at each output row are writable.
        unsafe { L::store_sums(&acc, bias, lo, hi, out) };
        first += MR;
    }
    first
}
