//! AVX-512F micro-kernels (32 zmm registers, mask registers).
//!
//! 12x32 is the tile. The limit is the general-purpose registers, not the zmm
//! ones: the ABI gives every row its own pointer, and the inner loop needs all
//! of them live. The 64-byte realigned stack takes rbp as frame pointer, which
//! leaves 14 GPRs: 12 row pointers, the k index and the panel pointer. 14 rows
//! would need 16, and reload row pointers from the stack on every k step. On
//! the zmm side, 24 accumulators (12 rows x 2 zmm), 2 panel vectors and 1
//! broadcast make 27 of 32, so nothing spills. Each k step issues 24 FMAs
//! against 2 panel loads and 12 broadcasts, enough to keep the FMA pipes busy.
//! NR = 32 rather than 48 because channel counts are mostly multiples of 32
//! (48 would pad 64 channels to 96), and MR = 12 divides the driver's
//! 240-row blocks, so full blocks have no ragged tile.
//!
//! The generic kernel's walks of 64 columns or more take the same panels two
//! at a time in 6-row tiles (`pairs_of_panels`): 24 accumulators (6 rows x 4
//! zmm), 4 panel vectors and 1 broadcast, 29 zmm; 6 row pointers, the k
//! index and the two panels' pointers in GPRs.
//!
//! The k loop is spill-free only in the shape written here; four details keep
//! it so (check after a change with `python3 scripts/fma_loop_spills.py`,
//! which lists every innermost FMA loop of a binary that touches the stack):
//! * the k-run closure is `#[inline(always)]`,
//! * the epilogue gets a copy of the accumulators,
//! * the k index counts up to 0 and is hidden from strength reduction,
//! * the half-wide (ymm) variant is compiled with AVX-512VL.

use core::arch::x86_64::*;

use super::walk::{walk_streams, walk_strided_tile, walk_tile, walks_strided, Lanes};

use crate::abi::{
    bias_pair_bits, for_each_panel, for_each_panel_group, plain_pairs, row_pointers_at, row_range,
    run_strided_as_indirect, store_pairs, store_pairs_elementwise, store_tile_elementwise, NextRows, StridedArgs,
    TileArgs, A_STREAMED,
};

const LANES: usize = 16;

/// Mask enabling the first `len` lanes (0..=16) of a masked load or store.
#[inline(always)]
fn tail_mask(len: usize) -> __mmask16 {
    // Computed in u32 so that len = 16 does not overflow the shift.
    ((1u32 << len.min(LANES)) - 1) as __mmask16
}

/// The shared AVX-512F body for a tile of exactly `MR` rows and `V·16`
/// columns, from a panel of `NR = PANEL_V·16` columns (`V <= PANEL_V`).
/// `per_row_count!` calls the instance whose `MR` is the tile's `m`, so every
/// row loop, the epilogue's included, has a constant trip count and the
/// accumulators stay in registers. `V < PANEL_V` serves a last panel whose
/// live columns fit in `V` vectors: it skips the FMAs of the dead ones.
/// `PREFETCH` instances stream their panel ([`super::streams_panel`]); those
/// of two vectors (`V == 2`) also walk their k loop in chunks of 16 steps,
/// and before each fetch their share of the next call's weights
/// ([`super::NextWeights`]) and may prefetch `next`, the rows of the tile
/// after this one ([`super::streams_rows`]).
///
/// # Safety
/// The ABI contract for `NR = PANEL_V·16`, with `t.m == MR` and
/// `t.n <= V·16`; `next` holds `next.count` readable row pointers; the CPU
/// has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const MR: usize, const V: usize, const HALF: bool, const PANEL_V: usize, const PREFETCH: bool>(
    t: &TileArgs,
    next: NextRows,
) {
    debug_assert_eq!(t.m, MR);
    let nr = PANEL_V * LANES;
    let mut acc = [[_mm512_setzero_ps(); V]; MR];

    if !t.bias.is_null() {
        for v in 0..V {
            // SAFETY: bias holds NR floats.
            let b = unsafe { _mm512_loadu_ps(t.bias.add(v * LANES)) };
            for row in acc.iter_mut() {
                row[v] = b;
            }
        }
    }

    // A tile that streams its panel also walks its k steps in chunks of 16,
    // and fetches the next tile's rows between them when `streams_rows` says
    // so. Not the one-vector tile (12x16): its loop then kept three row
    // pointers on the stack.
    let chunked = PREFETCH && V == 2;
    let prefetch_rows = chunked && super::streams_rows(t, 12);
    let next_weights = super::NextWeights::of(t);
    let mut panel = t.b_panel;
    // Inlined by force: `for_each_run` calls the closure from two places, and
    // an outlined closure would keep the accumulators in memory.
    t.a_k.for_each_run(
        t.k,
        #[inline(always)]
        |_, offset, len| {
            // Row pointers one past the run, read at a negative index that counts up
            // to 0: the loop needs no end register besides the 12 row pointers, the
            // index and the panel pointer (14 GPRs, all there are).
            // SAFETY: the contract gives m >= 1 readable row pointers; offset + len
            // is one past the run's last element, so at most one past the end of
            // the row's allocation.
            let ends: [*const f32; MR] = unsafe { row_pointers_at(t.a_rows, t.m, offset + len) };
            // `len` elements lie in one allocation, so `len <= isize::MAX`.
            let mut i = -(len as isize);
            while i != 0 {
                if chunked {
                    // Through an opaque reference to the stack, so that the
                    // share's state holds no register across the k loop
                    // (which has 14 general-purpose registers for 12 rows).
                    core::hint::black_box(&next_weights).fetch_chunk(offset + (len as isize + i) as usize);
                }
                if prefetch_rows {
                    // The next tile reads the same elements of its rows: fetch
                    // them a tile ahead, one line of each row every 16 steps,
                    // so that they come from L2 rather than L3 or memory.
                    // SAFETY: the caller's contract on `next`.
                    unsafe { super::prefetch_next_rows(&next, MR, offset + (len as isize + i) as usize) };
                }
                loop {
                    let mut b = [_mm512_setzero_ps(); V];
                    for (v, b_v) in b.iter_mut().enumerate() {
                        // SAFETY: the panel row is in bounds and 64-byte aligned (64-byte
                        // aligned panel, rows of NR = V·16 floats).
                        *b_v = unsafe {
                            if HALF && v == V - 1 {
                                _mm512_zextps256_ps512(_mm256_load_ps(panel.add(v * LANES)))
                            } else {
                                _mm512_load_ps(panel.add(v * LANES))
                            }
                        };
                    }
                    if PREFETCH {
                        for v in 0..PANEL_V {
                            super::prefetch_line(panel.wrapping_add(super::PANEL_PREFETCH_AHEAD + v * LANES));
                        }
                    }
                    for (acc_row, end) in acc.iter_mut().zip(&ends) {
                        // SAFETY: -len <= i < 0, so this is element offset + len + i of
                        // the row, inside the run: in bounds by the contract.
                        let a = _mm512_set1_ps(unsafe { *end.offset(i) });
                        for v in 0..V {
                            acc_row[v] = if HALF && v == V - 1 {
                                let (a, b, c) = (
                                    _mm512_castps512_ps256(a),
                                    _mm512_castps512_ps256(b[v]),
                                    _mm512_castps512_ps256(acc_row[v]),
                                );
                                _mm512_zextps256_ps512(_mm256_fmadd_ps(a, b, c))
                            } else {
                                _mm512_fmadd_ps(a, b[v], acc_row[v])
                            };
                        }
                    }
                    // SAFETY: stays within (or one past) the k·NR panel.
                    panel = unsafe { panel.add(nr) };
                    i += 1;
                    i = super::opaque_index(i);
                    // Unchunked, one loop runs the whole run.
                    if if chunked { i & 15 == 0 } else { i == 0 } {
                        break;
                    }
                }
            }
        },
    );

    // SAFETY: the contract's pointers for rows < MR == m, columns < n.
    unsafe { store_tile::<MR, V>(t, acc) };
}

