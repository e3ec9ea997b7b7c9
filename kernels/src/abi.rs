//! The one micro-kernel ABI shared by every ISA.
//!
//! A micro-kernel computes `m` pixels (rows) by `n` output channels (columns):
//! `n` spans one or more `NR`-wide panels, and `m` one or more row tiles of at
//! most `MR` rows (as few as can be, of even sizes: see [`row_tiles`]; the
//! dot-product kernels' walks take whole tiles first, of `MR` rows or, for
//! streamed activations, of fewer):
//!
//! ```text
//! C[i][j] = clamp( acc[i][j] (+ C[i][j] if accumulate) (+ bias[j]) (+ R[i][j]), min, max )
//! acc[i][j] = Σ_{p < k} A[i][p] · B[p][j]            for i < m, j < n
//! ```
//!
//! * **A** (activations) is read in place. Row `i` starts at `a_rows[i]`, and its
//!   element `p` lies at `a_rows[i] + a_k.offset(p)`. The same kernel thus reads
//!   NHWC (contiguous channels), NCHWc (channels in blocks of 8 or 16, the blocks
//!   `H·W·c` apart) and NCHW (channels `H·W` apart) without copying.
//! * **B** (weights) is packed in panels of `NR` columns: panel `q` (columns
//!   `q·NR..(q+1)·NR`) starts at `b_panel + q·b_panel_stride` and holds `k` rows
//!   of exactly `NR` floats, row `p` at `+ p·NR`, columns past `n` zero. Every
//!   panel is 64-byte aligned.
//! * **C** (output) row `i` starts at `c_rows[i]`; column `j` lies at
//!   `c_rows[i] + c_cols.offset(j)`.
//! * **R** (residual), when `r_rows` is not null, is addressed like C through
//!   `r_rows` and `r_cols`.
//!
//! Each output element is `bias[j]`, then one fused multiply-add per `p` in
//! increasing order, then the epilogue, whatever the call's `m` and `n` and
//! whichever panel, row tile or row slot it is computed in: so results never
//! depend on how a call is cut into tiles (and so on the thread count). A
//! kernel may sum some panels otherwise, the same way on each of its paths:
//! the 6x16 AVX2 kernel sums a last panel of at most 8 columns on two sets of
//! FMAs, even and odd `p`, added before the epilogue (`HALF_PANEL_SETS` in
//! `x86_64/avx2.rs`); the dot kernels (`NR = 2`) add depths a vector at a
//! time.
//!
//! One call may cover many row tiles (the driver passes a whole block of
//! pixels with one panel, or with several: see [`Kernel::panels_walk_depth`]):
//! the kernel then walks them itself, reading the descriptor once. On Zen 4
//! that ran the 12x32 AVX-512 kernel 5-10% faster at depths 16-32 than one
//! call per tile, which paid a call, a dispatch on the column count and a
//! descriptor written to memory and read back before every tile's first FMA.
//!
//! A kernel may also have a **strided** entry point ([`Kernel::run_strided`],
//! [`StridedArgs`]), as XNNPACK has a GEMM beside its indirect GEMM: for calls
//! whose rows are evenly spaced, with contiguous channels (NHWC at stride 1),
//! row `i` of A, C and R is found by a multiplication rather than read from
//! an array. The caller then builds no row pointer arrays, the per-row
//! work that a narrow layer (two output channels, or a depth of 16-32) pays
//! beside its few FMAs.
//!
//! # Contract
//! The caller guarantees, and the kernel relies on, the following:
//! * `m >= 1`, `n >= 1`, `k >= 0`. The CPU supports the kernel's ISA.
//! * `a_rows[0..m]`, `c_rows[0..m]` and, when not null, `r_rows[0..m]` are readable.
//! * Every address named above, for `i < m`, `j < n`, `p < k`, is in bounds of
//!   one live allocation and properly aligned for `f32`.
//! * Each of the `ceil(n / NR)` panels holds `k·NR` floats and is 64-byte
//!   aligned; `bias`, when not null, holds `ceil(n / NR)·NR` floats (columns
//!   past `n` may be anything).
//! * No C element aliases another C element of the call, or an A, B or bias
//!   element, or an R element other than its own: `R[i][j]` may be `C[i][j]`
//!   itself (a residual in the output, as oneDNN's sum post-op).
//!
//! The kernel guarantees:
//! * It **reads** only `a_rows[0..m]`, `c_rows[0..m]`, `r_rows[0..m]`, the A and R
//!   elements of rows `i < m`, columns `j < n`, depth `p < k`, the panels' floats,
//!   the bias floats, and the C elements of the tile when `accumulate` is set.
//!   Row pointers past `m` are never read: a tile that reads activation row
//!   pointers clamped to row `m - 1` computes duplicate rows, which are never
//!   stored (with `R` aliasing `C`, a duplicate's residual may be an output
//!   already written).
//! * It **writes** exactly the C elements `(i, j)` with `i < m`, `j < n`, each
//!   once, and nothing else: no padding column, no neighbouring channel, no row
//!   beyond `m`. It reads `R[i][j]` (and `C[i][j]` under `accumulate`) before
//!   it writes `C[i][j]`, so the result is the same whether `R[i][j]` is
//!   `C[i][j]` or a copy of it.
//! * NaN propagates: the clamp keeps a NaN (as PyTorch's `clamp`/`relu` do).
//! * Prefetches are not reads: a kernel may prefetch addresses ahead of the
//!   elements above (the next row tile's rows, later panel rows) and the
//!   `b_next` weights of a later call, which never faults and changes nothing
//!   that the program can observe. `a_cold` says when that is worth it for
//!   the activation rows.

