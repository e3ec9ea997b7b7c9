//! AVX2 + FMA3 micro-kernels (16 ymm registers).
//!
//! 6x16 is the Haswell/Zen standard: 12 accumulators (6 rows x 2 ymm), 2 panel
//! vectors and 1 broadcast make 15 of the 16 registers, and each k step issues
//! 12 FMAs against 2 loads + 6 broadcasts, enough to keep both FMA pipes busy.
//! Against the other shapes, each alone with its panel in L1 (`benches/ukernel.rs`,
//! one criterion run, Zen 4): 6x16 113.5 GFLOP/s, 5x16 107, 8x8 88, and 4x24
//! 49, whose 12 accumulators, 3 panel vectors and broadcast take all 16
//! registers, so LLVM spilled in its k loop.

use core::arch::x86_64::*;

use super::walk::{fold_sets, walk_streams, walk_strided_tile, walk_tile, walks_strided, Lanes};

use crate::abi::{
    bias_pair_bits, for_each_panel, for_each_panel_group, plain_pairs, row_pointers_at, row_range,
    run_strided_as_indirect, store_pairs, store_pairs_elementwise, store_tile_elementwise, NextRows, StridedArgs,
    TileArgs, A_COLD,
};

const LANES: usize = 8;

/// k steps per pass of the k loops (the tiles' and the walk's): one update
/// of the panel pointer and the index, and one loop branch, per four steps
/// rather than per step. One step per pass is 12 FMAs of a 6x16 tile beside
/// 3 integer µops (pointer, index, compare-and-branch), which Intel cores
/// may issue to the two ports that also take 256-bit FMAs (the likely cause;
/// no counters in the VM to show it). Measured with the AVX2 kernels forced
/// on an Intel Xeon (Emerald Rapids), CLI builds alternated ten times,
/// medians of the per-run ratios: resnet50.s2.reduce +2.6%, s2.expand +4.0%,
/// s3.reduce and s3.expand +2.2-2.5%, s4.expand +3.5%, mobilenetv2.b2.expand
/// +4.2%, b12.expand +3.9%, b15.project +4.2%, head +2.2%; shufflenet.grouped
/// −2.5%, b3.project and b5.expand −1.2 to −1.3%, s4.reduce and s5.reduce
/// −1.4 to −1.6% (best runs +0.4%). Two steps per pass did about half as
/// well. Not measured on AMD.
const K_UNROLL: usize = 4;

/// Accumulator sets of the 6x16 kernel's half panels (a last panel of at
/// most 8 columns), on every path: depth `d` accumulates into set `d % 2`,
/// and the sets are added in order before the epilogue, so that the 6 FMA
/// chains of a 6-row tile's one vector become 12 (a 4-cycle FMA, two a
/// cycle, takes 8 to keep both pipes busy). The walk, the tile and the
/// one-row path all sum a half panel this way, so its bits do not depend on
/// the path. Measured with the AVX2 kernels forced on an Intel Xeon (Emerald
/// Rapids), CLI builds alternated 8 to 12 times, medians of the per-run
/// ratios: mobilenetv2.b3.project (24 columns: a panel and a half) +8.7 to
/// +9.4%, b2.project +2.2 to +6.0%; the other layers of the suite level (an
/// A/A run of the same binary twice as wide). The zmm walks keep one set
/// (`Lanes::SPLITS_HALF_PANELS` of `Zmm`).
const HALF_PANEL_SETS: usize = 2;

/// `_mm256_maskload_ps`/`maskstore` mask enabling the first `len` lanes (0..=8).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn tail_mask(len: usize) -> __m256i {
    const ONES_THEN_ZEROS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    // SAFETY: 8 - min(len, 8) + 8 <= 16 elements are read.
    unsafe { _mm256_loadu_si256(ONES_THEN_ZEROS.as_ptr().add(LANES - len.min(LANES)) as *const __m256i) }
}