/// Epilogue: accumulate, residual, clamp and store rows `< m`, columns `< n`.
/// Bias is already in the accumulators.
///
/// Everything that is the same for every row (the column offsets, the tail
/// masks, whether to add C and R) is settled once here, so that the row loop
/// is straight-line code: on a K = 16 layer the epilogue otherwise costs as
/// much as a third of the tile's FMAs.
///
/// It has no `#[target_feature]` so that it can be `#[inline(always)]`: it
/// is only ever inlined into the AVX-512F tiles. Left to the inliner, some
/// instances kept their accumulators in stack slots (77 zmm spills in the
/// 12x32 kernel against none).
///
/// # Safety
/// The ABI contract; the CPU has AVX-512F.
#[inline(always)]
unsafe fn store_tile<const MR: usize, const V: usize>(t: &TileArgs, acc: [[__m512; V]; MR]) {
    if !t.vector_columns(LANES) {
        let mut values = [[[0.0f32; LANES]; V]; MR];
        for i in 0..MR {
            for v in 0..V {
                // SAFETY: 16 floats fit; the CPU has AVX-512F.
                unsafe { _mm512_storeu_ps(values[i][v].as_mut_ptr(), acc[i][v]) };
            }
        }
        // SAFETY: MR == m rows of V·16 >= n values; the contract holds.
        unsafe { store_tile_elementwise(t, values.as_flattened().as_flattened(), V * LANES) };
        return;
    }
    // SAFETY: forwarded.
    unsafe {
        if t.accumulate == 0 && t.r_rows.is_null() {
            store_rows::<MR, V, true>(t, acc);
        } else {
            store_rows::<MR, V, false>(t, acc);
        }
    }
}