/// The instruction sets a kernel can be written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Isa {
    /// Portable Rust, no intrinsics. The fallback and the test oracle.
    Scalar = 0,
    /// x86-64 AVX2 with FMA3 (256-bit, 16 ymm registers).
    Avx2 = 1,
    /// x86-64 AVX-512F with AVX-512VL (512-bit, 32 zmm registers, mask
    /// registers; VL gives 256-bit operations all 32 registers too). Every
    /// CPU with AVX-512F that pulp's `V4` token accepts has both.
    Avx512 = 2,
    /// AArch64 Advanced SIMD (128-bit, 32 q registers).
    Neon = 3,
}

impl Isa {
    /// Every ISA, in the order of preference for dispatch (best last).
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// The lower-case name used by `POINTWISE_ISA`, the CLI and test output.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses a name as written by [`Isa::name`].
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.name() == name)
    }
}

/// How a run of logical indices `0, 1, 2, ...` maps to element offsets.
///
/// Index `j` lies at `((phase + j) / block) · block_stride + (phase + j) % block`
/// elements from the base pointer, which points at the start of the block that
/// holds index 0. `block == 0` means "contiguous": index `j` lies at offset `j`.
///
/// | layout of the channel axis | `block` | `block_stride` | `phase` |
/// |---|---|---|---|
/// | NHWC (channels contiguous) | 0 | unused | unused |
/// | NCHWc (`c` = 8 or 16) | `c` | `H·W·c` | first channel `% c` |
/// | NCHW (one plane per channel) | 1 | `H·W` | 0 |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Strides {
    /// Elements per contiguous block, or 0 for one unbounded contiguous run.
    pub block: usize,
    /// Elements from the start of one block to the start of the next.
    pub block_stride: usize,
    /// Position of index 0 inside its block (`< block`; ignored when `block == 0`).
    pub phase: usize,
}

impl Strides {
    /// One contiguous run: index `j` at offset `j`.
    pub const CONTIGUOUS: Strides = Strides { block: 0, block_stride: 0, phase: 0 };

    /// Element offset of index `j` from the base pointer.
    #[inline(always)]
    pub const fn offset(&self, j: usize) -> usize {
        let q = self.phase + j;
        match q.checked_div(self.block) {
            None => j,
            Some(blocks) => blocks * self.block_stride + q % self.block,
        }
    }

    /// The same axis from index `first` on: the element offset of the block
    /// that holds `first`, and the strides that make `first` index 0 there.
    #[inline]
    pub const fn advance(&self, first: usize) -> (usize, Strides) {
        let q = self.phase + first;
        match q.checked_div(self.block) {
            None => (first, *self),
            Some(blocks) => (
                blocks * self.block_stride,
                Strides { block: self.block, block_stride: self.block_stride, phase: q % self.block },
            ),
        }
    }

    /// True when every aligned group of `lanes` indices (`0..lanes`,
    /// `lanes..2·lanes`, ...) is contiguous in memory, so that a kernel may use
    /// whole-vector loads and stores for it.
    #[inline(always)]
    pub const fn vectors_contiguous(&self, lanes: usize) -> bool {
        self.block == 0 || (self.block.is_multiple_of(lanes) && self.phase.is_multiple_of(lanes))
    }

    /// Calls `run(first_index, element_offset, len)` for each maximal contiguous
    /// run of the indices `0..count`, in increasing order.
    #[inline(always)]
    pub fn for_each_run(&self, count: usize, mut run: impl FnMut(usize, usize, usize)) {
        if self.block == 0 {
            if count > 0 {
                run(0, 0, count);
            }
            return;
        }
        let mut index = 0;
        let mut block_index = 0;
        let mut in_block = self.phase;
        while index < count {
            let len = (self.block - in_block).min(count - index);
            run(index, block_index * self.block_stride + in_block, len);
            index += len;
            block_index += 1;
            in_block = 0;
        }
    }
}