/// The shared AVX2 body for a tile of exactly `MR` rows and `V·8` columns,
/// from a panel of `NR = PANEL_V·8` columns (`V <= PANEL_V`).
/// `per_row_count!` calls the instance whose `MR` is the tile's `m`, so every
/// row loop has a constant trip count: the accumulators stay in registers
/// through the epilogue, and nothing is computed for absent rows. `V <
/// PANEL_V` serves a last panel whose live columns fit in `V` vectors: it
/// skips the FMAs of the dead ones. `PREFETCH` instances walk their k loop
/// in chunks of 16 steps, and before each prefetch part of `next`, the rows
/// of the tile after this one, where [`super::streams_rows`] says so, and
/// their share of the next call's weights ([`super::NextWeights`]).
/// Measured on an Intel Xeon (Emerald Rapids) with the AVX2 kernels forced,
/// against no `b_next`, in turn in one process, two runs: resnet50.s5.reduce
/// +3%, s5.expand +2.5-3%, s5.downsample +3%, s4.downsample level.
/// With `SETS = 2`, depth `d` accumulates into set `d % 2`, and the sets are
/// added in order before the epilogue ([`HALF_PANEL_SETS`]).
///
/// # Safety
/// The ABI contract for `NR = PANEL_V·8`, with `t.m == MR` and `t.n <= V·8`;
/// `next` holds `next.count` readable row pointers; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const MR: usize, const V: usize, const PANEL_V: usize, const PREFETCH: bool, const SETS: usize>(
    t: &TileArgs,
    next: NextRows,
) {
    debug_assert_eq!(t.m, MR);
    const { assert!(SETS == 1 || (SETS == 2 && K_UNROLL.is_multiple_of(2))) };
    let nr = PANEL_V * LANES;
    let mut acc = [[[_mm256_setzero_ps(); V]; MR]; SETS];

    if !t.bias.is_null() {
        for v in 0..V {
            // SAFETY: bias holds NR floats.
            let b = unsafe { _mm256_loadu_ps(t.bias.add(v * LANES)) };
            for row in acc[0].iter_mut() {
                row[v] = b;
            }
        }
    }

    let mut panel = t.b_panel;
    let prefetch_rows = PREFETCH && super::streams_rows(t, 6);
    let next_weights = super::NextWeights::of(t);
    t.a_k.for_each_run(t.k, |depth, offset, len| {
        // A copy of the accumulators per run, indexed by constants only, stays
        // in registers for the whole run (the closure sees `acc` by reference,
        // and every run of a blocked layout would otherwise load and store all
        // accumulators around each k step).
        let mut sums = acc;
        // SAFETY: the contract gives m >= 1 readable row pointers; the run's
        // first element is in bounds.
        let a_rows: [*const f32; MR] = unsafe { row_pointers_at(t.a_rows, t.m, offset) };
        let mut p = 0;
        while p < len {
            // Without prefetching, one chunk is the whole run.
            let chunk_end = if PREFETCH {
                // As in the AVX-512 tile: a line of each of the next tile's
                // rows every 16 steps, a tile ahead of their use.
                if prefetch_rows {
                    // SAFETY: the caller's contract on `next`.
                    unsafe { super::prefetch_next_rows(&next, MR, offset + p) };
                }
                // Opaque, as in the AVX-512 tile: no register held for it.
                core::hint::black_box(&next_weights).fetch_chunk(offset + p);
                (p + 16).min(len)
            } else {
                len
            };
            // One step: panel row `panel`, element `p` of each row.
            let step = |sums: &mut [[__m256; V]; MR], panel: *const f32, p: usize| {
                let mut b = [_mm256_setzero_ps(); V];
                for (v, b_v) in b.iter_mut().enumerate() {
                    // SAFETY: the panel row is in bounds and 32-byte aligned (64-byte
                    // aligned panel, rows of NR = V·8 floats).
                    *b_v = unsafe { _mm256_load_ps(panel.add(v * LANES)) };
                }
                for (sums_row, row) in sums.iter_mut().zip(&a_rows) {
                    // SAFETY: element p of this run is in bounds by the contract.
                    let a = unsafe { _mm256_broadcast_ss(&*row.add(p)) };
                    for v in 0..V {
                        sums_row[v] = _mm256_fmadd_ps(a, b[v], sums_row[v]);
                    }
                }
            };
            // Every step names its set by a constant index (as in the
            // walk's `k_steps`), so that the sets stay in registers. Two
            // sets: an odd first depth goes alone, so that each pass below
            // starts on an even one.
            if SETS == 2 && (depth + p) % 2 == 1 {
                step(&mut sums[SETS - 1], panel, p);
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(nr) };
                p += 1;
            }
            // `K_UNROLL` steps per pass while as many are left, then one at a time.
            while p + K_UNROLL <= chunk_end {
                for u in 0..K_UNROLL {
                    // SAFETY: row p + u of the panel is in bounds.
                    step(&mut sums[u % SETS], unsafe { panel.add(u * nr) }, p + u);
                }
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(K_UNROLL * nr) };
                p += K_UNROLL;
            }
            // Then a step into each set while as many are left, from an
            // even depth, and one into the first.
            while p + SETS <= chunk_end {
                for (s, set) in sums.iter_mut().enumerate() {
                    // SAFETY: row p + s of the panel is in bounds.
                    step(set, unsafe { panel.add(s * nr) }, p + s);
                }
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(SETS * nr) };
                p += SETS;
            }
            if p < chunk_end {
                step(&mut sums[0], panel, p);
                // SAFETY: stays within (or one past) the k·NR panel.
                panel = unsafe { panel.add(nr) };
                p += 1;
            }
        }
        acc = sums;
    });

    // SAFETY: the CPU has AVX2 (the function's features); the contract's
    // pointers for rows < m, columns < n.
    unsafe { store_tile::<MR, V>(t, fold_sets::<Ymm, MR, V, SETS>(&acc)) };
}