/// [`store_tile`] for vector-contiguous columns. `PLAIN` (no accumulate,
/// no residual: the common case) is settled at compile time; otherwise the
/// two are checked once per tile.
///
/// # Safety
/// As for [`store_tile`], with `t.vector_columns(16)`; `PLAIN` implies
/// `t.accumulate == 0` and a null `t.r_rows`.
#[inline(always)]
unsafe fn store_rows<const MR: usize, const V: usize, const PLAIN: bool>(t: &TileArgs, acc: [[__m512; V]; MR]) {
    // SAFETY: the CPU has AVX-512F (the caller's contract).
    let (lo, hi) = unsafe { (_mm512_set1_ps(t.clamp_min), _mm512_set1_ps(t.clamp_max)) };
    // Vectors wholly past column n are not touched: an all-zero mask. A full
    // vector gets the all-ones mask, which costs what a plain access does.
    let masks: [__mmask16; V] = core::array::from_fn(|v| tail_mask(t.n.saturating_sub(v * LANES)));
    let c_offsets: [usize; V] = core::array::from_fn(|v| t.c_cols.offset(v * LANES));
    let (accumulate, residual) = (!PLAIN && t.accumulate != 0, !PLAIN && !t.r_rows.is_null());
    let r_offsets: [usize; V] = core::array::from_fn(|v| if residual { t.r_cols.offset(v * LANES) } else { 0 });
    // Every load (accumulate, residual) comes before the first store, as in
    // the walks (see `walk.rs`): a load after a store a multiple of 4 KiB
    // away would wait for it.
    let mut acc = acc;
    if accumulate || residual {
        for (i, acc_row) in acc.iter_mut().enumerate() {
            // SAFETY: i < MR == m.
            let (c_row, r_row) = unsafe { t.rows(i) };
            for (v, x) in acc_row.iter_mut().enumerate() {
                // SAFETY: the lanes enabled by masks[v] are columns of the
                // tile (j < n), contiguous (vector_columns) and in bounds by
                // the contract; masked-off lanes are not read (AVX-512
                // masking suppresses their faults). The CPU has AVX-512F.
                unsafe {
                    if accumulate {
                        *x = _mm512_add_ps(*x, _mm512_maskz_loadu_ps(masks[v], c_row.wrapping_add(c_offsets[v])));
                    }
                    if residual {
                        *x = _mm512_add_ps(*x, _mm512_maskz_loadu_ps(masks[v], r_row.wrapping_add(r_offsets[v])));
                    }
                }
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: i < MR == m.
        let (c_row, _) = unsafe { t.rows(i) };
        for (v, &x) in acc_row.iter().enumerate() {
            // SAFETY: the lanes enabled by masks[v] are columns of the tile
            // (j < n), contiguous (vector_columns) and in bounds by the
            // contract; a vector with no such lane is not written, nor are
            // masked-off lanes (AVX-512 masking suppresses their faults).
            // The offsets of such vectors are never used for an access. The
            // CPU has AVX-512F.
            unsafe {
                // max/min return their second operand when either is NaN: NaN survives.
                let x = _mm512_min_ps(hi, _mm512_max_ps(lo, x));
                _mm512_mask_storeu_ps(c_row.wrapping_add(c_offsets[v]), masks[v], x);
            }
        }
    }
}

/// 12 x 32 AVX-512F kernel: 24 zmm accumulators. Its walks take two
/// panels at a time in 6-row tiles while two are left, from 64 columns on
/// (6x64 tiles: fewer loads per FMA, and each activation row read once per
/// pair of panels), with the same results as one panel at a time.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 12`, `NR = 32`; the CPU has
/// AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
pub unsafe fn f32_pw_12x32__avx512f(t: &TileArgs) {
    // SAFETY: forwarded contract; the target features are enabled here.
    unsafe { indirect_12x32::<true>(t) }
}

/// The indirect entry point of the 12x32 kernels: [`walk_6x64`] for the
/// walks of two panels or more when `PAIRS` (the generic kernel), else
/// [`walk_12x32`]; the M = 1 path and the per-panel tiles otherwise.
///
/// # Safety
/// As for [`f32_pw_12x32__avx512f`].
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
unsafe fn indirect_12x32<const PAIRS: bool>(t: &TileArgs) {
    // SAFETY: forwarded contract; the target features are enabled here.
    unsafe {
        if t.m == 1 {
            gemv::<2, 6, 8>(t, panel_12x32);
        } else if walks_12x32(t) {
            if PAIRS && pairs_of_panels(t.n) {
                walk_6x64(t);
            } else {
                walk_12x32(t);
            }
        } else {
            for_each_panel(t, 32, |panel| panel_12x32(panel));
        }
    }
}

/// Whether a walk of the generic 12x32 kernel over `n` columns takes its
/// panels two at a time, in 6-row tiles (a 6x64 tile: 24 accumulators, 4
/// panel loads and 6 broadcasts per 24 FMAs, against 2 and 12 in a 12x32
/// tile, and each activation row read once per pair of panels rather than
/// once per panel): from two whole panels on. The results are the same
/// bits (`walk_rows` in `walk.rs`).
///
/// Measured on an Intel Xeon (Emerald Rapids, two 512-bit FMA units), the
/// two walks alternated in one process, one thread, medians, two runs:
/// resnet50.s2.reduce (K = 256, N = 64, 3 MiB of input from L3) 152-157 to
/// 157-161 GFLOP/s, the batch of 8 of s3.reduce (K = 512) 161-162 to 166,
/// mobilenetv2.b2.expand +2-4%, b5.expand +1-2%, s3.reduce +1%, s2.expand,
/// s3.expand, s5.reduce and s5.expand +0-1%, mobilenetv2.head level. A C
/// model of the two tiles, alone, gave the 6x64 one +1.5 to +7% on the same
/// shapes. Not measured on Zen 4, whose kernel keeps the 12-row walk.
#[inline(always)]
fn pairs_of_panels(n: usize) -> bool {
    n >= 2 * 32
}

/// The strided entry point of [`f32_pw_12x32__avx512f`] ([`StridedArgs`]):
/// the panel walk of each row tile, its rows' addresses computed from the
/// strides, where `walk::walks_strided` takes the call (in 6-row tiles over
/// pairs of panels from 64 columns on, as the indirect walk); the indirect
/// entry point otherwise.
///
/// # Safety
/// The contract of `s` for `MR = 12`, `NR = 32`; the CPU has AVX-512F and
/// AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
pub unsafe fn f32_pw_12x32__avx512f_strided(s: &StridedArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance, n a multiple of
    // 16 where the walk takes the call).
    unsafe {
        if !walks_strided(s, LANES) {
            run_strided_as_indirect(s, 0, f32_pw_12x32__avx512f)
        } else if pairs_of_panels(s.n) {
            walk_strided_6x64(s)
        } else {
            per_row_count!(s, walk_strided_tile::<_, Zmm, 2, 2, 0>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12, strided)
        }
    }
}

/// The strided walk of [`f32_pw_12x32__avx512f_strided`] over pairs of
/// panels, in 6-row tiles. A function of its own: inlined into the entry
/// point beside the 12-row walk, its unrolled k loops (`PAIR_K_UNROLL`) left
/// that walk's 12-row loop two registers short, which it reloaded from the
/// stack at every step.
///
/// # Safety
/// As for [`f32_pw_12x32__avx512f_strided`], with `walks_strided` true for
/// `s` and `s.n` of two panels or more.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline(never)]
unsafe fn walk_strided_6x64(s: &StridedArgs) {
    // SAFETY: forwarded contract (m <= 6 for each instance, n a multiple of
    // 16).
    unsafe { per_row_count!(s, walk_strided_tile::<_, Zmm, 2, 2, 4>, [1, 2, 3, 4, 5], 6, strided) }
}

/// Whether the 12x32 kernels walk `t` (of more than one row: one row goes
/// to `gemv`): its columns span more than one panel, in a call that
/// [`crate::abi::walks_panels`] allows. One test for the generic kernel and
/// the Zen 4 one, whose results are bitwise the same only while they walk
/// the same calls.
#[inline(always)]
fn walks_12x32(t: &TileArgs) -> bool {
    t.n > 32 && crate::abi::walks_panels(t, 32)
}

/// The row tiles of a call that spans several panels, each across them all
/// and a last half panel: [`walk_tile`] on zmm registers.
/// Measured on Zen 4 against one call per panel, GFLOP/s:
/// mobilenetv2.b2.expand (K = 16, N = 96) 95 to 100, b5.expand and
/// resnet50.s2.expand +2%, s2.first and b8.expand +1%; at K = 96-160
/// (s3.expand, b12.expand, b15.expand, shufflenet.grouped) +2-3%. Past K =
/// 256 too, since the driver bounds a walk's panels (a third of the L3 on
/// AMD CPUs, half the L2 elsewhere: `walk_panel_budget_bytes` in the
/// driver's crate), three runs in one process: s3.reduce and its
/// batch of 8 +1-2%, s4.downsample +2-4.5%, s5.reduce, s5.expand and
/// s5.downsample +1-4%, mobilenetv2.head +1.5-2.4% (against the per-panel
/// tile with its panel and next-row prefetches, when this walk issued
/// none). Without that budget, 16 MiB of weights lost 22-46% walked.
///
/// It streams from [`A_STREAMED`] ([`walk_streams`]): resnet50.s3.reduce
/// at batch 8 5.2-5.9% faster than fetching nothing ahead, as it did
/// before (Zen 4). The generic kernel now walks calls of 64 columns or
/// more in [`walk_6x64`], which does not stream, and this walk the calls of
/// 48 columns, and the Zen 4 kernel's past its vector walk's depth.
///
/// # Safety
/// As for [`walk_tile`] with `NR = 32`, without `t.m == MR`; the CPU has
/// AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline(never)]
unsafe fn walk_12x32(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance).
    unsafe { walk_row_tiles!(t, Zmm, 2, walk_streams(t, 12, A_STREAMED), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12) }
}

/// The row tiles of a call that spans two panels or more, in 6-row tiles
/// that take two panels at a time ([`pairs_of_panels`]), and a last single
/// or half panel in the same tiles. It does not stream: on the Xeon, the
/// batch of 8 of resnet50.s3.reduce (12.25 MiB of input, [`A_STREAMED`])
/// ran 2-3% faster in this walk than in [`walk_12x32`] with its stream, and
/// forcing the stream on resnet50.s2.reduce (3 MiB) had cost that one 2-5%.
///
/// # Safety
/// As for [`walk_tile`] with `NR = 32`, without `t.m == MR`; the CPU has
/// AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline(never)]
unsafe fn walk_6x64(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= 6 for each instance).
    unsafe { walk_row_tiles!(t, Zmm, 2, pairs 4, [1, 2, 3, 4, 5], 6) }
}

