//! The micro-kernel sweep: every kernel against the scalar oracle of its own
//! tile shape, on the very same packed panel, over every m, n and k remainder.
//!
//! Each case runs the kernel on a small GEMM (`m <= MR` rows, `n` up to
//! `2·NR + 1` columns, and 4 to 5 panels for one row, so one or more panels
//! with a ragged last one; plus calls of three row tiles of uneven sizes, on
//! fewer column counts and depths) and checks:
//! * every written element against the oracle, within a bound on f32 rounding;
//! * the same bits from one call per panel and from one call for all columns,
//!   and from one call per row tile and one call for all rows (kernel and
//!   oracle alike);
//! * every other element of the output buffer (canaries before, between and
//!   after the rows, padding columns of blocked layouts) is bit-identical to
//!   its sentinel;
//! * a kernel's strided entry point, on the cases that are strided calls
//!   (contiguous elements and columns, no accumulate), gives the very bits
//!   of its indirect one, canaries included;
//! * a residual in the output (`R[i][j]` is `C[i][j]` itself) gives the very
//!   bits of the same residual in a buffer of its own.
//!
//! Activation rows and the output start at odd offsets (unaligned), and the
//! epilogue options (bias, residual, clamp, accumulate, blocked or strided
//! columns, blocked or strided depth) rotate through the cases so that each is
//! hit many times without multiplying the run time.

use pointwise::kernels::abi::{StridedArgs, A_COLD, A_STREAMED, A_WARM};
use pointwise::kernels::{self, Kernel, KernelFn, StridedFn, Strides, TileArgs};

/// Depths of the sweep: every remainder of small unrolls, and around powers of two.
pub const DEPTHS: &[usize] =
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 257];

/// A value no kernel writes: a signalling-free NaN payload that compares by bits.
const SENTINEL: f32 = f32::from_bits(0x7fc0_dead);

/// Result of a sweep.
#[derive(Default, Debug)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub first_failures: Vec<String>,
}

impl Tally {
    pub fn record(&mut self, ok: Result<(), String>) {
        match ok {
            Ok(()) => self.passed += 1,
            Err(msg) => {
                self.failed += 1;
                if self.first_failures.len() < 5 {
                    self.first_failures.push(msg);
                }
            }
        }
    }
}

/// Seeded `rand` generator: the same cases on every ISA and every run.
pub struct Rng(rand::rngs::SmallRng);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(rand::SeedableRng::seed_from_u64(seed))
    }
    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        rand::Rng::gen_range(&mut self.0, -1.0f32..1.0)
    }
    pub fn below(&mut self, n: usize) -> usize {
        rand::Rng::gen_range(&mut self.0, 0..n)
    }
}

/// The epilogue and addressing options of one case.
#[derive(Clone, Copy, Debug)]
struct Variant {
    bias: bool,
    residual: bool,
    /// The residual is the output's initial values, read through C's own
    /// row pointers (with `residual`).
    residual_in_c: bool,
    /// The clamp's bounds: both finite, only the lower one finite (as
    /// ReLU's), only the upper one, or neither (as no activation's). The AVX2
    /// walks leave infinite bounds out of their stores.
    clamp: (f32, f32),
    accumulate: bool,
    /// The `a_cold` hint: `A_WARM`, `A_COLD` or `A_STREAMED` (never changes
    /// results; the x86-64 kernels prefetch by it).
    cold: u32,
    /// The call gets a `b_next` to fetch ahead: its own packed weights
    /// (never changes results; the 12x32 AVX-512 and 6x16 AVX2 kernels'
    /// per-panel tiles prefetch it).
    next_weights: bool,
    /// Column block of C and R: 0 (contiguous), 1 (NCHW-like), 8 or 16.
    c_block: usize,
    /// Depth block of A: 0 (contiguous), 1 (NCHW-like), 8 or 16.
    a_block: usize,
    /// Phase of the blocks (first channel inside its block).
    phase: usize,
}

