#![cfg(unix)]
//! Guard pages, as MLAS tests its kernels: every buffer the kernels read or
//! write is placed so that it ENDS exactly where a `PROT_NONE` page begins (or
//! STARTS exactly where one ends), so an access one element outside it
//! faults, in a plain release build, with no sanitizer.
//!
//! Every available ISA runs through the public API on every input, output and
//! residual layout, with odd channel counts (1, 3, 7, 13, 37, 53), ragged
//! tiles on both axes, strides, groups and channel slices whose last used
//! channel is the buffer's last element. A second test drives each kernel
//! through its ABI with every activation, output and residual row in a
//! guarded mapping of its own, for every row count, column count (of one
//! panel, and of two and two and a half panels) and several depths. A third
//! drives each strided entry point with its activation and output rows in one
//! guarded mapping each, the last row ending at the guard (or the first
//! starting at it).

mod common;

use common::convs::{ACTIVATIONS, LAYOUTS};
use common::sweep::Rng;
use pointwise::kernels::abi::{StridedArgs, A_COLD, A_STREAMED, A_WARM};
use pointwise::kernels::{KernelFn, Strides, TileArgs, KERNELS};
use pointwise::reference::{copy_channels, element_offset};
use pointwise::{dispatch, Conv1x1, Layout, Residual, RunOptions, Tensor, TensorDesc, TensorMut, WeightOrder};

/// `f32` buffers with an inaccessible page on each side.
mod guard {
    use core::ptr::NonNull;

    /// Where the data sits in its mapping.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Placement {
        /// The last element is the last 4 bytes before a `PROT_NONE` page:
        /// reading or writing one element past the end faults.
        EndAtGuard,
        /// The first element is the first 4 bytes after a `PROT_NONE` page:
        /// one element before the start faults.
        StartAfterGuard,
    }

    pub const PLACEMENTS: [Placement; 2] = [Placement::EndAtGuard, Placement::StartAfterGuard];

    /// `len` floats in an anonymous mapping laid out as
    /// `[PROT_NONE page][data pages][PROT_NONE page]`.
    pub struct Guarded {
        map: NonNull<libc::c_void>,
        map_len: usize,
        data: NonNull<f32>,
        len: usize,
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        assert!(size > 0, "sysconf(_SC_PAGESIZE) failed");
        size as usize
    }

    impl Guarded {
        pub fn new(len: usize, placement: Placement, mut fill: impl FnMut(usize) -> f32) -> Guarded {
            let page = page_size();
            let data_bytes = (len * 4).div_ceil(page).max(1) * page;
            let map_len = data_bytes + 2 * page;
            // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
            let map = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(map, libc::MAP_FAILED, "mmap of {map_len} bytes failed");
            let base = map as *mut u8;
            // SAFETY: both pages lie inside the mapping just made.
            unsafe {
                assert_eq!(libc::mprotect(base as *mut libc::c_void, page, libc::PROT_NONE), 0);
                assert_eq!(libc::mprotect(base.add(page + data_bytes) as *mut libc::c_void, page, libc::PROT_NONE), 0);
            }
            let offset = match placement {
                Placement::EndAtGuard => page + data_bytes - len * 4,
                Placement::StartAfterGuard => page,
            };
            // SAFETY: offset is inside the mapping (or at the guard for len 0),
            // page-aligned minus a multiple of 4, so aligned for f32.
            let data = unsafe { NonNull::new_unchecked(base.add(offset) as *mut f32) };
            let mut guarded = Guarded { map: NonNull::new(map).unwrap(), map_len, data, len };
            for (i, v) in guarded.as_mut_slice().iter_mut().enumerate() {
                *v = fill(i);
            }
            guarded
        }

        pub fn as_slice(&self) -> &[f32] {
            // SAFETY: `len` initialised (zero-filled, then filled) floats at `data`.
            unsafe { core::slice::from_raw_parts(self.data.as_ptr(), self.len) }
        }

        pub fn as_mut_slice(&mut self) -> &mut [f32] {
            // SAFETY: as above, borrowed mutably through `self`.
            unsafe { core::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
        }

        /// Floats in a guard page (of 4 KiB or more: every page size counts).
        pub const GUARD_FLOATS: usize = 1024;

        /// The start of the `PROT_NONE` page before the data.
        pub fn guard_page(&self) -> *const f32 {
            self.map.as_ptr() as *const f32
        }

        /// The address `delta` elements from the start of the data (may be in a guard page).
        pub fn address(&self, delta: isize) -> *const f32 {
            self.data.as_ptr().wrapping_offset(delta)
        }
    }

    impl Drop for Guarded {
        fn drop(&mut self) {
            // SAFETY: unmaps exactly the mapping made in `new`; no slice outlives `self`.
            unsafe { libc::munmap(self.map.as_ptr(), self.map_len) };
        }
    }
}