/// The depth up to which [`f32_pw_12x32__avx512f_zen4`] walks each panel
/// one vector at a time: a panel of 256 rows of 32 floats is 32 KiB, Zen 4's
/// L1, so the second vector's k loop finds the panel there. Deeper, the
/// two k loops read the panel from L2 twice: resnet50.s5.expand (K = 512,
/// 7x7 pixels) ran 1-2% slower, s5.downsample (K = 1024) 5%.
pub const ZEN4_VECTOR_WALK_DEPTH: usize = 256;
const _: () = assert!(super::walk::STRIDED_WALK_DEPTH <= ZEN4_VECTOR_WALK_DEPTH);
// The vector walk does not stream (`walk_12x32_by_vector`).
const _: () = assert!(ZEN4_VECTOR_WALK_DEPTH < super::STREAM_ROWS_DEPTH);

/// 12 x 32 AVX-512F kernel tuned for AMD Zen 4 ([`crate::abi::Tuning::Zen4`]):
/// [`f32_pw_12x32__avx512f`], except that up to depth
/// [`ZEN4_VECTOR_WALK_DEPTH`] its walks run a k loop per vector of 16
/// columns rather than one per 32-column panel: 12 accumulators and 12
/// FMAs per k step, each with its activation broadcast from memory, and 12
/// stores per loop instead of 24. It reads the same packed panels and adds
/// the same products in the same order, so its results are bitwise those
/// of the generic kernel. Unlike the generic kernel it never walks panels
/// in pairs (`pairs_of_panels`, measured on an Intel Xeon only): past that
/// depth its walks keep 12-row tiles, one panel at a time, and stream
/// (`walk_12x32`).
///
/// Against the generic kernel on Zen 4, the suite's layers side by side in
/// one process (`examples/kernels_side_by_side.rs`, three runs): b2.expand
/// (K = 16) +7.9 to +8.2%, b3.expand and b5.expand +4.8 to +12.8%,
/// resnet50.s2.expand and s2.first (K = 64) +1.1 to +3.0%, K = 96 to 256
/// +0.1 to +2.4%, and with bias + residual + ReLU as much or more. Why the
/// 12x32 k loop loses there was not pinned down (no performance counters on
/// the development machine): not its stores' width (ymm halves: slower),
/// nor their count per loop (6x32 and 8x32 zmm tiles: no gain), nor the
/// output lines (fetched into L1 first: no gain), nor the register width
/// (the same panels walked in 6x32 and 4x32 ymm tiles: 1-8% slower).
///
/// Not for Intel: there two 512-bit FMA units take 12 FMAs in 6 cycles,
/// against 13 loads (12 broadcasts and the panel's vector) on 2 or 3 load
/// ports, and the 12x16 kernel, the same k loop, ran the layers of K <= 64
/// 22-75% slower than the 12x32 one on a Xeon.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 12`, `NR = 32`; the CPU has
/// AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
pub unsafe fn f32_pw_12x32__avx512f_zen4(t: &TileArgs) {
    // SAFETY: forwarded contract; the target features are enabled here.
    unsafe {
        if t.m > 1 && t.k <= ZEN4_VECTOR_WALK_DEPTH && walks_12x32(t) {
            walk_12x32_by_vector(t);
        } else {
            indirect_12x32::<false>(t);
        }
    }
}