fn variant(case: usize) -> Variant {
    let blocks = [0, 0, 8, 16, 1, 0, 16, 8];
    let c_block = blocks[case % 8];
    let a_block = blocks[(case / 8) % 8];
    // `strides` reduces the phase modulo each block size.
    let phase = if case.is_multiple_of(3) { (case / 3) % 16 } else { 0 };
    Variant {
        bias: case.is_multiple_of(2),
        residual: case % 3 == 1,
        residual_in_c: case % 9 == 7,
        // Not keyed on `case % 8` (the column block) nor on its parity (the
        // bias): each clamp meets each of them.
        clamp: match case % 12 / 3 {
            0 => (-0.25, 0.5),
            1 => (-0.25, f32::INFINITY),
            2 => (f32::NEG_INFINITY, 0.5),
            _ => (f32::NEG_INFINITY, f32::INFINITY),
        },
        accumulate: case % 5 == 3,
        cold: [A_WARM, A_COLD, A_STREAMED][case % 7 % 3],
        next_weights: case % 4 == 1,
        c_block,
        a_block,
        phase,
    }
}

fn strides(block: usize, phase: usize, rows: usize) -> Strides {
    match block {
        0 => Strides::CONTIGUOUS,
        // Blocks of consecutive rows are `rows · block` apart, as in NCHWc.
        b => Strides { block: b, block_stride: rows * b + 3, phase: phase % b },
    }
}

/// Buffer span (elements) that indices `0..count` reach under `s`.
fn span(s: &Strides, count: usize) -> usize {
    if count == 0 {
        0
    } else {
        s.offset(count - 1) + 1
    }
}

/// Runs one case of `kernel` and of its oracle; compares.
fn run_case(kernel: &Kernel, oracle: KernelFn, m: usize, n: usize, k: usize, case: usize) -> Result<(), String> {
    run_variant(kernel, oracle, m, n, k, case, variant(case))
}

/// The plain variant of `case`: contiguous rows and columns, no residual,
/// no accumulate (what the walks of several kernels take), with the bias
/// and clamp of `case`.
fn plain_variant(case: usize) -> Variant {
    Variant {
        residual: false,
        residual_in_c: false,
        accumulate: false,
        c_block: 0,
        a_block: 0,
        phase: 0,
        ..variant(case)
    }
}

/// `v` with a residual, in a buffer of its own or in the output.
fn with_residual(v: Variant, in_c: bool) -> Variant {
    Variant { residual: true, residual_in_c: in_c, ..v }
}