/// The tile descriptor: everything one micro-kernel call reads and writes.
/// See the [module documentation](self) for the contract.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct TileArgs {
    /// Rows (pixels) to compute, `>= 1`; past `MR`, the next row tiles.
    pub m: usize,
    /// Columns (output channels) to write, `>= 1`; past `NR`, the next panels.
    pub n: usize,
    /// Depth (input channels), `>= 0`.
    pub k: usize,
    /// `m` pointers, one per activation row.
    pub a_rows: *const *const f32,
    /// Where element `p` of an activation row lies.
    pub a_k: Strides,
    /// Packed weights: the first panel, `k` rows of `NR` floats, 64-byte aligned.
    pub b_panel: *const f32,
    /// Floats from the start of one panel to the next (read only when `n > NR`).
    pub b_panel_stride: usize,
    /// `ceil(n / NR)·NR` bias floats, or null for no bias.
    pub bias: *const f32,
    /// `m` pointers, one per output row.
    pub c_rows: *const *mut f32,
    /// Where output column `j` of a row lies.
    pub c_cols: Strides,
    /// `m` pointers, one per residual row, or null for no residual. Residual
    /// row `i` may be output row `i` itself, with the same columns (see the
    /// [contract](self)).
    pub r_rows: *const *const f32,
    /// Where residual column `j` of a row lies.
    pub r_cols: Strides,
    /// Lower bound of the fused clamp (`-inf` for none).
    pub clamp_min: f32,
    /// Upper bound of the fused clamp (`+inf` for none).
    pub clamp_max: f32,
    /// Non-zero: add the tile's current C values to the sum (K blocking).
    pub accumulate: u32,
    /// Where the activation rows are likely to be, for prefetching: [`A_WARM`],
    /// [`A_COLD`] or [`A_STREAMED`]. Non-zero when this call is the first to
    /// read the rows since they were last written (a block's first panel):
    /// they may be in L3 or memory, and a kernel may prefetch them ahead of
    /// use. A hint, which never changes what is computed: any value is sound.
    pub a_cold: u32,
    /// Packed weights that a later call reads, `b_next_len` floats from here
    /// (null, with a length of 0: none), which a kernel may prefetch into L2
    /// while it computes; it never reads them. Given where the call's
    /// weights stream from L3 or memory, so that the next call's panel is in
    /// L2 when that call's first row tile reads it. [`row_range`] gives each
    /// row tile its share, in proportion to its rows. A hint like
    /// `a_cold`: any address is sound, since a prefetch never faults.
    pub b_next: *const f32,
    /// Floats at `b_next` (0 for none).
    pub b_next_len: usize,
}

/// [`TileArgs::a_cold`]: an earlier call read the rows (an earlier panel of
/// the block), or they were copied; they are in L1 or L2.
pub const A_WARM: u32 = 0;
/// [`TileArgs::a_cold`]: the first read of the rows, in a layer whose
/// activations are small enough that they may still be in L2 (the
/// `pointwise` driver: up to twice its size).
pub const A_COLD: u32 = 1;
/// [`TileArgs::a_cold`]: the first read of the rows, in a layer whose
/// activations are larger than that: most of them stream from L3 or memory.
pub const A_STREAMED: u32 = 2;

/// The descriptor of a strided call ([`Kernel::run_strided`]): the call of
/// [`TileArgs`] whose row `i` of A starts at `a + i·a_row_stride` with
/// contiguous elements (`a_k` contiguous), whose row `i` of C starts at
/// `c + i·c_row_stride` with contiguous columns (`c_cols` contiguous), whose
/// row `i` of R, when `r` is not null, starts at `r + i·r_row_stride` with
/// contiguous columns (`r_cols` contiguous), without accumulate. The
/// [contract](self) is that call's, and a strided entry point computes
/// exactly what the kernel's indirect entry point computes for it, bit for
/// bit.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StridedArgs {
    /// Rows (pixels) in this call, at least 1.
    pub m: usize,
    /// Columns (output channels) in this call, at least 1.
    pub n: usize,
    /// Depth (input channels per group).
    pub k: usize,
    /// Element 0 of activation row 0.
    pub a: *const f32,
    /// Floats from one activation row to the next.
    pub a_row_stride: usize,
    /// Start of the first weight panel.
    pub b_panel: *const f32,
    /// Floats from one panel to the next.
    pub b_panel_stride: usize,
    /// Bias, or null for none.
    pub bias: *const f32,
    /// Column 0 of output row 0.
    pub c: *mut f32,
    /// Floats from one output row to the next.
    pub c_row_stride: usize,
    /// Column 0 of residual row 0, or null for none; may be `c`, with
    /// `r_row_stride == c_row_stride` (the residual in the output).
    pub r: *const f32,
    /// Floats from one residual row to the next (unused without residual).
    pub r_row_stride: usize,
    /// Lower bound of the fused clamp (`-inf` for none).
    pub clamp_min: f32,
    /// Upper bound of the fused clamp (`+inf` for none).
    pub clamp_max: f32,
    /// As [`TileArgs::a_cold`].
    pub a_cold: u32,
}

/// A strided entry point ([`Kernel::run_strided`]).
///
/// # Safety
/// The caller upholds the [contract](self) for the call that `StridedArgs`
/// describes, for the kernel's `MR` and `NR`, and the CPU supports the
/// kernel's ISA.
pub type StridedFn = unsafe fn(&StridedArgs);

/// Rows up to which [`run_strided_as_indirect`] builds row pointer arrays on
/// the stack, per call of the indirect entry point: a multiple of every tile
/// height of the kernels that have a strided entry point (6, 8, 12), so that
/// a whole chunk has no short tile, as the driver's blocks are.
const STRIDED_CHUNK_ROWS: usize = 240;