/// The strided entry point of [`f32_pw_12x32__avx512f_zen4`]: the strided
/// walk one vector at a time, where `walk::walks_strided` takes the call
/// (at depths up to `STRIDED_WALK_DEPTH`, within
/// [`ZEN4_VECTOR_WALK_DEPTH`]); this kernel's indirect entry point
/// otherwise (one row, columns not in whole vectors, or a depth past
/// `STRIDED_WALK_DEPTH`).
///
/// # Safety
/// The contract of `s` for `MR = 12`, `NR = 32`; the CPU has AVX-512F and
/// AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
pub unsafe fn f32_pw_12x32__avx512f_zen4_strided(s: &StridedArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance, n a multiple of
    // 16 where the walk takes the call).
    unsafe {
        if walks_strided(s, LANES) {
            per_row_count!(s, walk_strided_tile::<_, Zmm, 2, 1, 0>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12, strided)
        } else {
            run_strided_as_indirect(s, 0, f32_pw_12x32__avx512f_zen4)
        }
    }
}

/// [`walk_12x32`] one vector of 16 columns at a time, for
/// [`f32_pw_12x32__avx512f_zen4`]. It never streams: its depths are below
/// [`super::STREAM_ROWS_DEPTH`].
///
/// # Safety
/// As for [`walk_12x32`].
#[target_feature(enable = "avx512f,avx512vl")]
#[inline(never)]
unsafe fn walk_12x32_by_vector(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance).
    unsafe { walk_row_tiles!(t, Zmm, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12) }
}

/// The panel walk's vector operations on zmm registers.
struct Zmm;