/// Epilogue: accumulate, residual, clamp and store the `MR == m` rows,
/// columns `< n`. Bias is already in the accumulators.
///
/// As in the AVX-512 kernels, what is the same for every row (column
/// offsets, live lanes, whether to add C and R) is settled once, so that the
/// row loop is straight-line code, and there is no `#[target_feature]` so
/// that it can be `#[inline(always)]` into the AVX2 tiles: with per-vector
/// checks, a 6x16 call with k = 0 took about 18 ns.
///
/// # Safety
/// The ABI contract with `t.m == MR`; the CPU has AVX2 and FMA.
#[inline(always)]
unsafe fn store_tile<const MR: usize, const V: usize>(t: &TileArgs, acc: [[__m256; V]; MR]) {
    if !t.vector_columns(LANES) {
        // A copy on this path only (see `store_tile_elementwise`).
        let mut values = [[[0.0f32; LANES]; V]; MR];
        for i in 0..MR {
            for v in 0..V {
                // SAFETY: 8 floats fit; the CPU has AVX2.
                unsafe { _mm256_storeu_ps(values[i][v].as_mut_ptr(), acc[i][v]) };
            }
        }
        // SAFETY: MR == m rows of V·8 >= n values; the contract holds.
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
/// As for [`store_tile`], with `t.vector_columns(8)`; `PLAIN` implies
/// `t.accumulate == 0` and a null `t.r_rows`.
#[inline(always)]
unsafe fn store_rows<const MR: usize, const V: usize, const PLAIN: bool>(t: &TileArgs, acc: [[__m256; V]; MR]) {
    // SAFETY: the CPU has AVX2 (the caller's contract).
    let (lo, hi) = unsafe { (_mm256_set1_ps(t.clamp_min), _mm256_set1_ps(t.clamp_max)) };
    // Columns of each vector that exist: 8, fewer in the last one, 0 past n.
    let live: [usize; V] = core::array::from_fn(|v| t.n.saturating_sub(v * LANES).min(LANES));
    // SAFETY: the CPU has AVX2.
    let masks: [__m256i; V] = core::array::from_fn(|v| unsafe { tail_mask(live[v]) });
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
            for (v, x) in acc_row.iter_mut().enumerate().take_while(|&(v, _)| live[v] > 0) {
                // SAFETY: columns v·8..v·8 + live[v] are in the tile,
                // contiguous (vector_columns) and in bounds by the contract;
                // `load` touches no other lane. The CPU has AVX2.
                unsafe {
                    if accumulate {
                        *x = _mm256_add_ps(*x, load(c_row.add(c_offsets[v]), live[v], masks[v]));
                    }
                    if residual {
                        *x = _mm256_add_ps(*x, load(r_row.add(r_offsets[v]), live[v], masks[v]));
                    }
                }
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: i < MR == m.
        let (c_row, _) = unsafe { t.rows(i) };
        for (v, &x) in acc_row.iter().enumerate().take_while(|&(v, _)| live[v] > 0) {
            // SAFETY: columns v·8..v·8 + live[v] are in the tile, contiguous
            // (vector_columns) and in bounds by the contract; `store_partial`
            // touches no other lane. The CPU has AVX2.
            unsafe {
                let c = c_row.add(c_offsets[v]);
                // max/min return their second operand when either is NaN: NaN survives.
                let x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
                if live[v] == LANES {
                    _mm256_storeu_ps(c, x);
                } else {
                    store_partial(c, x, live[v]);
                }
            }
        }
    }
}

/// Stores the first `live < 8` lanes of `x` as 4 + 2 + 1 pieces, as XNNPACK
/// does: `vmaskmovps` stores are microcoded on AMD Zen and cost more than the
/// whole tile's FMAs when a layer has only a few output channels.
///
/// # Safety
/// `live` floats at `c` are writable.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn store_partial(mut c: *mut f32, x: __m256, live: usize) {
    let mut part = _mm256_castps256_ps128(x);
    // SAFETY: each piece writes within the first `live` floats at c.
    unsafe {
        if live & 4 != 0 {
            _mm_storeu_ps(c, part);
            part = _mm256_extractf128_ps(x, 1);
            c = c.add(4);
        }
        if live & 2 != 0 {
            _mm_storel_epi64(c as *mut __m128i, _mm_castps_si128(part));
            part = _mm_movehl_ps(part, part);
            c = c.add(2);
        }
        if live & 1 != 0 {
            _mm_store_ss(c, part);
        }
    }
}

/// # Safety
/// `min(live, 8)` floats at `p` are readable.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn load(p: *const f32, live: usize, mask: __m256i) -> __m256 {
    // SAFETY: forwarded; masked-off lanes are not read (AVX maskload suppresses faults).
    unsafe {
        if live >= LANES {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, mask)
        }
    }
}