use guard::{Guarded, Placement, PLACEMENTS};

const SENTINEL: f32 = f32::from_bits(0x7fc0_beef);

/// The helper itself: touching the element just past the end (or just
/// before the start) kills a forked child with SIGSEGV, so the tests below
/// would catch a one-element overrun.
#[test]
fn guard_pages_fault() {
    for (placement, delta) in [(Placement::EndAtGuard, 5), (Placement::StartAfterGuard, -1)] {
        let buf = Guarded::new(5, placement, |i| i as f32);
        let inside = if delta < 0 { 0 } else { 4 };
        // SAFETY: an element of the buffer.
        assert_eq!(unsafe { buf.address(inside).read_volatile() }, inside as f32);
        let target = buf.address(delta);
        // SAFETY: fork in a test: the child only performs one volatile read and
        // `_exit`s, touching no lock, allocator or other thread's state.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: restores the default action (a sanitizer may have installed a
            // reporting handler), then deliberately reads the guard page: the child dies.
            unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
                core::ptr::read_volatile(target);
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        let faulted = libc::WIFSIGNALED(status) && matches!(libc::WTERMSIG(status), libc::SIGSEGV | libc::SIGBUS);
        assert!(faulted, "{placement:?}: reading element {delta} did not fault (status {status:#x})");
    }
}

/// Odd channel counts: below, at and around every tile width (8, 16, 32),
/// and 2, the width of the dot kernels, whose walks (indirect and strided)
/// take only calls of two output channels.
const CHANNELS: &[usize] = &[1, 2, 3, 7, 13, 37, 53];

#[derive(Clone, Copy, Debug)]
struct Shape {
    groups: usize,
    cin: usize,
    cout: usize,
    stride: usize,
    batch: usize,
    height: usize,
    width: usize,
    in_slice: (usize, usize),
    out_slice: (usize, usize),
    res_offset: usize,
}

