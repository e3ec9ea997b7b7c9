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

use super::walk::Lanes;
use crate::abi::{bias_pair_bits, plain_pairs, TileArgs, A_STREAMED};

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

/// The dot walk of `t`'s whole `MR`-row tiles: returns how many rows it
/// computed (a multiple of `MR`, 0 when it does not take `t`: see
/// [`dot_walks`]). The caller computes the rest.
///
/// # Safety
/// The ABI contract for `NR = 2`; the CPU has the ISA of `L`.
#[inline(always)]
pub(crate) unsafe fn dot_walk_rows<L: DotLanes, const MR: usize>(t: &TileArgs) -> usize {
    if !dot_walks(t, MR) {
        return 0;
    }
    // Each instance of `dot_walk` has its k steps unrolled; the guards are
    // constants that drop the instances deeper than `DOT_WALK_DEPTH`.
    // SAFETY: forwarded; `dot_walks` holds and each arm's STEPS covers k.
    unsafe {
        match t.k.div_ceil(L::LANES) {
            1 => dot_walk_hinted::<L, MR, 1>(t),
            2 if 2 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, 2>(t),
            3 if 3 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, 3>(t),
            4 if 4 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, 4>(t),
            5 if 5 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, 5>(t),
            6 if 6 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, 6>(t),
            7 if 7 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, 7>(t),
            8 if 8 * L::LANES <= DOT_WALK_DEPTH => dot_walk_hinted::<L, MR, 8>(t),
            _ => 0,
        }
    }
}

/// True when the dot walk takes `t`'s whole row tiles: at least one of `mr`
/// rows, 1 to [`DOT_WALK_DEPTH`] depths, two columns written as pairs
/// without accumulate or residual ([`plain_pairs`]), and contiguous
/// activation rows.
#[inline(always)]
fn dot_walks(t: &TileArgs, mr: usize) -> bool {
    t.m >= mr && (1..=DOT_WALK_DEPTH).contains(&t.k) && t.n == 2 && t.a_k.block == 0 && plain_pairs(t)
}

/// [`dot_walk`], its prefetches chosen by the `a_cold` hint once per call.
///
/// # Safety
/// As for [`dot_walk`].
#[inline(always)]
unsafe fn dot_walk_hinted<L: DotLanes, const MR: usize, const STEPS: usize>(t: &TileArgs) -> usize {
    // SAFETY: forwarded.
    unsafe {
        if t.a_cold == A_STREAMED {
            dot_walk::<L, MR, STEPS, true>(t)
        } else {
            dot_walk::<L, MR, STEPS, false>(t)
        }
    }
}

/// [`dot_walk_rows`] at depths `LANES·(STEPS - 1) < k <= LANES·STEPS`,
/// prefetching as [`super::prefetch_activations`] does for `STREAMED`.
///
/// # Safety
/// The ABI contract for `NR = 2`; [`dot_walks`] holds; `k` is in that range;
/// the CPU has the ISA of `L`.
#[inline(always)]
unsafe fn dot_walk<L: DotLanes, const MR: usize, const STEPS: usize, const STREAMED: bool>(t: &TileArgs) -> usize {
    let lanes = L::LANES;
    let last_depths = t.k - lanes * (STEPS - 1);
    // SAFETY (every block below): the CPU has L's ISA (the caller's
    // contract). The panel holds 2·k floats, and step s reads 2·depths of
    // them from float 2·LANES·s.
    let columns: [(L::Vector, L::Vector); STEPS] = core::array::from_fn(|s| unsafe {
        L::split_panel(t.b_panel.add(2 * lanes * s), if s + 1 == STEPS { last_depths } else { lanes })
    });
    // -0.0 is the identity of addition: a -0.0 sum stays -0.0, as in `dot_tile`.
    let bias = if t.bias.is_null() {
        unsafe { L::splat(-0.0) }
    } else {
        // SAFETY: bias is not null.
        unsafe { L::bias_pairs(bias_pair_bits(t)) }
    };
    let (lo, hi) = unsafe { (L::splat(t.clamp_min), L::splat(t.clamp_max)) };
    let c_offset = t.c_cols.offset(0);
    let mut first = 0;
    while first + MR <= t.m {
        // SAFETY: rows first..first + MR < m exist.
        let rows: [*const f32; MR] = core::array::from_fn(|i| unsafe { *t.a_rows.add(first + i) });
        let mut acc = [[unsafe { L::zero() }; 2]; MR];
        for (s, &(w0, w1)) in columns.iter().enumerate() {
            for (sum, row) in acc.iter_mut().zip(rows) {
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
        // SAFETY: rows first + i < m; their columns 0 and 1 are adjacent
        // (plain_pairs) and in bounds (n = 2).
        let out: [*mut f32; MR] = core::array::from_fn(|i| unsafe { (*t.c_rows.add(first + i)).add(c_offset) });
        // SAFETY: two floats at each output row are writable.
        unsafe { L::store_sums(&acc, bias, lo, hi, out) };
        first += MR;
    }
    first
}