/// Runs rows `first..s.m` of a strided call through the indirect entry point
/// `run` of the same kernel: the rows or the calls a strided entry point
/// leaves to it, in calls of up to `STRIDED_CHUNK_ROWS` rows whose row
/// pointers it computes into arrays.
///
/// # Safety
/// The contract of `s` for `run`'s kernel; `first <= s.m`.
#[inline(always)]
pub unsafe fn run_strided_as_indirect(s: &StridedArgs, first: usize, run: KernelFn) {
    let mut a_rows = [core::ptr::null::<f32>(); STRIDED_CHUNK_ROWS];
    let mut c_rows = [core::ptr::null_mut::<f32>(); STRIDED_CHUNK_ROWS];
    let mut r_rows = [core::ptr::null::<f32>(); STRIDED_CHUNK_ROWS];
    let mut at = first;
    while at < s.m {
        let count = (s.m - at).min(STRIDED_CHUNK_ROWS);
        for i in 0..count {
            // In bounds: rows below m exist (the caller's contract).
            a_rows[i] = s.a.wrapping_add((at + i) * s.a_row_stride);
            c_rows[i] = s.c.wrapping_add((at + i) * s.c_row_stride);
            if !s.r.is_null() {
                r_rows[i] = s.r.wrapping_add((at + i) * s.r_row_stride);
            }
        }
        let t = TileArgs {
            m: count,
            n: s.n,
            k: s.k,
            a_rows: a_rows.as_ptr(),
            a_k: Strides::CONTIGUOUS,
            b_panel: s.b_panel,
            b_panel_stride: s.b_panel_stride,
            bias: s.bias,
            c_rows: c_rows.as_ptr(),
            c_cols: Strides::CONTIGUOUS,
            r_rows: if s.r.is_null() { core::ptr::null() } else { r_rows.as_ptr() },
            r_cols: Strides::CONTIGUOUS,
            clamp_min: s.clamp_min,
            clamp_max: s.clamp_max,
            accumulate: 0,
            a_cold: s.a_cold,
            b_next: core::ptr::null(),
            b_next_len: 0,
        };
        // SAFETY: rows at..at + count of `s`, as the contract of `s` gives
        // them, with their pointers in the arrays.
        unsafe { run(&t) };
        at += count;
    }
}

impl TileArgs {
    /// True when both the output and (if any) the residual columns come in
    /// contiguous groups of `lanes`, so whole vectors can be loaded and stored;
    /// otherwise a kernel takes [`store_tile_elementwise`].
    #[inline(always)]
    pub fn vector_columns(&self, lanes: usize) -> bool {
        self.c_cols.vectors_contiguous(lanes) && (self.r_rows.is_null() || self.r_cols.vectors_contiguous(lanes))
    }

    /// Output row `i` and residual row `i` (null when there is no residual).
    ///
    /// # Safety
    /// `i < m`.
    #[inline(always)]
    pub unsafe fn rows(&self, i: usize) -> (*mut f32, *const f32) {
        // SAFETY: i < m: c_rows[i] and, when not null, r_rows[i] are readable.
        unsafe {
            let residual = if self.r_rows.is_null() { core::ptr::null() } else { *self.r_rows.add(i) };
            (*self.c_rows.add(i), residual)
        }
    }
}

/// The rows of the row tile after the current one, in the same kernel call:
/// what a kernel may prefetch while it computes the current tile. `count` is
/// 0 after the last tile.
#[derive(Clone, Copy, Debug)]
pub struct NextRows {
    /// `count` readable row pointers (dangling when `count` is 0).
    pub rows: *const *const f32,
    /// Rows in the next tile.
    pub count: usize,
}

impl NextRows {
    /// The tile of `count` rows from row `first` of `t`, cut to the rows `t`
    /// has (none when `first >= t.m`).
    #[inline(always)]
    pub fn after(t: &TileArgs, first: usize, count: usize) -> NextRows {
        NextRows { rows: t.a_rows.wrapping_add(first), count: count.min(t.m.saturating_sub(first)) }
    }
}

/// True when a call spanning several panels of `nr` columns can be walked
/// row tile by row tile across its panels (see [`Kernel::panels_walk_depth`]):
/// its columns are whole panels and at most one half panel
/// ([`walk_granule`]), no C to accumulate onto, and [`walkable_layout`]
/// holds.
#[inline(always)]
pub fn walks_panels(t: &TileArgs, nr: usize) -> bool {
    let r_cols = (!t.r_rows.is_null()).then_some(&t.r_cols);
    t.n.is_multiple_of(walk_granule(nr)) && t.accumulate == 0 && walkable_layout(&t.a_k, &t.c_cols, r_cols)
}

/// The columns a walked call comes in multiples of: half a panel of `nr`
/// (one vector of the kernels that walk: 16 of the 12x32 AVX-512 kernel, 8
/// of the 6x16 AVX2 one). A walking kernel runs a last half panel with one
/// vector of accumulators per row (two sets of them on the 6x16 AVX2
/// kernel); a last panel of other widths gets a call of its own.
#[inline(always)]
pub fn walk_granule(nr: usize) -> usize {
    (nr / 2).max(1)
}

/// The layout part of [`walks_panels`], which the driver checks before it
/// builds a call: contiguous activation rows (`a_k`), output columns
/// (`c_cols`) and residual columns (`r_cols`, if there is a residual).
#[inline(always)]
pub fn walkable_layout(a_k: &Strides, c_cols: &Strides, r_cols: Option<&Strides>) -> bool {
    a_k.block == 0 && c_cols.block == 0 && r_cols.is_none_or(|r| r.block == 0)
}

/// Most rows a kernel may have (the tile table's build script checks it).
pub const MAX_MR: usize = 16;

/// The part of `t` that is its panel `q` (columns `q·nr..`, at most `nr` of
/// them), as a tile of its own: `n <= nr`, the panel's weights and bias, and
/// the row pointers of its first column, kept in `c_rows` and `r_rows`.
///
/// # Safety
/// `t` satisfies the contract for panels of `nr` columns, `t.m <= MAX_MR`,
/// and `q < ceil(n / nr)`.
#[inline(always)]
pub unsafe fn panel_tile(
    t: &TileArgs,
    nr: usize,
    q: usize,
    c_rows: &mut [*mut f32; MAX_MR],
    r_rows: &mut [*const f32; MAX_MR],
) -> TileArgs {
    // SAFETY: forwarded.
    unsafe { panels_tile(t, nr, q, 1, c_rows, r_rows) }
}