/// One call with every buffer in `placement`, and the same call on ordinary
/// vectors: the results must be bitwise equal, and nothing outside the written
/// channels may change.
fn run_guarded(
    isa: pointwise::Isa,
    s: Shape,
    layouts: (Layout, Layout, Option<Layout>),
    activation: pointwise::Activation,
    placement: Placement,
    seed: u64,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let conv =
        Conv1x1::new(s.cin, s.cout).with_groups(s.groups).with_stride(s.stride, s.stride).with_activation(activation);
    let k = s.cin / s.groups;
    let weights: Vec<f32> = (0..s.cout * k).map(|_| rng.f32()).collect();
    let bias: Vec<f32> = (0..s.cout).map(|_| rng.f32()).collect();
    let packed = conv
        .pack_for(
            isa,
            &weights,
            if seed.is_multiple_of(2) { WeightOrder::OutIn } else { WeightOrder::InOut },
            Some(&bias),
        )
        .map_err(|e| e.to_string())?;
    let [ho, wo] = conv.output_size(s.height, s.width);
    let in_desc = TensorDesc::new(layouts.0, s.batch, s.height, s.width, s.in_slice.0 + s.cin + s.in_slice.1)
        .with_channel_offset(s.in_slice.0);
    let out_desc = TensorDesc::new(layouts.1, s.batch, ho, wo, s.out_slice.0 + s.cout + s.out_slice.1)
        .with_channel_offset(s.out_slice.0);
    let res_desc =
        layouts.2.map(|l| TensorDesc::new(l, s.batch, ho, wo, s.res_offset + s.cout).with_channel_offset(s.res_offset));

    let input_values: Vec<f32> = (0..in_desc.len().unwrap()).map(|_| rng.f32()).collect();
    let residual_values: Vec<f32> = res_desc.map_or(Vec::new(), |d| (0..d.len().unwrap()).map(|_| rng.f32()).collect());
    let input = Guarded::new(input_values.len(), placement, |i| input_values[i]);
    let residual = res_desc.map(|d| Guarded::new(d.len().unwrap(), placement, |i| residual_values[i]));
    let mut output = Guarded::new(out_desc.len().unwrap(), placement, |_| SENTINEL);
    let options = RunOptions { expect_isa: Some(isa), ..RunOptions::default() };
    packed
        .run_with(
            Tensor::new(input.as_slice(), in_desc),
            TensorMut::new(output.as_mut_slice(), out_desc),
            residual.as_ref().zip(res_desc).map(|(r, d)| Tensor::new(r.as_slice(), d)).into(),
            &options,
        )
        .map_err(|e| e.to_string())?;

    let mut expected = vec![SENTINEL; out_desc.len().unwrap()];
    packed
        .run_with(
            Tensor::new(&input_values, in_desc),
            TensorMut::new(&mut expected, out_desc),
            res_desc.map(|d| Tensor::new(&residual_values, d)).into(),
            &options,
        )
        .map_err(|e| e.to_string())?;

    let mut written = vec![false; expected.len()];
    for b in 0..s.batch {
        for y in 0..ho {
            for x in 0..wo {
                for co in 0..s.cout {
                    written[element_offset(&out_desc, b, out_desc.channel_offset + co, y, x)] = true;
                }
            }
        }
    }
    for (at, (&got, &want)) in output.as_slice().iter().zip(&expected).enumerate() {
        if got.to_bits() != want.to_bits() {
            return Err(format!("element {at}: guarded {got}, unguarded {want}"));
        }
        if !written[at] && got.to_bits() != SENTINEL.to_bits() {
            return Err(format!("element {at} is outside the written channels but was written"));
        }
    }

    // The same residual in the guarded output, which the kernels then read
    // up to its last element too: the same bits.
    if let Some(r_desc) = res_desc {
        let mut in_output = vec![SENTINEL; out_desc.len().unwrap()];
        copy_channels(&residual_values, &r_desc, &mut in_output, &out_desc, s.cout);
        let mut output = Guarded::new(in_output.len(), placement, |i| in_output[i]);
        packed
            .run_with(
                Tensor::new(input.as_slice(), in_desc),
                TensorMut::new(output.as_mut_slice(), out_desc),
                Residual::InOutput,
                &options,
            )
            .map_err(|e| e.to_string())?;
        if let Some(at) = (0..expected.len()).find(|&at| output.as_slice()[at].to_bits() != expected[at].to_bits()) {
            return Err(format!(
                "element {at}: {} with the residual in the guarded output, {} with it in a tensor of its own",
                output.as_slice()[at],
                expected[at]
            ));
        }
    }
    Ok(())
}