fn run_variant(
    kernel: &Kernel,
    oracle: KernelFn,
    m: usize,
    n: usize,
    k: usize,
    case: usize,
    v: Variant,
) -> Result<(), String> {
    let nr = kernel.nr;
    let mut rng = Rng::new((m * 1_000_003 + n * 1009 + k) as u64 ^ case as u64);
    let panels = n.div_ceil(nr);

    // A: m rows, each `a_span` long, 3 apart (odd offsets: unaligned rows).
    let a_k = strides(v.a_block, v.phase, 1);
    let a_span = span(&a_k, k);
    let a_row_stride = a_span + 3;
    let a: Vec<f32> = (0..1 + m * a_row_stride).map(|_| rng.f32()).collect();
    let a_rows: Vec<*const f32> = (0..m).map(|i| a[1 + i * a_row_stride..].as_ptr()).collect();
    // The same values in contiguous depth (for a blocked depth's check).
    let a_dense: Vec<f32> =
        (0..m).flat_map(|i| (0..k).map(move |p| 1 + i * a_row_stride + a_k.offset(p))).map(|at| a[at]).collect();
    let a_dense_rows: Vec<*const f32> = (0..m).map(|i| a_dense[i * k..].as_ptr()).collect();

    // B: panels of k x nr, each 64-byte aligned as the ABI promises, zero past column n.
    let panel_stride = (k * nr).next_multiple_of(16);
    let mut b = aligned_vec::AVec::<f32, aligned_vec::ConstAlign<64>>::from_iter(
        0,
        core::iter::repeat_n(0.0f32, (panels * panel_stride).max(1)),
    );
    let mut bias = vec![0.0f32; panels * nr];
    for panel in 0..panels {
        for j in 0..nr.min(n - panel * nr) {
            for p in 0..k {
                b[panel * panel_stride + p * nr + j] = rng.f32();
            }
            bias[panel * nr + j] = rng.f32();
        }
    }

    // C and R: m rows of the columns' span, C's rows 5 apart (canaries
    // everywhere), R's 7 apart (a strided call must not take one's row
    // stride for the other's); R in C's layout, holding C's initial values,
    // for a residual in the output (the calls that read it from C compare
    // with the calls that read this copy).
    let c_cols = strides(v.c_block, v.phase, 1);
    let c_span = span(&c_cols, n);
    let c_row_stride = c_span + 5;
    let c_len = 7 + m * c_row_stride;
    let r_row_stride = if v.residual_in_c { c_row_stride } else { c_span + 7 };
    let mut r: Vec<f32> = (0..7 + m * r_row_stride).map(|_| rng.f32()).collect();
    let mut c_init = vec![SENTINEL; c_len];
    let mut written = vec![false; c_len];
    for i in 0..m {
        for j in 0..n {
            let at = 3 + i * c_row_stride + c_cols.offset(j);
            written[at] = true;
            if v.accumulate || v.residual_in_c {
                c_init[at] = rng.f32();
            }
        }
    }
    if v.residual_in_c {
        r.clone_from(&c_init);
    }
    let (lo, hi) = v.clamp;

    // `whole`: one call for all `n` columns (the kernel walks the panels);
    // otherwise one call per panel. `rows_per_call`: rows of each call (the
    // kernel walks the row tiles of a call). `r_in_c`: the residual read
    // through C's row pointers (else from `r`). `dense_a`: A's values from
    // `a_dense` (else from `a`, in the variant's depth layout).
    let run_reading = |f: KernelFn, whole: bool, rows_per_call: usize, r_in_c: bool, dense_a: bool| -> Vec<f32> {
        let (a_rows, a_k) = if dense_a { (&a_dense_rows, Strides::CONTIGUOUS) } else { (&a_rows, a_k) };
        let mut c = c_init.clone();
        let c_base = c.as_mut_ptr();
        let calls = if whole { 1 } else { panels };
        for (panel, first_row) in (0..calls).flat_map(|p| (0..m).step_by(rows_per_call).map(move |r| (p, r))) {
            let rows = rows_per_call.min(m - first_row);
            let first = panel * nr;
            // The panel's columns start at index `first` of each row.
            let (skip, panel_cols) = c_cols.advance(first);
            // SAFETY: offsets within c: row starts plus the panel's block offset.
            let c_rows: Vec<*mut f32> = (0..m).map(|i| unsafe { c_base.add(3 + i * c_row_stride + skip) }).collect();
            let r_rows: Vec<*const f32> = if r_in_c {
                c_rows.iter().map(|&row| row.cast_const()).collect()
            } else {
                (0..m).map(|i| r[3 + i * r_row_stride + skip..].as_ptr()).collect()
            };
            let args = TileArgs {
                m: rows,
                n: if whole { n } else { nr.min(n - first) },
                k,
                a_rows: a_rows[first_row..].as_ptr(),
                a_k,
                b_panel: b[panel * panel_stride..].as_ptr(),
                b_panel_stride: panel_stride,
                bias: if v.bias { bias[first..].as_ptr() } else { core::ptr::null() },
                c_rows: c_rows[first_row..].as_ptr(),
                c_cols: panel_cols,
                r_rows: if v.residual { r_rows[first_row..].as_ptr() } else { core::ptr::null() },
                r_cols: panel_cols,
                clamp_min: lo,
                clamp_max: hi,
                accumulate: v.accumulate as u32,
                a_cold: v.cold,
                b_next: if v.next_weights { b.as_ptr() } else { core::ptr::null() },
                b_next_len: if v.next_weights { b.len() } else { 0 },
            };
            // SAFETY: the buffers above satisfy the ABI contract; the caller
            // checked that the CPU supports the kernel's ISA.
            unsafe { f(&args) };
        }
        c
    };
    let run =
        |f: KernelFn, whole: bool, rows_per_call: usize| run_reading(f, whole, rows_per_call, v.residual_in_c, false);
    // How a call is cut into panels must not change a single bit (the
    // driver's cut depends on the thread count).
    // Nor how it is cut into row tiles (the driver passes a block of rows).
    // Each is compared with one call per panel for all rows, computed once.
    let mut got = None;
    for (f, name, is_kernel) in [(kernel.run, kernel.name, true), (oracle, "its oracle", false)] {
        let cuts = [
            ("per panel, and in one call for all columns", (panels > 1).then_some((true, m))),
            ("per row tile, and in one call for all rows", (m > kernel.mr).then_some((false, kernel.mr))),
            // Calls one row short of a tile: a kernel that walks whole tiles
            // first (the dot kernels) computes the same rows in other code.
            // The oracle has no such walk.
            (
                "in calls of MR - 1 rows, and in one call for all rows",
                (is_kernel && m > kernel.mr && kernel.mr > 1).then_some((false, kernel.mr - 1)),
            ),
        ];
        // One panel or one row tile: the two ways are the same call.
        if !is_kernel && cuts.iter().all(|(_, other)| other.is_none()) {
            continue;
        }
        let one_call = run(f, false, m);
        for (cut, other) in cuts {
            let Some((whole, rows_per_call)) = other else { continue };
            let b = run(f, whole, rows_per_call);
            if let Some(at) = (0..c_len).find(|&at| one_call[at].to_bits() != b[at].to_bits()) {
                return Err(format!(
                    "{}: {name}: m={m} n={n} k={k} {v:?}: element {at}: {} and {} {cut}",
                    kernel.name, one_call[at], b[at]
                ));
            }
        }
        if is_kernel {
            // The strided entry point, where the case is a strided call (its
            // rows are evenly spaced already): the same bits as the indirect one.
            let strided = v.a_block == 0 && v.c_block == 0 && !v.accumulate;
            let run_strided_reading = |entry: StridedFn, r_in_c: bool| -> Vec<f32> {
                let mut c = c_init.clone();
                let c_first = c[3..].as_mut_ptr();
                let args = StridedArgs {
                    m,
                    n,
                    k,
                    a: a[1..].as_ptr(),
                    a_row_stride,
                    b_panel: b.as_ptr(),
                    b_panel_stride: panel_stride,
                    bias: if v.bias { bias.as_ptr() } else { core::ptr::null() },
                    c: c_first,
                    c_row_stride,
                    r: match (v.residual, r_in_c) {
                        (false, _) => core::ptr::null(),
                        (true, true) => c_first.cast_const(),
                        (true, false) => r[3..].as_ptr(),
                    },
                    r_row_stride,
                    clamp_min: lo,
                    clamp_max: hi,
                    a_cold: v.cold,
                };
                // SAFETY: the same buffers as the indirect calls, whose rows
                // are `a_row_stride` and `c_row_stride` apart, with contiguous
                // elements and columns; the caller checked the CPU.
                unsafe { entry(&args) };
                c
            };
            let run_strided = |entry: StridedFn| run_strided_reading(entry, v.residual_in_c);
            // A residual in the output: the bits of the same values read
            // from a buffer of their own, from each entry point.
            if v.residual_in_c {
                let mut pairs = vec![("", one_call.clone(), run_reading(f, false, m, false, false))];
                if let (Some(entry), true) = (kernel.run_strided, strided) {
                    pairs.push((
                        " from the strided entry point",
                        run_strided(entry),
                        run_strided_reading(entry, false),
                    ));
                }
                for (how, in_c, apart) in pairs {
                    if let Some(at) = (0..c_len).find(|&at| in_c[at].to_bits() != apart[at].to_bits()) {
                        return Err(format!(
                            "{}: m={m} n={n} k={k} {v:?}: element {at}{how}: {} with the residual in the \
                             output, {} with it in a buffer of its own",
                            kernel.name, in_c[at], apart[at]
                        ));
                    }
                }
            }
            // A blocked depth: the very bits of the same values in contiguous
            // depth, for every kernel that sums in depth order (all but the
            // dot kernels, NR = 2, which add depths a vector at a time). The
            // 6x16 AVX2 kernel's half panels sum even and odd depths apart,
            // by the depth's index whatever the blocks and their phase.
            if v.a_block != 0 && kernel.nr > 2 {
                let dense = run_reading(f, false, m, v.residual_in_c, true);
                if let Some(at) = (0..c_len).find(|&at| one_call[at].to_bits() != dense[at].to_bits()) {
                    return Err(format!(
                        "{}: m={m} n={n} k={k} {v:?}: element {at}: {} with the depth in blocks, {} with it \
                         contiguous",
                        kernel.name, one_call[at], dense[at]
                    ));
                }
            }
            if let (Some(entry), true) = (kernel.run_strided, strided) {
                let c = run_strided(entry);
                if let Some(at) = (0..c_len).find(|&at| one_call[at].to_bits() != c[at].to_bits()) {
                    return Err(format!(
                        "{}: m={m} n={n} k={k} {v:?}: element {at}: {} from the indirect entry point, {} from \
                         the strided one",
                        kernel.name, one_call[at], c[at]
                    ));
                }
            }
            // A tuned kernel stands in for the generic kernel of its shape:
            // the same bits, not only the same values within rounding, from
            // each entry point, on one call for all columns (as the driver
            // calls them; the cuts above compare it with one call per panel).
            let generic = kernel.generic();
            if generic != kernel {
                let mut pairs = vec![("in one call", run(f, true, m), run(generic.run, true, m))];
                if let (Some(ours), Some(theirs), true) = (kernel.run_strided, generic.run_strided, strided) {
                    pairs.push(("from the strided entry point", run_strided(ours), run_strided(theirs)));
                }
                for (how, ours, theirs) in pairs {
                    if let Some(at) = (0..c_len).find(|&at| ours[at].to_bits() != theirs[at].to_bits()) {
                        return Err(format!(
                            "{}: m={m} n={n} k={k} {v:?}: element {at} {how}: {}, and {} from {}",
                            kernel.name, ours[at], theirs[at], generic.name
                        ));
                    }
                }
            }
            got = Some(one_call);
        }
    }
    let got = got.expect("the kernel's own call runs");
    let want = run(oracle, false, kernel.mr);

    for (at, ((&g, &w), &is_written)) in got.iter().zip(&want).zip(&written).enumerate() {
        if !is_written {
            if g.to_bits() != SENTINEL.to_bits() {
                return Err(format!("{}: m={m} n={n} k={k} {v:?}: wrote outside the tile at {at}", kernel.name));
            }
            continue;
        }
        // |f32 sum - other f32 sum| <= 2·(k+4)·eps·Σ|terms|; terms are at most 1 each.
        let bound = 2.0 * (k as f32 + 4.0) * f32::EPSILON * (k as f32 + 3.0) + 1e-6;
        if (g - w).abs() > bound || g.is_nan() != w.is_nan() {
            return Err(format!(
                "{}: m={m} n={n} k={k} {v:?}: element {at}: kernel {g}, oracle {w}, bound {bound}",
                kernel.name
            ));
        }
    }
    Ok(())
}