/// The part of `t` that is its panels `q..q + count` (columns
/// `q·nr..(q + count)·nr`, or fewer in the last), as a tile of its own: `n <=
/// count·nr`, the first panel's weights (the others `b_panel_stride` floats
/// apart) and bias, and the row pointers of its first column, kept in
/// `c_rows` and `r_rows`.
///
/// # Safety
/// `t` satisfies the contract for panels of `nr` columns, `t.m <= MAX_MR`,
/// `count >= 1` and `q < ceil(n / nr)`.
#[inline(always)]
pub unsafe fn panels_tile(
    t: &TileArgs,
    nr: usize,
    q: usize,
    count: usize,
    c_rows: &mut [*mut f32; MAX_MR],
    r_rows: &mut [*const f32; MAX_MR],
) -> TileArgs {
    let first = q * nr;
    let (c_skip, c_cols) = t.c_cols.advance(first);
    let (r_skip, r_cols) = t.r_cols.advance(first);
    for i in 0..t.m.min(MAX_MR) {
        // SAFETY: i < m. The skips are the offsets of the blocks holding
        // column `first`, inside the rows' allocations.
        unsafe {
            c_rows[i] = (*t.c_rows.add(i)).add(c_skip);
            if !t.r_rows.is_null() {
                r_rows[i] = (*t.r_rows.add(i)).add(r_skip);
            }
        }
    }
    TileArgs {
        n: (count * nr).min(t.n - first),
        // SAFETY: panel q exists.
        b_panel: unsafe { t.b_panel.add(q * t.b_panel_stride) },
        // SAFETY: the bias holds ceil(n / nr)·nr floats.
        bias: if t.bias.is_null() { t.bias } else { unsafe { t.bias.add(first) } },
        c_rows: c_rows.as_ptr(),
        c_cols,
        r_rows: if t.r_rows.is_null() { t.r_rows } else { r_rows.as_ptr() },
        r_cols,
        ..*t
    }
}

/// Runs `tile` on `t` when its columns fit one panel of `nr`, and otherwise
/// once per panel, each as a tile of its own (see [`panel_tile`]), for at
/// most [`MAX_MR`] rows at a time. Kernels start with it, so that each
/// instance only ever sees one panel (of any number of rows).
///
/// # Safety
/// `t` satisfies the contract for panels of `nr` columns; `tile` upholds it.
#[inline(always)]
pub unsafe fn for_each_panel(t: &TileArgs, nr: usize, mut tile: impl FnMut(&TileArgs)) {
    if t.n <= nr {
        tile(t);
    } else {
        for_each_row_tile(t, MAX_MR, |rows| {
            // SAFETY: forwarded contract; `panel_tile` copies at most
            // MAX_MR row pointers, and each row tile has at most that many.
            unsafe { each_panel_from(rows, nr, 0, &mut tile) }
        });
    }
}

/// Runs `tile` on each row tile of `t` (see [`row_tiles`]), each as a call
/// of its own (see [`row_range`]). Results are those of one call per row
/// tile, which is what the contract promises for `m > MR`. When `t`
/// satisfies the contract, so does each row tile, with `m <= mr`.
#[inline(always)]
pub fn for_each_row_tile(t: &TileArgs, mr: usize, mut tile: impl FnMut(&TileArgs)) {
    for (first, count) in row_tiles(t.m, mr) {
        tile(&row_range(t, first, count));
    }
}

/// The row tiles of `m` rows, as `(first row, rows)`: as few tiles as `mr`
/// allows, their sizes as even as can be (the first ones one row larger).
///
/// Even rather than `mr, mr, ..., rest`: a 49-pixel (7x7) layer cut 12 + 12 +
/// 12 + 12 + 1 ended each panel with a one-row tile, whose few FMA chains
/// wait on the FMA latency; cut 10 + 10 + 10 + 10 + 9, every tile keeps the
/// FMA pipes busy, for the same number of tiles: the 7x7 layers of the suite
/// ran 2-3% faster (AVX-512, Zen 4, four interleaved runs).
///
/// ```
/// use pointwise_kernels::abi::row_tiles;
/// let tiles: Vec<_> = row_tiles(49, 12).collect();
/// assert_eq!(tiles, [(0, 10), (10, 10), (20, 10), (30, 10), (40, 9)]);
/// assert_eq!(row_tiles(24, 12).collect::<Vec<_>>(), [(0, 12), (12, 12)]);
/// ```
#[inline(always)]
pub fn row_tiles(m: usize, mr: usize) -> impl Iterator<Item = (usize, usize)> {
    let (base, larger) = row_tile_sizes(m, mr);
    (0..m.div_ceil(mr.max(1))).map(move |i| (i * base + i.min(larger), base + usize::from(i < larger)))
}

/// The sizes of [`row_tiles`]: every tile has `base` rows, and the first
/// `larger` tiles one more (`(0, 0)` for `m == 0`).
#[inline(always)]
pub fn row_tile_sizes(m: usize, mr: usize) -> (usize, usize) {
    let tiles = m.div_ceil(mr.max(1));
    match m.checked_div(tiles) {
        Some(base) => (base, m % tiles),
        None => (0, 0),
    }
}