#[test]
fn every_isa_and_layout_against_guard_pages() {
    let mut failures = Vec::new();
    let mut runs = 0;
    for isa in dispatch::available_isas() {
        let mut seq = 0u64;
        for &input in LAYOUTS {
            for &output in LAYOUTS {
                for residual in
                    [None, Some(Layout::Nhwc), Some(Layout::Nchw), Some(Layout::Nchwc(8)), Some(Layout::Nchwc(16))]
                {
                    for &cin in CHANNELS {
                        for &cout in CHANNELS {
                            seq += 1;
                            // Groups when both counts allow it; the last used channel is
                            // the buffer's last one unless a slice adds channels after it.
                            let groups = if cin % 3 == 0 && cout % 3 == 0 {
                                3
                            } else if seq.is_multiple_of(7) {
                                cin.min(cout).max(1)
                            } else {
                                1
                            };
                            let groups = if cin % groups == 0 && cout % groups == 0 { groups } else { 1 };
                            // Stride 2 on odd sizes keeps the last pixel in use.
                            let stride = 1 + seq.is_multiple_of(4) as usize;
                            let shape = Shape {
                                groups,
                                cin,
                                cout,
                                stride,
                                batch: 1 + seq.is_multiple_of(5) as usize,
                                height: [1, 3, 2][(seq % 3) as usize] * stride - (stride - 1),
                                width: [5, 7, 13, 1][(seq % 4) as usize] * stride - (stride - 1),
                                in_slice: [(0, 0), (3, 0), (0, 2)][(seq % 3) as usize],
                                out_slice: [(0, 0), (5, 0), (0, 0), (1, 1)][(seq % 4) as usize],
                                res_offset: [0, 0, 2][(seq % 3) as usize],
                            };
                            let activation = ACTIVATIONS[(seq as usize) % ACTIVATIONS.len()];
                            for placement in PLACEMENTS {
                                runs += 1;
                                if let Err(e) =
                                    run_guarded(isa, shape, (input, output, residual), activation, placement, seq)
                                {
                                    failures.push(format!(
                                        "{}: {input:?} -> {output:?} (+{residual:?}) {shape:?} {placement:?}: {e}",
                                        isa.name()
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {runs} runs failed: {:#?}", failures.len(), &failures[..failures.len().min(5)]);
    println!("{runs} guarded runs passed");
}

/// Each kernel through its ABI: every A, C and R row in a guarded mapping of
/// its own, sized exactly to the elements the contract names, so that one
/// element past (or before) any row faults. Checked against the scalar oracle
/// of the kernel's tile shape.
#[test]
fn kernel_rows_against_guard_pages() {
    let mut cases = 0;
    for kernel in KERNELS.iter().filter(|k| dispatch::is_available(k.isa)) {
        let oracle = pointwise::kernels::scalar_oracle(kernel.mr, kernel.nr).unwrap();
        let mut seq = 0usize;
        // Past MR, the kernel walks the call's row tiles (three, of uneven sizes).
        // Past NR, its panels: two whole ones, and two and a half, which a
        // kernel may walk row tile by row tile (`Kernel::panels_walk_depth`).
        let nr = kernel.nr;
        for m in (1..=kernel.mr).chain([2 * kernel.mr + kernel.mr / 2 + 1]) {
            for n in (1..=nr).chain([2 * nr, 2 * nr + nr / 2]) {
                // 16, 63, 64: the dot kernels' walks end in a whole step or
                // in a short one, up to the deepest call they walk (64). 512,
                // from MR rows on: tiles that stream their panel and fetch the
                // next call's weights (`b_next`, which is in a guard page).
                let deep: &[usize] = if m >= kernel.mr { &[512] } else { &[] };
                for &k in [0usize, 1, 5, 8, 16, 17, 63, 64].iter().chain(deep) {
                    seq += 1;
                    let a_k = [
                        Strides::CONTIGUOUS,
                        Strides { block: 16, block_stride: 20, phase: seq % 16 },
                        Strides { block: 1, block_stride: 2, phase: 0 },
                    ][seq % 3];
                    let c_cols = [
                        Strides::CONTIGUOUS,
                        Strides { block: 8, block_stride: 8, phase: 0 },
                        Strides { block: 16, block_stride: 16, phase: 0 },
                        Strides { block: 8, block_stride: 9, phase: 3 },
                    ][(seq / 3) % 4];
                    let varied = Variant { a_k, c_cols, residual: !seq.is_multiple_of(3), accumulate: seq % 4 == 1 };
                    // Calls of several panels also run as a kernel may walk
                    // them: contiguous rows and columns, no accumulate, with
                    // a residual at every other depth.
                    let walkable = (n > nr).then_some(Variant {
                        a_k: Strides::CONTIGUOUS,
                        c_cols: Strides::CONTIGUOUS,
                        residual: seq.is_multiple_of(2),
                        accumulate: false,
                    });
                    for variant in [Some(varied), walkable].into_iter().flatten() {
                        for placement in PLACEMENTS {
                            cases += 1;
                            check_kernel_rows(kernel, oracle, (m, n, k), variant, placement, seq);
                        }
                    }
                }
            }
        }
    }
    println!("{cases} guarded kernel cases passed");
}

/// How a guarded kernel call lays out its rows and what its epilogue reads.
#[derive(Clone, Copy)]
struct Variant {
    a_k: Strides,
    c_cols: Strides,
    residual: bool,
    accumulate: bool,
}

/// Weight panels for `n` columns of depth `k` in panels of `nr`: `k·nr`
/// floats each, `stride` apart as `pack` lays them out (64-byte aligned: the
/// stride is a multiple of 16 floats, and so is where the mapping puts them),
/// the columns past `n` zero; guarded like the rows, and so is the bias
/// (`nr` floats per panel). Returns the panels, the stride and the bias.
fn guarded_panels(nr: usize, n: usize, k: usize, placement: Placement, rng: &mut Rng) -> (Guarded, usize, Guarded) {
    let panels = n.div_ceil(nr);
    let stride = (k * nr).next_multiple_of(16);
    let panel = Guarded::new(panels * stride, placement, |i| {
        let (p, at) = (i / stride, i % stride);
        if at < k * nr && p * nr + at % nr < n {
            rng.f32()
        } else {
            0.0
        }
    });
    let bias = Guarded::new(panels * nr, placement, |_| rng.f32());
    (panel, stride, bias)
}

fn check_kernel_rows(
    kernel: &pointwise::kernels::Kernel,
    oracle: KernelFn,
    (m, n, k): (usize, usize, usize),
    Variant { a_k, c_cols, residual: with_residual, accumulate }: Variant,
    placement: Placement,
    seq: usize,
) {
    let mut rng = Rng::new(seq as u64);
    let span = |s: &Strides, count: usize| if count == 0 { 0 } else { s.offset(count - 1) + 1 };
    let a: Vec<Guarded> = (0..m).map(|_| Guarded::new(span(&a_k, k), placement, |_| rng.f32())).collect();
    let r: Vec<Guarded> = (0..m).map(|_| Guarded::new(span(&c_cols, n), placement, |_| rng.f32())).collect();
    let (panel, stride, bias) = guarded_panels(kernel.nr, n, k, placement, &mut rng);
    let run = |f: KernelFn| -> Vec<Vec<f32>> {
        let mut c: Vec<Guarded> =
            (0..m).map(|i| Guarded::new(span(&c_cols, n), placement, |j| (i + j) as f32 * 0.125)).collect();
        let a_rows: Vec<*const f32> = a.iter().map(|g| g.as_slice().as_ptr()).collect();
        let r_rows: Vec<*const f32> = r.iter().map(|g| g.as_slice().as_ptr()).collect();
        let c_rows: Vec<*mut f32> = c.iter_mut().map(|g| g.as_mut_slice().as_mut_ptr()).collect();
        let args = TileArgs {
            m,
            n,
            k,
            a_rows: a_rows.as_ptr(),
            a_k,
            b_panel: panel.as_slice().as_ptr(),
            b_panel_stride: stride,
            bias: if seq.is_multiple_of(2) { bias.as_slice().as_ptr() } else { core::ptr::null() },
            c_rows: c_rows.as_ptr(),
            c_cols,
            r_rows: if with_residual { r_rows.as_ptr() } else { core::ptr::null() },
            r_cols: c_cols,
            clamp_min: if seq % 5 == 2 { -0.5 } else { f32::NEG_INFINITY },
            clamp_max: if seq % 5 == 2 { 0.25 } else { f32::INFINITY },
            accumulate: accumulate as u32,
            a_cold: [A_WARM, A_COLD, A_STREAMED][seq % 3],
            // A whole page that faults if read: the kernel may only
            // prefetch it.
            b_next: panel.guard_page(),
            b_next_len: Guarded::GUARD_FLOATS,
        };
        // SAFETY: each row holds exactly the elements the contract names; the
        // panels hold k·NR floats each, 64-byte aligned, `stride` apart; bias
        // NR floats per panel; the CPU supports the kernel's ISA (filtered
        // above).
        unsafe { f(&args) };
        c.iter().map(|g| g.as_slice().to_vec()).collect()
    };
    let (got, want) = (run(kernel.run), run(oracle));
    let bound = 2.0 * (k as f32 + 4.0) * f32::EPSILON * (k as f32 + 4.0) + 1e-6;
    for (i, (g_row, w_row)) in got.iter().zip(&want).enumerate() {
        for (j, (g, w)) in g_row.iter().zip(w_row).enumerate() {
            assert!(
                (g - w).abs() <= bound,
                "{}: m={m} n={n} k={k} {a_k:?} {c_cols:?} {placement:?}: row {i} element {j}: {g} vs oracle {w}",
                kernel.name
            );
        }
    }
}

/// Each strided entry point ([`pointwise::kernels::Kernel::run_strided`])
/// through its ABI: all activation rows in one guarded mapping and all output
/// rows in another, each sized exactly to the rows' span (row `m - 1` ends
/// the mapping), tight and with gaps between the rows; row counts past the
/// 240-row chunks in which the entry point hands rows to the indirect one,
/// and just under a tile (which a walk of fewer rows takes when the
/// activations stream), at every `a_cold` hint; depths and column counts on
/// both sides of what the walks take. Checked against the scalar oracle of
/// the kernel's tile shape.
#[test]
fn strided_rows_against_guard_pages() {
    let mut cases = 0;
    for kernel in KERNELS.iter().filter(|k| dispatch::is_available(k.isa)) {
        let Some(strided) = kernel.run_strided else { continue };
        let oracle = pointwise::kernels::scalar_oracle(kernel.mr, kernel.nr).unwrap();
        let mut seq = 0usize;
        // Every column count of the dot kernels; for the others, around
        // their vectors of 8 and 16 (their walk takes whole vectors only),
        // and a call of more than one panel (one and a half, two), which
        // their walk takes across the panels.
        let nr = kernel.nr;
        let mut columns: Vec<usize> = if nr == 2 {
            vec![1, 2]
        } else {
            [1, 7, 8, 9, 15, 16, 17, nr - 1, nr].into_iter().filter(|&n| n <= nr).chain([nr + nr / 2, 2 * nr]).collect()
        };
        columns.sort_unstable();
        columns.dedup();
        for m in [1, kernel.mr - 1, kernel.mr, 2 * kernel.mr + 3, 2 * 240 + kernel.mr + 1] {
            // The calls of more than two chunks check how the chunks meet:
            // a few shapes are enough (and they cost the most, under ASan
            // especially).
            let chunked = m > 240;
            for &n in columns.iter().filter(|&&n| !chunked || n <= 2 || n == kernel.nr) {
                // The dot walks end in a whole step or a short one, up to the
                // deepest call they walk (64); 65 goes to the indirect entry,
                // as 257 does from the general kernels' walk.
                for k in [1usize, 16, 17, 63, 64, 65, 256, 257] {
                    if chunked && !matches!(k, 17 | 65 | 257) {
                        continue;
                    }
                    for (a_gap, c_gap) in [(0, 0), (3, 1)] {
                        for a_cold in [A_WARM, A_COLD, A_STREAMED] {
                            seq += 1;
                            for placement in PLACEMENTS {
                                cases += 1;
                                let layout = (a_gap, c_gap, a_cold);
                                check_strided_rows(kernel, strided, oracle, (m, n, k), layout, placement, seq);
                            }
                        }
                    }
                }
            }
        }
    }
    println!("{cases} guarded strided cases passed");
}

fn check_strided_rows(
    kernel: &pointwise::kernels::Kernel,
    strided: pointwise::kernels::abi::StridedFn,
    oracle: KernelFn,
    (m, n, k): (usize, usize, usize),
    (a_gap, c_gap, a_cold): (usize, usize, u32),
    placement: Placement,
    seq: usize,
) {
    let mut rng = Rng::new(seq as u64);
    let (a_stride, c_stride) = (k + a_gap, n + c_gap);
    let a = Guarded::new((m - 1) * a_stride + k, placement, |_| rng.f32());
    let (panel, stride, bias) = guarded_panels(kernel.nr, n, k, placement, &mut rng);
    let bias_ptr = if seq.is_multiple_of(2) { bias.as_slice().as_ptr() } else { core::ptr::null() };
    let (clamp_min, clamp_max) = if seq % 5 == 2 { (-0.5, 0.25) } else { (f32::NEG_INFINITY, f32::INFINITY) };
    let new_output = || Guarded::new((m - 1) * c_stride + n, placement, |j| j as f32 * 0.125);
    // Every fifth case adds a residual (each gap and hint in turn), its rows
    // in a mapping of their own.
    let r_stride = n + 2 * c_gap;
    let residual = (seq % 5 == 1).then(|| Guarded::new((m - 1) * r_stride + n, placement, |_| rng.f32()));
    let r_ptr = residual.as_ref().map_or(core::ptr::null(), |r| r.as_slice().as_ptr());

    let mut got = new_output();
    let args = StridedArgs {
        m,
        n,
        k,
        a: a.as_slice().as_ptr(),
        a_row_stride: a_stride,
        b_panel: panel.as_slice().as_ptr(),
        b_panel_stride: stride,
        bias: bias_ptr,
        c: got.as_mut_slice().as_mut_ptr(),
        c_row_stride: c_stride,
        r: r_ptr,
        r_row_stride: r_stride,
        clamp_min,
        clamp_max,
        a_cold,
    };
    // SAFETY: m rows of k floats `a_stride` apart, m rows of n floats
    // `c_stride` apart and, when there is a residual, m rows of n floats
    // `r_stride` apart, each in its mapping; panels of k·NR floats, 64-byte
    // aligned, `stride` apart; NR bias floats per panel; the CPU supports the
    // kernel's ISA (filtered by the caller).
    unsafe { strided(&args) };

    let mut want = new_output();
    let a_rows: Vec<*const f32> = (0..m).map(|i| a.as_slice()[i * a_stride..].as_ptr()).collect();
    let c_base = want.as_mut_slice().as_mut_ptr();
    let c_rows: Vec<*mut f32> = (0..m).map(|i| c_base.wrapping_add(i * c_stride)).collect();
    let r_rows: Vec<*const f32> = (0..m).map(|i| r_ptr.wrapping_add(i * r_stride)).collect();
    let oracle_args = TileArgs {
        m,
        n,
        k,
        a_rows: a_rows.as_ptr(),
        a_k: Strides::CONTIGUOUS,
        b_panel: panel.as_slice().as_ptr(),
        b_panel_stride: stride,
        bias: bias_ptr,
        c_rows: c_rows.as_ptr(),
        c_cols: Strides::CONTIGUOUS,
        r_rows: if r_ptr.is_null() { core::ptr::null() } else { r_rows.as_ptr() },
        r_cols: Strides::CONTIGUOUS,
        clamp_min,
        clamp_max,
        accumulate: 0,
        a_cold,
        b_next: core::ptr::null(),
        b_next_len: 0,
    };
    // SAFETY: as above, the same call through row pointers.
    unsafe { oracle(&oracle_args) };

    let bound = 2.0 * (k as f32 + 4.0) * f32::EPSILON * (k as f32 + 4.0) + 1e-6;
    for (at, (g, w)) in got.as_slice().iter().zip(want.as_slice()).enumerate() {
        assert!(
            (g - w).abs() <= bound,
            "{} strided: m={m} n={n} k={k} gaps ({a_gap}, {c_gap}) {placement:?}: row {} element {}: {g} vs oracle {w}",
            kernel.name,
            at / c_stride,
            at % c_stride
        );
    }
}