// SAFETY: only used from functions that enable AVX-512F (`walk_12x32`,
// `walk_6x64`, `walk_12x32_by_vector` and the strided entry points); every
// method below is an AVX-512F intrinsic.
unsafe impl Lanes for Zmm {
    type Vector = __m512;
    const LANES: usize = LANES;
    // One step per pass in the 12-row walks, whose k loop takes all 14
    // general-purpose registers: unrolled, it reloaded row pointers from the
    // stack (so did the strided walk's 6-row tiles of one panel). Two in the
    // 6-row tiles of the pair walk: resnet50.s2.reduce +2.3% (CLI, builds
    // alternated six times, Xeon), the other walked layers within ±0.7%.
    const K_UNROLL: usize = 1;
    const PAIR_K_UNROLL: usize = 2;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: the CPU has AVX-512F (the trait's contract), as below.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m512 {
        // SAFETY: and `p` is readable (the method's contract), as below.
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn load_aligned(p: *const f32) -> __m512 {
        unsafe { _mm512_load_ps(p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, x: __m512) {
        unsafe { _mm512_storeu_ps(p, x) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    // Measured slower without them: see `open_clamp_bounds`.
    const SKIPS_OPEN_CLAMP_BOUNDS: bool = false;
    // A 12-row half panel is 12 chains already. Splitting the walks' half
    // panels (the 6-row pairs' are 6 chains) ran mobilenetv2.b3.expand
    // 0.8-4.5% slower and shufflenet.grouped 1.3-3.4% faster (Intel Xeon,
    // two builds, CLI builds alternated 8 times each; the other paths left
    // as they were).
    const SPLITS_HALF_PANELS: bool = false;
    #[inline(always)]
    unsafe fn max(lo: __m512, x: __m512) -> __m512 {
        unsafe { _mm512_max_ps(lo, x) }
    }
    #[inline(always)]
    unsafe fn min(hi: __m512, x: __m512) -> __m512 {
        unsafe { _mm512_min_ps(hi, x) }
    }
}

// SAFETY: only used by `f32_pw_8x2__avx512f`, which enables AVX-512F; every
// method below is AVX-512F code.
unsafe impl super::dot::DotLanes for Zmm {
    #[inline(always)]
    unsafe fn split_panel(panel: *const f32, depths: usize) -> (__m512, __m512) {
        // SAFETY: the CPU has AVX-512F and the floats are readable (the
        // trait's and the method's contracts), as below.
        unsafe { split_panel(panel, depths) }
    }
    #[inline(always)]
    unsafe fn load_depths(p: *const f32, depths: usize) -> __m512 {
        // Masked-off lanes are not accessed.
        unsafe { _mm512_maskz_loadu_ps(tail_mask(depths), p) }
    }
    #[inline(always)]
    unsafe fn bias_pairs(bits: i64) -> __m512 {
        unsafe { _mm512_castsi512_ps(_mm512_set1_epi64(bits)) }
    }
    #[inline(always)]
    unsafe fn store_sums<const MR: usize>(
        acc: &[[__m512; 2]; MR],
        bias: __m512,
        lo: __m512,
        hi: __m512,
        rows: [*mut f32; MR],
    ) {
        unsafe {
            // Lanes 2i, 2i + 1 are row i's pair.
            let x = <Self as Lanes>::clamp(lo, hi, <Self as Lanes>::add(fold_rows(acc), bias));
            let quarters = [
                _mm512_castps512_ps128(x),
                _mm512_extractf32x4_ps::<1>(x),
                _mm512_extractf32x4_ps::<2>(x),
                _mm512_extractf32x4_ps::<3>(x),
            ];
            for (i, &row) in rows.iter().enumerate() {
                super::store_pair(row, quarters[i / 2], i % 2 == 1);
            }
        }
    }
}

/// One panel of [`f32_pw_12x32__avx512f`].
///
/// # Safety
/// The ABI contract for `MR = 12`, `NR = 32`, with `t.n <= 32`; the CPU has
/// AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
unsafe fn panel_12x32(t: &TileArgs) {
    // SAFETY: forwarded contract; each function below serves the column
    // counts it is called with.
    unsafe {
        match t.n.div_ceil(LANES / 2) {
            0..=2 => columns_12x32::<1, false>(t),
            3 => columns_12x32::<2, true>(t),
            _ => columns_12x32::<2, false>(t),
        }
    }
}

/// One row (M = 1) across panels of `V·16` columns, in groups of 4
/// or 3 ([`crate::abi::panel_group_size`]): [`gemv_groups`].
///
/// # Safety
/// As for [`gemv_groups`].
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gemv<const V: usize, const V3: usize, const V4: usize>(t: &TileArgs, one_panel: unsafe fn(&TileArgs)) {
    // The vectors of a group of 3 or 4 panels (no const arithmetic on `V`).
    const { assert!(V3 == 3 * V && V4 == 4 * V) };
    // SAFETY: forwarded.
    unsafe {
        match crate::abi::panel_group_size(t, V * LANES) {
            3 => gemv_groups::<3, V, V3>(t, one_panel),
            _ => gemv_groups::<4, V, V4>(t, one_panel),
        }
    }
}

/// One row (M = 1: classifier, squeeze-excitation) across `P` panels of
/// `V·16` columns at a time: the AVX-512 twin of the AVX2 `gemv_groups`. A one-row
/// tile has only `V` dependent FMA chains; `P` panels give `P·V`. Each column
/// still gets its bias and then one FMA per depth in order, so the results are
/// bitwise those of [`tile`]; panels left over go to `one_panel`. A group is
/// stored as one tile of `PV = P·V` vectors (see
/// [`for_each_panel_group`]).
///
/// # Safety
/// The ABI contract for `NR = V·16`, with `t.m == 1`; `one_panel` upholds it
/// for one panel; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gemv_groups<const P: usize, const V: usize, const PV: usize>(t: &TileArgs, one_panel: unsafe fn(&TileArgs)) {
    const { assert!(PV == P * V) };
    let group = |tile: &TileArgs| {
        let mut acc = [[_mm512_setzero_ps(); V]; P];
        if !tile.bias.is_null() {
            for (i, acc_panel) in acc.iter_mut().enumerate() {
                for (v, acc_v) in acc_panel.iter_mut().enumerate() {
                    // SAFETY: the group's bias holds P·NR floats.
                    *acc_v = unsafe { _mm512_loadu_ps(tile.bias.add((i * V + v) * LANES)) };
                }
            }
        }
        // SAFETY: the group's P panels exist, `b_panel_stride` floats apart.
        // Opaque, so that each panel keeps a pointer register of its own: as
        // one pointer and multiples of the stride, LLVM kept the stride and
        // the loop's end on the stack and reloaded them at every step.
        let mut b: [*const f32; P] =
            core::array::from_fn(|i| core::hint::black_box(unsafe { tile.b_panel.add(i * tile.b_panel_stride) }));
        // SAFETY: the contract gives one readable row pointer.
        let row = unsafe { *t.a_rows };
        t.a_k.for_each_run(
            t.k,
            #[inline(always)]
            |_, offset, len| {
                let mut sums = acc;
                // The index counts up to 0 from -len, from the run's end: the
                // loop then needs no end register (with a count up to `len`,
                // the 6x16 kernel kept `len` on the stack and compared with it
                // at every step).
                // SAFETY: the run's end is in bounds, or one past.
                let end = unsafe { row.add(offset + len) };
                let mut i = -(len as isize);
                while i != 0 {
                    // SAFETY: -len <= i < 0: element len + i of this run, in
                    // bounds by the contract.
                    let a = _mm512_set1_ps(unsafe { *end.offset(i) });
                    for (sums_panel, b_panel) in sums.iter_mut().zip(b.iter_mut()) {
                        for (v, sum) in sums_panel.iter_mut().enumerate() {
                            // SAFETY: the panel row is in bounds and aligned.
                            *sum = _mm512_fmadd_ps(a, unsafe { _mm512_load_ps(b_panel.add(v * LANES)) }, *sum);
                        }
                        // SAFETY: stays within (or one past) the panel.
                        *b_panel = unsafe { b_panel.add(V * LANES) };
                    }
                    i += 1;
                    i = super::opaque_index(i);
                }
                acc = sums;
            },
        );
        // The group's columns in order, panel by panel.
        let row: [__m512; PV] = core::array::from_fn(|j| acc[j / V][j % V]);
        // SAFETY: the group's tile satisfies the contract, with m = 1 and
        // n <= PV·LANES.
        unsafe { store_tile::<1, PV>(tile, [row]) };
    };
    // SAFETY: forwarded contract; `one_panel` upholds it for one panel.
    unsafe { for_each_panel_group::<P>(t, V * LANES, group, |tile| one_panel(tile)) };
}

/// The 12x32 instances for one column class: `V` vectors, the last one half
/// wide (a ymm) when `HALF`, for 17..=24 live columns. On Zen 4 a ymm FMA
/// costs half a zmm one, so a 24-column layer (MobileNetV2's b2/b3
/// projections) runs 18 FMA cycles per k step instead of 24: measured 80 to
/// 94 GFLOP/s on b2.project. One function per class, so that each stays
/// small enough for LLVM to inline its 24 tile instances (in one function it
/// called them out of line).
///
/// AVX-512VL lets the ymm accumulators use all 32 registers. Without it
/// (VEX encoding, 16 registers) one accumulator was spilled inside the k
/// loop, and the layer ran at 70 or 94 GFLOP/s depending on where the stack
/// fell (a store-to-load round trip per step, sometimes 4K-aliased).
///
/// # Safety
/// The ABI contract for `MR = 12`, `NR = 32`, with `t.n` in the class; the
/// CPU has AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline(never)]
unsafe fn columns_12x32<const V: usize, const HALF: bool>(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance).
    unsafe {
        // Only full panels get prefetching instances: a narrower last panel
        // is one of many, and each instance costs compile time (the fuzz
        // build's instrumentation especially).
        if V == 2 && !HALF && super::streams_panel(t, 12, 32) {
            per_row_count!(t, tile::<_, V, HALF, 2, true>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12, with_next_rows)
        } else {
            per_row_count!(t, tile::<_, V, HALF, 2, false>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12, with_next_rows)
        }
    }
}

/// 12 x 16 AVX-512F kernel, the narrow companion for layers with at most 16
/// output channels per group: 12 accumulators, 1 panel vector.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 12`, `NR = 16`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_pw_12x16__avx512f(t: &TileArgs) {
    // SAFETY: forwarded contract; the target features are enabled here.
    unsafe {
        if t.m == 1 {
            gemv::<1, 3, 4>(t, panel_12x16);
        } else {
            for_each_panel(t, 16, |panel| panel_12x16(panel));
        }
    }
}

/// The strided entry point of [`f32_pw_12x16__avx512f`] ([`StridedArgs`]):
/// the panel walk of each row tile (panels of one vector), its rows'
/// addresses computed from the strides, where `walk::walks_strided` takes the
/// call; the indirect entry point otherwise.
///
/// # Safety
/// The contract of `s` for `MR = 12`, `NR = 16`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_pw_12x16__avx512f_strided(s: &StridedArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance, n a multiple of
    // 16 where the walk takes the call).
    unsafe {
        if walks_strided(s, LANES) {
            per_row_count!(s, walk_strided_tile::<_, Zmm, 1, 1, 0>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12, strided)
        } else {
            run_strided_as_indirect(s, 0, f32_pw_12x16__avx512f)
        }
    }
}

/// One panel of [`f32_pw_12x16__avx512f`].
///
/// # Safety
/// The ABI contract for `MR = 12`, `NR = 16`, with `t.n <= 16`; the CPU has
/// AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn panel_12x16(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance).
    unsafe {
        if super::streams_panel(t, 12, 16) {
            per_row_count!(t, tile::<_, 1, false, 1, true>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12, with_next_rows)
        } else {
            per_row_count!(t, tile::<_, 1, false, 1, false>, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 12, with_next_rows)
        }
    }
}