/// 6 x 16 AVX2+FMA kernel: 12 ymm accumulators.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 6`, `NR = 16`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_6x16__avx2_fma(t: &TileArgs) {
    // SAFETY: forwarded contract; the target features are enabled on this
    // function.
    unsafe {
        if t.m == 1 {
            gemv::<2, 6, 8>(t, panel_6x16);
        } else if t.n > 16 && crate::abi::walks_panels(t, 16) {
            walk_6x16(t);
        } else {
            for_each_panel(t, 16, |panel| panel_6x16(panel));
        }
    }
}

/// The strided entry point of [`f32_pw_6x16__avx2_fma`] ([`StridedArgs`]):
/// the panel walk of each row tile, its rows' addresses computed from the
/// strides, where `walk::walks_strided` takes the call; the indirect entry point
/// otherwise.
///
/// # Safety
/// The contract of `s` for `MR = 6`, `NR = 16`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_6x16__avx2_fma_strided(s: &StridedArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance, n a multiple of
    // 8 where the walk takes the call).
    unsafe {
        if walks_strided(s, LANES) {
            per_row_count!(s, walk_strided_tile::<_, Ymm, 2, 2, 0>, [1, 2, 3, 4, 5], 6, strided)
        } else {
            run_strided_as_indirect(s, 0, f32_pw_6x16__avx2_fma)
        }
    }
}

/// The row tiles of a call that spans several panels, each across them all
/// and a last half panel: [`walk_tile`] on ymm registers.
///
/// The 6x16 kernel walks at every depth. Measured on Zen 4 against one call
/// per panel (the suite, three interleaved runs, medians): geometric mean
/// +3%; mobilenetv2.b2.expand (K = 16) +18%, b3.expand +11%, b5.expand +9%,
/// resnet50.s2.expand and s2.first +5-6%, s3.expand and b12.expand +4%,
/// s5.downsample (K = 1024, rows 8 KiB apart) +16%; no layer lost more than
/// 1%. A 6-row tile's rows (24 KiB at K = 1024) stay in L1 beside the
/// panel line it streams, where one panel per call reread the block's rows
/// from L2 for every panel. The tile reads its rows from wherever they are
/// on its first panel, and from L1 after that: walked without fetching the
/// next tile's rows ([`walk_streams`]), resnet50.s3.reduce.batch8 (12.25 MiB
/// of input) ran at 95-99 GFLOP/s, against 104-108 one panel per call.
///
/// # Safety
/// As for [`walk_tile`] with `NR = 16`, without `t.m == MR`; the CPU has
/// AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn walk_6x16(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance).
    unsafe { walk_row_tiles!(t, Ymm, 2, walk_streams(t, 6, A_COLD), [1, 2, 3, 4, 5], 6) }
}