/// Rows `first..first + count` of `t` as a call of their own: `m = count`,
/// the row pointer arrays advanced to row `first`, and the rows' share of
/// `b_next` ([`next_weights_share`]). When `t` satisfies the contract,
/// `count >= 1` and `first + count <= t.m`, so does the result.
///
/// Safe: it only computes pointers (wrapping, never dereferenced here).
#[inline(always)]
pub fn row_range(t: &TileArgs, first: usize, count: usize) -> TileArgs {
    let (b_next, b_next_len) = next_weights_share(t, first, count);
    TileArgs {
        m: count,
        a_rows: t.a_rows.wrapping_add(first),
        c_rows: t.c_rows.wrapping_add(first),
        r_rows: if t.r_rows.is_null() { t.r_rows } else { t.r_rows.wrapping_add(first) },
        b_next,
        b_next_len,
        ..*t
    }
}

/// The share of `t`'s [`TileArgs::b_next`] that its rows `first..first +
/// count` prefetch: in proportion to their rows, cut at whole lines (16
/// floats, cache lines where `b_next` is 64-byte aligned, as panels are) from
/// `b_next`, so that the row tiles of a call of one panel fetch each line
/// once between them, each spreading its share over its own k loop. (A call
/// that a kernel takes panel by panel would give each panel's tiles the same
/// shares; the driver's calls with a `b_next` are of one panel, or walked,
/// and walks do not fetch it.)
#[inline(always)]
pub fn next_weights_share(t: &TileArgs, first: usize, count: usize) -> (*const f32, usize) {
    if t.b_next_len == 0 || t.m == 0 {
        return (t.b_next, 0);
    }
    // Lines, rounded down, but the last row's end: the whole length.
    let at = |row: usize| {
        if row >= t.m {
            t.b_next_len
        } else {
            ((row as u128 * t.b_next_len as u128 / t.m as u128) as usize) & !15
        }
    };
    let (start, end) = (at(first), at(first.saturating_add(count)));
    (t.b_next.wrapping_add(start), end.saturating_sub(start))
}

/// Runs `tile` on panels `first..` of `t`, each as a tile of its own.
///
/// # Safety
/// `t` satisfies the contract for panels of `nr` columns; `tile` upholds it.
#[inline(always)]
pub(crate) unsafe fn each_panel_from(t: &TileArgs, nr: usize, first: usize, mut tile: impl FnMut(&TileArgs)) {
    let mut c_rows = [core::ptr::null_mut(); MAX_MR];
    let mut r_rows = [core::ptr::null(); MAX_MR];
    for q in first..t.n.div_ceil(nr) {
        // SAFETY: q < ceil(n / nr); forwarded contract.
        let panel = unsafe { panel_tile(t, nr, q, &mut c_rows, &mut r_rows) };
        tile(&panel);
    }
}

/// How many panels of `nr` columns a one-row tile (`t.m == 1`) should group
/// for [`for_each_panel_group`], 4 or 3: whichever leaves fewer panels over,
/// since each panel left over runs alone, on one or two FMA chains (4 on a
/// tie: more chains side by side). squeeze-excitation's 240 columns are 15
/// panels of 16: in groups of 4, three were left over, and the 6x16 AVX2
/// kernel ran se.reduce at 77-80% of its roofline; in groups of 3, at 83-89%
/// (Zen 4, the CLI's in-round roofline, builds alternated three times).
#[inline(always)]
pub fn panel_group_size(t: &TileArgs, nr: usize) -> usize {
    let panels = t.n.div_ceil(nr);
    if panels % 3 < panels % 4 {
        3
    } else {
        4
    }
}

/// Walks a one-row tile (`m == 1`) whose columns span several panels, `P`
/// panels at a time: `group` gets each full group of `P` panels as one tile
/// of `P·nr` columns or fewer (see [`panels_tile`]), and `one_panel` each
/// panel left over. A one-row tile has one dependent FMA chain per vector; a
/// group lets a kernel run `P` panels' chains side by side, and store them
/// as one tile. A tile of its own per panel of the group (a descriptor and
/// row arrays built for each, and an epilogue each) cost about 2.9 µs of
/// se.expand's 12.7 on the 6x16 AVX2 kernel (K = 240, N = 960: 15 groups of
/// 4 panels). One tile per group, CLI builds alternated 8 times on an Intel
/// Xeon (Emerald Rapids): se.expand +35% with the AVX2 kernels and +22% with
/// the AVX-512 ones, se.reduce +9% and +6%, the classifier +1-2%; at K = 60,
/// N = 960, +97% and +62%.
///
/// # Safety
/// `t` satisfies the contract for panels of `nr` columns, with `t.m == 1`;
/// `group` and `one_panel` uphold it for the tiles they get.
#[inline(always)]
pub unsafe fn for_each_panel_group<const P: usize>(
    t: &TileArgs,
    nr: usize,
    mut group: impl FnMut(&TileArgs),
    one_panel: impl FnMut(&TileArgs),
) {
    let panels = t.n.div_ceil(nr);
    let mut c_rows = [core::ptr::null_mut(); MAX_MR];
    let mut r_rows = [core::ptr::null(); MAX_MR];
    let mut q = 0;
    while q + P <= panels {
        // SAFETY: panels q..q + P exist; m == 1 <= MAX_MR.
        group(&unsafe { panels_tile(t, nr, q, P, &mut c_rows, &mut r_rows) });
        q += P;
    }
    // SAFETY: forwarded contract.
    unsafe { each_panel_from(t, nr, q, one_panel) };
}