/// Dot-product tile of 2 columns, for layers with 1 or 2 output channels per
/// group (U-Net heads, binary masks), where a broadcast kernel would multiply
/// mostly zero columns. Each k step takes 16 depths: the panel's 32 floats are
/// split once into column 0 and column 1 (two `vpermt2ps`, shared by all the
/// rows), then each row's 16 depths are one load and two FMAs. The 16
/// accumulators (8 rows x 2 columns) fold into one vector of the 16 results,
/// whose bias, clamp and stores are vector operations too. Up to K = 64, a
/// plain call's whole row tiles take the dot walk instead (`x86_64/dot.rs`),
/// and this tile the rows left over.
///
/// The fold is what made the depth-in-vector kernel this replaces slow: it
/// summed each row's lanes one float at a time, about 400 cycles per 12-row
/// tile against 100 of FMAs on unet.head (K = 64).
///
/// # Safety
/// The ABI contract for `NR = 2`, with `t.m == MR <= 8`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn dot_tile<const MR: usize>(t: &TileArgs) {
    debug_assert_eq!(t.m, MR);
    const NR: usize = 2;
    let mut acc = [[_mm512_setzero_ps(); NR]; MR];
    let mut panel = t.b_panel;
    t.a_k.for_each_run(
        t.k,
        #[inline(always)]
        |_, offset, len| {
            let mut sums = acc;
            // SAFETY: the contract gives m >= 1 readable row pointers; the run's
            // first element is in bounds.
            let a_rows: [*const f32; MR] = unsafe { row_pointers_at(t.a_rows, t.m, offset) };
            let full = len - len % LANES;
            let mut p = 0;
            while p < full {
                // SAFETY: depths p..p + 16 of the run and panel rows p..p + 16 exist.
                unsafe { dot_step(&mut sums, &a_rows, p, panel, LANES) };
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(NR * LANES) };
                p += LANES;
            }
            if p < len {
                // SAFETY: depths p..len of the run and panel rows p..len exist.
                unsafe { dot_step(&mut sums, &a_rows, p, panel, len - p) };
                panel = panel.wrapping_add(NR * (len - p));
            }
            acc = sums;
        },
    );

    // SAFETY: the CPU has AVX-512F (this function's target feature).
    let sums = unsafe { fold_rows(&acc) };
    // SAFETY: the contract; lanes 2i + j for i < m, j < n are the tile's results.
    unsafe { store_two_columns::<MR>(t, sums) };
}

/// The two sums of each of `MR <= 8` rows, each the lane sum of its
/// accumulator: lane `2i + j` is row `i`, column `j` (zero past `MR` rows).
///
/// No `#[target_feature]`, so that it is always inlined, as the epilogue
/// needs: out of line, the accumulators went through the stack and the dot
/// walk ran at a third of its speed.
///
/// # Safety
/// The CPU has AVX-512F.
#[inline(always)]
unsafe fn fold_rows<const MR: usize>(acc: &[[__m512; 2]; MR]) -> __m512 {
    // The fold transposes its 16 inputs, so they go in transposed order.
    let flat: [__m512; 16] = core::array::from_fn(|v| {
        let lane = (v % 4) * 4 + v / 4;
        let (row, col) = (lane / 2, lane % 2);
        if row < MR {
            acc[row][col]
        } else {
            // SAFETY: the caller's contract, as below.
            unsafe { _mm512_setzero_ps() }
        }
    });
    unsafe { fold16(flat) }
}