/// Sweeps `kernel` over m in 1..=MR, n in 1..=2·NR+1 (and 3 to 5 panels for
/// m = 1), every depth of `depths`; then calls of three row tiles (m =
/// 2·MR + MR / 2 + 1) on a few column counts and the depths up to 17 and 63
/// to 65, each also in the plain variant; calls of three row tiles at K =
/// 520 and 521 that the x86-64 kernels fetch ahead for; and the strided
/// entry point's long calls.
/// The caller checks that the CPU supports the kernel's ISA.
pub fn sweep(kernel: &Kernel, depths: &[usize]) -> Tally {
    sweep_rows(kernel, depths, true)
}

/// [`sweep`], with the calls of several row tiles only when `multi_row` is
/// set. Miri leaves them out: the driver's calls in `tests/miri.rs` already
/// cover several row tiles per call (13 pixels for a 4-row kernel), and under
/// Miri these cases cost more than the rest of the sweep.
pub fn sweep_rows(kernel: &Kernel, depths: &[usize], multi_row: bool) -> Tally {
    let oracle = kernels::scalar_oracle(kernel.mr, kernel.nr).expect("every tile shape has an oracle");
    let mut tally = Tally::default();
    let mut case = 0;
    for m in 1..=kernel.mr {
        // One-row tiles also get 3 to 5 panels (the kernels' M = 1 path
        // groups 3 or 4 panels), whole and ragged: a group whose last panel
        // lacks one column (3·NR − 1), a panel of one column left over, a
        // ragged panel left over.
        let nr = kernel.nr;
        let wide: &[usize] = if m == 1 { &[3 * nr - 1, 4 * nr, 4 * nr + 1, 5 * nr - 1, 5 * nr + 1] } else { &[] };
        for n in (1..=2 * nr + 1).chain(wide.iter().copied()) {
            for &k in depths {
                tally.record(run_case(kernel, oracle, m, n, k, case));
                case += 1;
            }
            // `variant`'s periods of 3 and 9 (residual, residual in the
            // output) would tie each option to a third or a ninth of the
            // depths for every m and n if they divided the number of depths
            // (27): each (m, n) then starts one case later.
            if depths.len().is_multiple_of(3) {
                case += 1;
            }
        }
    }
    // Three row tiles of uneven sizes (31 rows of a 12-row kernel: 11 + 10 +
    // 10), on one column, one whole panel, a panel and one column, a ragged
    // third panel, three whole panels or two and a half (which a kernel
    // may walk row tile by row tile), and four and a half (two pairs of
    // panels and a half panel, for walks that take panels in pairs), at the
    // depths up to 17 and 63 to 65
    // (the dot kernels walk whole row tiles up to K = 64), each also in the
    // plain variant: enough to catch a row tile that is skipped,
    // repeated or misplaced, at a fraction of the cost of the full sweep
    // (which Miri, ASan and the emulators pay for).
    if !multi_row {
        return tally;
    }
    let (mr, nr) = (kernel.mr, kernel.nr);
    let m = 2 * mr + mr / 2 + 1;
    for n in [1, nr, nr + 1, 2 * nr + 1, 2 * nr + nr / 2, 3 * nr, 4 * nr + nr / 2] {
        for &k in depths.iter().filter(|&&k| k <= 17 || (63..=65).contains(&k)) {
            tally.record(run_case(kernel, oracle, m, n, k, case));
            // Each also plain, so that the walks that need it run at every one
            // of these depths.
            tally.record(run_variant(kernel, oracle, m, n, k, case, plain_variant(case)));
            // And with the residual in the output, which the walks read
            // through the output's row pointers.
            tally.record(run_variant(kernel, oracle, m, n, k, case, with_residual(plain_variant(case), true)));
            case += 1;
        }
    }
    // Calls whose rows a kernel fetches a tile ahead (the x86-64 kernels'
    // `streams_rows`: their walks and per-panel tiles, each from a hint of
    // its own): three row tiles at a depth past 512, rows not 4 KiB apart,
    // whole (the MR-row instance) and uneven, the `A_COLD` and `A_STREAMED`
    // hints, on three whole panels and on two and a half, each also with a
    // residual; with the next call's weights to fetch too (`b_next`, which
    // the same kernels' per-panel tiles fetch at such depths) under one hint.
    for rows in [3 * mr, m] {
        // An odd depth for the uneven tiles: the streaming walks' pieces then
        // stop at odd depths (the AVX2 half panels' two sets follow the
        // depth's parity across such stops).
        let k = if rows == m { 521 } else { 520 };
        for n in [3 * nr, 2 * nr + nr / 2] {
            for cold in [A_COLD, A_STREAMED] {
                let fetched = Variant { cold, next_weights: cold == A_STREAMED, ..plain_variant(case) };
                for v in [fetched, with_residual(fetched, false), with_residual(fetched, true)] {
                    tally.record(run_variant(kernel, oracle, rows, n, k, case, v));
                }
            }
            case += 1;
        }
    }
    // A strided entry point hands the rows or the calls its walk leaves to
    // the indirect one in calls of up to 240 rows (`STRIDED_CHUNK_ROWS`):
    // calls of more than two such chunks, at depths the walks take and
    // deeper, on columns that the dot walk takes (2), and that the general
    // kernels' walk takes (whole vectors: NR; two and four panels, which the
    // 12x32 AVX-512 kernel walks in pairs) or leaves (1 column).
    // Each also with a residual, in a buffer of its own and in the output.
    if kernel.run_strided.is_some() {
        for (n, k) in [(1, 17), (2, 17), (2, 65), (nr, 17), (2 * nr, 65), (4 * nr, 65), (nr, 257)] {
            let plain = plain_variant(case);
            for v in [plain, with_residual(plain, false), with_residual(plain, true)] {
                tally.record(run_variant(kernel, oracle, 2 * 240 + mr + 1, n, k, case, v));
            }
            case += 1;
        }
    }
    tally
}

/// The body of the generated per-kernel test.
pub fn test_kernel_by_name(name: &str) {
    let Some(kernel) = kernels::KERNELS.iter().find(|k| k.name == name) else {
        println!("{name}: not compiled for this target or feature set");
        return;
    };
    if !pointwise::dispatch::is_available(kernel.isa) {
        println!("{name}: NOT RUN: this CPU lacks {}", kernel.isa.name());
        return;
    }
    let tally = sweep(kernel, DEPTHS);
    assert_eq!(
        tally.failed,
        0,
        "{name}: {} of {} cases failed: {:#?}",
        tally.failed,
        tally.passed + tally.failed,
        tally.first_failures
    );
    println!("{name}: {} cases passed", tally.passed);
}