/// The element-wise epilogue of a whole tile, for layouts whose columns are
/// not vector-contiguous (NCHW output, 8-channel blocks under 16-lane
/// vectors): each row's accumulators (bias included) go through
/// [`store_element`] one column at a time.
///
/// `values` holds the rows' accumulators, row `i` from `i·row_len` on. A
/// kernel copies its registers there on this path only: handing it the
/// accumulator array itself made LLVM keep that array in memory, storing all
/// of it after every tile's k loop whichever path the tile took (24 zmm
/// stores, a quarter of a 12x32 tile's fixed cost).
///
/// # Safety
/// `values` holds `m` rows of `row_len >= n` floats; the ABI contract holds.
#[inline(always)]
pub unsafe fn store_tile_elementwise(t: &TileArgs, values: &[f32], row_len: usize) {
    for (i, row) in values.chunks_exact(row_len).take(t.m).enumerate() {
        for (j, &value) in row.iter().enumerate().take(t.n) {
            // SAFETY: i < m, j < n.
            unsafe { store_element(t, i, j, value, 0.0) };
        }
    }
}

/// True when a 2-column tile (`NR = 2`) may store its results as they are:
/// no accumulate, no residual, and columns 0 and 1 adjacent in memory. The
/// kernel then adds bias and clamps in vectors and calls [`store_pairs`];
/// otherwise it calls [`store_pairs_elementwise`].
#[inline(always)]
pub fn plain_pairs(t: &TileArgs) -> bool {
    t.accumulate == 0 && t.r_rows.is_null() && t.c_cols.vectors_contiguous(2)
}

/// Stores the finished results of a 2-column tile: `results[2i + j]` (bias
/// and clamp applied) to row `i < m`, column `j < n`, as one 8-byte store per
/// row when `n == 2`.
///
/// # Safety
/// The ABI contract for `NR = 2`; [`plain_pairs`] holds; `results` holds
/// `2·m` floats.
#[inline(always)]
pub unsafe fn store_pairs(t: &TileArgs, results: &[f32]) {
    let offset = t.c_cols.offset(0);
    for (i, pair) in results.chunks_exact(2).take(t.m).enumerate() {
        // SAFETY: i < m; columns 0 and (when n = 2) 1 are adjacent
        // (plain_pairs) and in bounds by the contract.
        unsafe {
            let c = (*t.c_rows.add(i)).add(offset);
            if t.n == 2 {
                core::ptr::write_unaligned(c as *mut [f32; 2], [pair[0], pair[1]]);
            } else {
                *c = pair[0];
            }
        }
    }
}

/// Stores the sums of a 2-column tile, `results[2i + j]` without bias, for
/// rows `i < m` and columns `j < n`, each through [`store_element`]
/// (accumulate, bias, residual, clamp, any column layout).
///
/// # Safety
/// The ABI contract for `NR = 2`; `results` holds `2·m` floats.
#[inline(always)]
pub unsafe fn store_pairs_elementwise(t: &TileArgs, results: &[f32]) {
    for (i, pair) in results.chunks_exact(2).take(t.m).enumerate() {
        for (j, &value) in pair.iter().enumerate().take(t.n) {
            // SAFETY: bias holds NR = 2 floats when not null; i < m, j < n.
            unsafe {
                let bias = if t.bias.is_null() { 0.0 } else { *t.bias.add(j) };
                store_element(t, i, j, value, bias);
            }
        }
    }
}

/// The bias of a 2-column tile as the bit pattern of one 64-bit lane
/// (column 0 in the low half), to broadcast to every pair of a vector.
///
/// # Safety
/// `bias` is a tile's bias, not null (it then holds `NR = 2` floats).
#[inline(always)]
pub unsafe fn bias_pair_bits(bias: *const f32) -> i64 {
    // SAFETY: bias holds 2 floats.
    let pair = unsafe { core::ptr::read_unaligned(bias as *const [f32; 2]) };
    ((u64::from(pair[1].to_bits()) << 32) | u64::from(pair[0].to_bits())) as i64
}

/// A micro-kernel entry point.
///
/// # Safety
/// The caller upholds the [contract](self) for the kernel's `MR` and `NR`, and
/// the CPU supports the kernel's ISA.
pub type KernelFn = unsafe fn(&TileArgs);

/// The processors a kernel is tuned for. A kernel tuned for one reads the
/// same packed weights as the generic kernel of its ISA and shape (same `MR`
/// and `NR`), and computes the same values (the contract holds for any CPU
/// with the ISA); dispatch takes it in that kernel's place on the processors
/// it names, where it was measured faster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tuning {
    /// Any processor with the ISA.
    Generic,
    /// AMD Zen 4 (family 19h with AVX-512F): two 256-bit FMA pipes, so a
    /// 512-bit FMA issues at half the rate of an Intel core with two
    /// 512-bit units, at the same 32 floats per cycle as two 256-bit ones.
    /// (Zen 5, family 1Ah, whose desktop and server cores have 512-bit
    /// pipes, is not measured and stays generic.)
    Zen4,
}

impl Tuning {
    /// Every tuning.
    pub const ALL: [Tuning; 2] = [Tuning::Generic, Tuning::Zen4];