/// The panel walk's vector operations on ymm registers.
struct Ymm;

// SAFETY: only used from functions that enable AVX2 and FMA (`walk_6x16`
// and the strided entry points); every method below is an AVX or FMA
// intrinsic.
unsafe impl Lanes for Ymm {
    type Vector = __m256;
    const LANES: usize = LANES;
    const K_UNROLL: usize = K_UNROLL;
    // No pair walks on AVX2 (16 registers).
    const PAIR_K_UNROLL: usize = K_UNROLL;
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: the CPU has AVX2 and FMA (the trait's contract), as below.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m256 {
        // SAFETY: and `p` is readable (the method's contract), as below.
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn load_aligned(p: *const f32) -> __m256 {
        unsafe { _mm256_load_ps(p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, x: __m256) {
        unsafe { _mm256_storeu_ps(p, x) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    // Each bound costs the FMA ports a µop per vector stored: see
    // `open_clamp_bounds`.
    const SKIPS_OPEN_CLAMP_BOUNDS: bool = true;
    const SPLITS_HALF_PANELS: bool = HALF_PANEL_SETS == 2;
    #[inline(always)]
    unsafe fn max(lo: __m256, x: __m256) -> __m256 {
        unsafe { _mm256_max_ps(lo, x) }
    }
    #[inline(always)]
    unsafe fn min(hi: __m256, x: __m256) -> __m256 {
        unsafe { _mm256_min_ps(hi, x) }
    }
}

// SAFETY: only used by `f32_pw_6x2__avx2_fma`, which enables AVX2 and FMA;
// every method below is AVX2 code.
unsafe impl super::dot::DotLanes for Ymm {
    #[inline(always)]
    unsafe fn split_panel(panel: *const f32, depths: usize) -> (__m256, __m256) {
        // SAFETY: the CPU has AVX2 and the floats are readable (the trait's
        // and the method's contracts), as below.
        unsafe { split_panel(panel, depths) }
    }
    #[inline(always)]
    unsafe fn load_depths(p: *const f32, depths: usize) -> __m256 {
        // maskload does not access masked-off lanes.
        unsafe { load(p, depths, tail_mask(depths)) }
    }
    #[inline(always)]
    unsafe fn bias_pairs(bits: i64) -> __m256 {
        unsafe { _mm256_castsi256_ps(_mm256_set1_epi64x(bits)) }
    }
    #[inline(always)]
    unsafe fn store_sums<const MR: usize>(
        acc: &[[__m256; 2]; MR],
        bias: __m256,
        lo: __m256,
        hi: __m256,
        rows: [*mut f32; MR],
    ) {
        for group in 0..MR.div_ceil(4) {
            unsafe {
                let x = <Self as Lanes>::clamp(lo, hi, <Self as Lanes>::add(fold_rows(acc, group), bias));
                let halves = [_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x)];
                for (i, &row) in rows.iter().enumerate().take(MR.min(group * 4 + 4)).skip(group * 4) {
                    super::store_pair(row, halves[(i % 4) / 2], i % 2 == 1);
                }
            }
        }
    }
}

/// One panel of [`f32_pw_6x16__avx2_fma`].
///
/// # Safety
/// The ABI contract for `MR = 6`, `NR = 16`, with `t.n <= 16`; the CPU has
/// AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn panel_6x16(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR and n <= V·8 for each instance).
    unsafe {
        match (t.n <= LANES, super::streams_rows(t, 6) || t.b_next_len != 0) {
            (true, _) => {
                per_row_count!(t, tile::<_, 1, 2, false, HALF_PANEL_SETS>, [1, 2, 3, 4, 5], 6, with_next_rows)
            }
            (false, false) => per_row_count!(t, tile::<_, 2, 2, false, 1>, [1, 2, 3, 4, 5], 6, with_next_rows),
            (false, true) => per_row_count!(t, tile::<_, 2, 2, true, 1>, [1, 2, 3, 4, 5], 6, with_next_rows),
        }
    }
}

/// One row (M = 1) across panels of `V·8` columns, in groups of 4
/// or 3 ([`crate::abi::panel_group_size`]): [`gemv_groups`].
///
/// # Safety
/// As for [`gemv_groups`].
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn gemv<const V: usize, const V3: usize, const V4: usize>(t: &TileArgs, one_panel: unsafe fn(&TileArgs)) {
    // The vectors of a group of 3 or 4 panels (no const arithmetic on `V`).
    const { assert!(V3 == 3 * V && V4 == 4 * V) };
    // A last half panel goes to `one_panel` alone, whose tile sums it on
    // `HALF_PANEL_SETS` sets, as every path does; in a group it would be
    // one plain chain per vector.
    let nr = V * LANES;
    let half_panel_last = HALF_PANEL_SETS > 1 && V > 1 && (1..=LANES).contains(&(t.n % nr));
    let whole = if half_panel_last { t.n - t.n % nr } else { t.n };
    let grouped = TileArgs { n: whole, ..*t };
    // SAFETY: forwarded; `grouped` is `t`'s first `whole` columns, a whole
    // number of panels (or all of `t`).
    unsafe {
        if whole > 0 {
            match crate::abi::panel_group_size(&grouped, nr) {
                3 => gemv_groups::<3, V, V3>(&grouped, one_panel),
                _ => gemv_groups::<4, V, V4>(&grouped, one_panel),
            }
        }
        if whole < t.n {
            crate::abi::each_panel_from(t, nr, whole / nr, |tile| one_panel(tile));
        }
    }
}

/// One row (M = 1: classifier, squeeze-excitation) across `P` panels of
/// `V·8` columns at a time. A one-row tile has only `V` accumulators, one
/// dependent FMA chain each: 2 chains of 4-cycle FMAs ran the 6x16 kernel at
/// 29 GFLOP/s on these layers. `P` panels give `P·V` independent chains.
/// Each column still gets its bias and then one FMA per depth in order, so
/// the results are bitwise those of [`tile`]; panels left over after the
/// groups of `P` go to `one_panel`. A group is stored as one tile of `PV =
/// P·V` vectors (see [`for_each_panel_group`]).
///
/// # Safety
/// The ABI contract for `NR = V·8`, with `t.m == 1`; `one_panel` upholds it
/// for one panel; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn gemv_groups<const P: usize, const V: usize, const PV: usize>(t: &TileArgs, one_panel: unsafe fn(&TileArgs)) {
    const { assert!(PV == P * V) };
    let group = |tile: &TileArgs| {
        let mut acc = [[_mm256_setzero_ps(); V]; P];
        if !tile.bias.is_null() {
            for (i, acc_panel) in acc.iter_mut().enumerate() {
                for (v, acc_v) in acc_panel.iter_mut().enumerate() {
                    // SAFETY: the group's bias holds P·NR floats.
                    *acc_v = unsafe { _mm256_loadu_ps(tile.bias.add((i * V + v) * LANES)) };
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
                    let a = unsafe { _mm256_broadcast_ss(&*end.offset(i)) };
                    for (sums_panel, b_panel) in sums.iter_mut().zip(b.iter_mut()) {
                        for (v, sum) in sums_panel.iter_mut().enumerate() {
                            // SAFETY: the panel row is in bounds and aligned.
                            *sum = _mm256_fmadd_ps(a, unsafe { _mm256_load_ps(b_panel.add(v * LANES)) }, *sum);
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
        let row: [__m256; PV] = core::array::from_fn(|j| acc[j / V][j % V]);
        // SAFETY: the group's tile satisfies the contract, with m = 1 and
        // n <= PV·LANES.
        unsafe { store_tile::<1, PV>(tile, [row]) };
    };
    // SAFETY: forwarded contract; `one_panel` upholds it for one panel.
    unsafe { for_each_panel_group::<P>(t, V * LANES, group, |tile| one_panel(tile)) };
}

/// 8 x 8 AVX2+FMA kernel, the narrow companion for layers with at most 8
/// output channels per group (U-Net heads, narrow projections), where 6x16
/// would spend most FMAs on zero columns: 8 accumulators, 1 panel vector.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 8`, `NR = 8`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_8x8__avx2_fma(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe {
        for_each_panel(t, 8, |panel| {
            per_row_count!(panel, tile::<_, 1, 1, false, 1>, [1, 2, 3, 4, 5, 6, 7], 8, with_next_rows)
        })
    }
}

/// The strided entry point of [`f32_pw_8x8__avx2_fma`] ([`StridedArgs`]):
/// the panel walk of each row tile (panels of one vector), its rows'
/// addresses computed from the strides, where `walk::walks_strided` takes the
/// call; the indirect entry point otherwise.
///
/// # Safety
/// The contract of `s` for `MR = 8`, `NR = 8`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_8x8__avx2_fma_strided(s: &StridedArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance, n a multiple of
    // 8 where the walk takes the call).
    unsafe {
        if walks_strided(s, LANES) {
            per_row_count!(s, walk_strided_tile::<_, Ymm, 1, 1, 0>, [1, 2, 3, 4, 5, 6, 7], 8, strided)
        } else {
            run_strided_as_indirect(s, 0, f32_pw_8x8__avx2_fma)
        }
    }
}

/// Dot-product tile of 2 columns, for layers with 1 or 2 output channels per
/// group (U-Net heads, binary masks), where a broadcast kernel would multiply
/// mostly zero columns: the AVX2 twin of the AVX-512 `dot_tile`. Each k step
/// takes 8 depths: the panel's 16 floats are split once into column 0 and
/// column 1 (two `vpermps` and two `vperm2f128`, shared by all the rows), then
/// each row's 8 depths are two FMAs with the load folded in. MR = 6 fills the
/// 16 ymm registers: 12 accumulators, the two columns, the split's index and
/// one temporary. The accumulators fold into vectors of 8 results
/// (`hadd` twice, then the two halves), whose bias and clamp are vector
/// operations. Up to K = 64, a plain call's whole row tiles take the dot walk
/// instead (`x86_64/dot.rs`), and this tile the rows left over.
///
/// # Safety
/// The ABI contract for `NR = 2`, with `t.m == MR <= 8`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dot_tile<const MR: usize>(t: &TileArgs) {
    debug_assert_eq!(t.m, MR);
    const NR: usize = 2;
    let mut acc = [[_mm256_setzero_ps(); NR]; MR];
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
                // SAFETY: depths p..p + 8 of the run and panel rows p..p + 8 exist.
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

    let mut results = [0.0f32; 2 * 8];
    for (group, out) in results.chunks_exact_mut(2 * 4).enumerate().take(MR.div_ceil(4)) {
        // SAFETY: the CPU has AVX2 (this function's target features).
        let mut x = unsafe { fold_rows(&acc, group) };
        if plain_pairs(t) {
            if !t.bias.is_null() {
                // SAFETY: bias is not null.
                x = _mm256_add_ps(x, _mm256_castsi256_ps(_mm256_set1_epi64x(unsafe { bias_pair_bits(t.bias) })));
            }
            // max/min return their second operand when either is NaN: NaN survives.
            x = _mm256_min_ps(_mm256_set1_ps(t.clamp_max), _mm256_max_ps(_mm256_set1_ps(t.clamp_min), x));
        }
        // SAFETY: 8 floats fit the chunk.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), x) };
    }
    // SAFETY: the contract, and results holds 2·MR = 2·m floats.
    unsafe {
        if plain_pairs(t) {
            store_pairs(t, &results[..2 * MR]);
        } else {
            store_pairs_elementwise(t, &results[..2 * MR]);
        }
    }
}

/// Adds `depths <= 8` depths of every row, starting at element `at` of each
/// row, against the panel rows at `panel`. In a short step, masked-off lanes
/// load zeros in both operands, so an infinite input never meets a padding lane.
/// Prefetches the rows' later elements into L1, whatever the `a_cold` hint
/// ([`super::prefetch_activations`]): only the dot walk follows the hint.
///
/// # Safety
/// Elements `at..at + depths` of each row and `2·depths` panel floats are
/// readable; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dot_step<const MR: usize>(
    sums: &mut [[__m256; 2]; MR],
    a_rows: &[*const f32; MR],
    at: usize,
    panel: *const f32,
    depths: usize,
) {
    // SAFETY: `split_panel` reads the 2·depths panel floats and `load` the
    // first `depths` row elements that the caller guarantees (all 8 when
    // depths == 8); maskload does not access masked-off lanes.
    unsafe {
        let (w0, w1) = split_panel(panel, depths);
        let a_mask = tail_mask(depths);
        for (sum, row) in sums.iter_mut().zip(a_rows) {
            super::prefetch_activations::<false>(*row, at);
            let a = load(row.wrapping_add(at), depths, a_mask);
            sum[0] = _mm256_fmadd_ps(a, w0, sum[0]);
            sum[1] = _mm256_fmadd_ps(a, w1, sum[1]);
        }
    }
}

/// Column 0 and column 1 of `depths <= 8` panel rows at `panel` (two
/// `vpermps` and two `vperm2f128`), zero in the lanes past `depths`.
///
/// # Safety
/// `2·depths` floats at `panel` are readable; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn split_panel(panel: *const f32, depths: usize) -> (__m256, __m256) {
    // [d0c0 d0c1 d1c0 d1c1 d2c0 d2c1 d3c0 d3c1] -> [d0c0 d1c0 d2c0 d3c0 d0c1 d1c1 d2c1 d3c1]
    let split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    // SAFETY: `load` reads exactly the first `live` floats the caller
    // guarantees (all 16 when depths == 8); maskload does not access
    // masked-off lanes.
    unsafe {
        let lo_live = (2 * depths).min(LANES);
        let hi_live = (2 * depths).saturating_sub(LANES);
        let lo = _mm256_permutevar8x32_ps(load(panel, lo_live, tail_mask(lo_live)), split);
        let hi = _mm256_permutevar8x32_ps(load(panel.wrapping_add(LANES), hi_live, tail_mask(hi_live)), split);
        (_mm256_permute2f128_ps::<0x20>(lo, hi), _mm256_permute2f128_ps::<0x31>(lo, hi))
    }
}

/// The two sums of each row of group `group` (rows `4·group..4·group + 4`,
/// those below `MR`), each the lane sum of its accumulator: lane `2i + j` is
/// the group's row `i`, column `j` (zero past `MR` rows).
///
/// No `#[target_feature]`, so that it is always inlined, as the epilogue
/// needs (see the AVX-512 `fold_rows`).
///
/// # Safety
/// The CPU has AVX2.
#[inline(always)]
unsafe fn fold_rows<const MR: usize>(acc: &[[__m256; 2]; MR], group: usize) -> __m256 {
    let v: [__m256; 8] = core::array::from_fn(|l| {
        let row = group * 4 + l / 2;
        if row < MR {
            acc[row][l % 2]
        } else {
            // SAFETY: the caller's contract, as below.
            unsafe { _mm256_setzero_ps() }
        }
    });
    unsafe { fold8(v) }
}

/// Sums the lanes of 8 vectors: lane `l` of the result is the sum of vector `l`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn fold8(v: [__m256; 8]) -> __m256 {
    let h: [__m256; 4] = core::array::from_fn(|i| _mm256_hadd_ps(v[2 * i], v[2 * i + 1]));
    let g0 = _mm256_hadd_ps(h[0], h[1]);
    let g1 = _mm256_hadd_ps(h[2], h[3]);
    _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(g0, g1), _mm256_permute2f128_ps::<0x31>(g0, g1))
}