/// Adds `depths <= 16` depths of every row, starting at element `at` of each
/// row, against the panel rows at `panel`. Masked-off lanes load zeros in both
/// operands, so an infinite input never meets a padding lane.
/// Prefetches the rows' later elements into L1, whatever the `a_cold` hint
/// ([`super::prefetch_activations`]): only the dot walk follows the hint.
///
/// # Safety
/// Elements `at..at + depths` of each row and `2·depths` panel floats are
/// readable; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn dot_step<const MR: usize>(
    sums: &mut [[__m512; 2]; MR],
    a_rows: &[*const f32; MR],
    at: usize,
    panel: *const f32,
    depths: usize,
) {
    // SAFETY: the masks enable exactly the 2·depths panel floats and the
    // `depths` row elements that the caller guarantees; masked-off lanes are
    // not accessed (AVX-512 masking suppresses their faults).
    unsafe {
        let (w0, w1) = split_panel(panel, depths);
        let a_mask = tail_mask(depths);
        for (sum, row) in sums.iter_mut().zip(a_rows) {
            super::prefetch_activations::<false>(*row, at);
            let a = _mm512_maskz_loadu_ps(a_mask, row.wrapping_add(at));
            sum[0] = _mm512_fmadd_ps(a, w0, sum[0]);
            sum[1] = _mm512_fmadd_ps(a, w1, sum[1]);
        }
    }
}

/// Column 0 and column 1 of `depths <= 16` panel rows at `panel` (two
/// `vpermt2ps`), zero in the lanes past `depths`.
///
/// # Safety
/// `2·depths` floats at `panel` are readable; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn split_panel(panel: *const f32, depths: usize) -> (__m512, __m512) {
    let column0 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let column1 = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // SAFETY: the masks enable exactly the 2·depths floats the caller
    // guarantees; masked-off lanes are not accessed.
    unsafe {
        let lo = _mm512_maskz_loadu_ps(tail_mask(2 * depths), panel);
        let hi = _mm512_maskz_loadu_ps(tail_mask((2 * depths).saturating_sub(LANES)), panel.wrapping_add(LANES));
        (_mm512_permutex2var_ps(lo, column0, hi), _mm512_permutex2var_ps(lo, column1, hi))
    }
}

/// Sums the lanes of 16 vectors: lane `l` of the result is the sum of vector
/// `(l % 4)·4 + l / 4` (a transpose, in four levels of shuffles and adds).
#[target_feature(enable = "avx512f")]
#[inline]
fn fold16(v: [__m512; 16]) -> __m512 {
    // Halves: [x.lo + x.hi | y.lo + y.hi].
    let z: [__m512; 8] = core::array::from_fn(|i| {
        let (x, y) = (v[2 * i], v[2 * i + 1]);
        _mm512_add_ps(_mm512_shuffle_f32x4::<0b01_00_01_00>(x, y), _mm512_shuffle_f32x4::<0b11_10_11_10>(x, y))
    });
    // Quarters.
    let w: [__m512; 4] = core::array::from_fn(|i| {
        let (x, y) = (z[2 * i], z[2 * i + 1]);
        _mm512_add_ps(_mm512_shuffle_f32x4::<0b10_00_10_00>(x, y), _mm512_shuffle_f32x4::<0b11_01_11_01>(x, y))
    });
    // Pairs within each 128-bit lane, then single floats.
    let u: [__m512; 2] = core::array::from_fn(|i| {
        let (x, y) = (w[2 * i], w[2 * i + 1]);
        _mm512_add_ps(_mm512_shuffle_ps::<0b01_00_01_00>(x, y), _mm512_shuffle_ps::<0b11_10_11_10>(x, y))
    });
    _mm512_add_ps(_mm512_shuffle_ps::<0b10_00_10_00>(u[0], u[1]), _mm512_shuffle_ps::<0b11_01_11_01>(u[0], u[1]))
}

/// Epilogue of [`dot_tile`]: lane `2i + j` of `sums` is row `i`, column `j`,
/// without bias.
///
/// # Safety
/// The ABI contract for `NR = 2`, with `t.m == MR <= 8`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store_two_columns<const MR: usize>(t: &TileArgs, sums: __m512) {
    let mut results = [0.0f32; LANES];
    let mut x = sums;
    let plain = plain_pairs(t);
    if plain {
        if !t.bias.is_null() {
            // SAFETY: bias is not null.
            x = _mm512_add_ps(x, _mm512_castsi512_ps(_mm512_set1_epi64(unsafe { bias_pair_bits(t.bias) })));
        }
        // max/min return their second operand when either is NaN: NaN survives.
        x = _mm512_min_ps(_mm512_set1_ps(t.clamp_max), _mm512_max_ps(_mm512_set1_ps(t.clamp_min), x));
    }
    // SAFETY: 16 floats fit the array.
    unsafe { _mm512_storeu_ps(results.as_mut_ptr(), x) };
    // SAFETY: the contract, and results holds 2·MR = 2·m floats.
    unsafe {
        if plain {
            store_pairs(t, &results[..2 * MR]);
        } else {
            store_pairs_elementwise(t, &results[..2 * MR]);
        }
    }
}

/// 8 x 2 AVX-512F dot-product kernel, for layers of 1 or 2 output channels
/// per group.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 8`, `NR = 2`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_pw_8x2__avx512f(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe {
        for_each_panel(t, 2, |panel| {
            let walked = super::dot::dot_walk_rows::<Zmm, 8, 4>(panel);
            if walked < panel.m {
                per_row_count!(&row_range(panel, walked, panel.m - walked), dot_tile::<_>, [1, 2, 3, 4, 5, 6, 7], 8)
            }
        })
    }
}

/// The strided entry point of [`f32_pw_8x2__avx512f`] ([`StridedArgs`]): the dot walk
/// with each row's addresses computed from the strides, and the rows it
/// leaves (the last short tile, and calls it does not take) through the
/// indirect entry point.
///
/// # Safety
/// The contract of `s` for `MR = 8`, `NR = 2`; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_pw_8x2__avx512f_strided(s: &StridedArgs) {
    // SAFETY: forwarded contract; the target features are enabled on this
    // function and on the indirect entry point; the walk returns how many
    // rows it computed, whole tiles and at most m, so the rows it leaves are
    // walked..m.
    unsafe {
        let walked = super::dot::dot_walk_strided::<Zmm, 8, 4>(s);
        run_strided_as_indirect(s, walked, f32_pw_8x2__avx512f);
    }
}