    /// The lower-case name, as the tile table and `POINTWISE_TUNING` write it.
    pub const fn name(self) -> &'static str {
        match self {
            Tuning::Generic => "generic",
            Tuning::Zen4 => "zen4",
        }
    }

    /// Parses a name as written by [`Tuning::name`].
    pub fn from_name(name: &str) -> Option<Tuning> {
        Tuning::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One row of the tile table: a micro-kernel and its shape. Made by the
/// registry only ([`KERNELS`](crate::KERNELS)).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Kernel {
    /// Self-describing name, `f32_pw_{MR}x{NR}__{isa}`, with `_{tuning}`
    /// after it for a kernel tuned for some processors.
    pub name: &'static str,
    /// The instruction set the kernel needs.
    pub isa: Isa,
    /// The processors the kernel is tuned for.
    pub tuning: Tuning,
    /// Rows (pixels) per tile.
    pub mr: usize,
    /// Columns (output channels) per tile: the packed panel width.
    pub nr: usize,
    /// At depths `k` up to this (0: never; `usize::MAX`, written `any` in
    /// the tile table: always), the driver hands the kernel a block's
    /// panels in one call, or in a few calls where they weigh more than it
    /// walks at once (whole ones and at most one half panel, see
    /// [`walk_granule`]) when [`walkable_layout`] holds for it; the kernel
    /// then runs each row tile across all the panels, its rows staying in
    /// L1, rather than each panel across the row tiles. Either order
    /// computes the same values (see the contract), so this is the driver's
    /// policy, not part of the contract: a kernel walks any call that
    /// [`walks_panels`] allows, at any depth.
    pub panels_walk_depth: usize,
    /// The entry point.
    pub run: KernelFn,
    /// The strided entry point, for kernels that have one (see
    /// [`StridedArgs`]).
    pub run_strided: Option<StridedFn>,
    /// At depths `k` up to this (0 for a kernel without a strided entry
    /// point; `usize::MAX`, written `any` in the tile table: always), the
    /// driver takes [`run_strided`](Kernel::run_strided) for the calls that
    /// [`StridedArgs`] can describe, of two pixels or more, whose activation
    /// and residual rows do not alias in L1 (rows a multiple of an L1 way's
    /// bytes apart, 4 KiB on x86-64, read by tiles of more rows than an L1
    /// set has ways). Like
    /// `panels_walk_depth`, the driver's policy, not part of the contract:
    /// the strided entry point computes any call it is given.
    pub strided_depth: usize,
}

impl PartialEq for Kernel {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Kernel {}

/// Row pointers `0..MR` of `rows` (clamped as in [`clamped_rows`]), each
/// advanced by `offset` elements, read from `rows` where they are used: just
/// before a tile's k loop.
///
/// Read as plain loads, LLVM hoisted them to the tile's entry, kept them in
/// stack slots and reloaded them before the k loop. Read here with
/// `read_volatile`, the loop's row registers come straight from the caller's
/// array: on the K = 16-24 MobileNetV2 layers (b2.expand, b3.expand) the
/// 12x32 AVX-512 kernel ran 1-5% faster (Zen 4); the AVX2 6x16 kernel ran
/// the same either way.
///
/// # Safety
/// `rows` holds at least `m >= 1` readable pointers, and each, advanced by
/// `offset` elements, stays within (or one past) its allocation.
#[inline(always)]
pub unsafe fn row_pointers_at<const MR: usize>(rows: *const *const f32, m: usize, offset: usize) -> [*const f32; MR] {
    // SAFETY: index min(i, m - 1) < m; the offset is in bounds (the caller's contract).
    core::array::from_fn(|i| unsafe { rows.add(i.min(m - 1)).read_volatile().add(offset) })
}

/// Loads row pointers `0..MR`, clamping rows `m..MR` to row `m - 1` so that a
/// kernel's inner loop has no row branches and never reads an absent row.
/// Shared by every SIMD kernel (it needs no target feature).
///
/// # Safety
/// `rows` holds at least `m >= 1` readable pointers.
#[inline(always)]
pub unsafe fn clamped_rows<T: Copy, const MR: usize>(rows: *const T, m: usize) -> [T; MR] {
    // SAFETY: index min(i, m - 1) < m.
    core::array::from_fn(|i| unsafe { *rows.add(i.min(m - 1)) })
}

/// The epilogue for one element: shared by the scalar kernel and by the SIMD
/// kernels' element-wise path (for layouts whose columns are not vector-contiguous).
///
/// # Safety
/// As for the kernel contract, for row `i < m` and column `j < n`.
#[inline(always)]
pub unsafe fn store_element(t: &TileArgs, i: usize, j: usize, mut value: f32, bias: f32) {
    // SAFETY: the contract makes c_rows[i] and the addressed element valid.
    let c = unsafe { (*t.c_rows.add(i)).add(t.c_cols.offset(j)) };
    if t.accumulate != 0 {
        // SAFETY: as above; the element belongs to this tile.
        value += unsafe { *c };
    }
    value += bias;
    if !t.r_rows.is_null() {
        // SAFETY: the contract makes r_rows[i] and the addressed element valid.
        value += unsafe { *(*t.r_rows.add(i)).add(t.r_cols.offset(j)) };
    }
    // SAFETY: as above.
    unsafe { *c = clamp(value, t.clamp_min, t.clamp_max) };
}

/// `min(max(x, lo), hi)` that returns NaN for a NaN `x`, as PyTorch's clamp does.
#[inline(always)]
pub fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}