/// 6 x 2 AVX2+FMA dot-product kernel, for layers of 1 or 2 output channels
/// per group.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 6`, `NR = 2`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_6x2__avx2_fma(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance); the target
    // features are enabled on this function.
    unsafe {
        for_each_panel(t, 2, |panel| {
            let walked = super::dot::dot_walk_rows::<Ymm, 6, 6>(panel);
            if walked < panel.m {
                per_row_count!(&row_range(panel, walked, panel.m - walked), dot_tile::<_>, [1, 2, 3, 4, 5], 6)
            }
        })
    }
}

/// The strided entry point of [`f32_pw_6x2__avx2_fma`] ([`StridedArgs`]): the dot walk
/// with each row's addresses computed from the strides, and the rows it
/// leaves (the last short tile, and calls it does not take) through the
/// indirect entry point.
///
/// # Safety
/// The contract of `s` for `MR = 6`, `NR = 2`; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn f32_pw_6x2__avx2_fma_strided(s: &StridedArgs) {
    // SAFETY: forwarded contract; the target features are enabled on this
    // function and on the indirect entry point; the walk returns how many
    // rows it computed, whole tiles and at most m, so the rows it leaves are
    // walked..m.
    unsafe {
        let walked = super::dot::dot_walk_strided::<Ymm, 6, 6>(s);
        run_strided_as_indirect(s, walked, f32_pw_6x2__avx2_fma);
    }
}
