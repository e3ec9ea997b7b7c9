//! NEON micro-kernels (32 q registers).
//!
//! 8x8 is the tile. A row's activations are loaded four depth steps at a time
//! (one 128-bit load per row) and each lane feeds the FMA directly
//! (`fmla v.4s, v.4s, v.s[lane]`, `vfmaq_laneq_f32`), so the A side costs no
//! broadcast instruction and no register per step. 16 accumulators (8 rows x 2
//! q), 8 A vectors and 2 panel vectors make 26 of the 32 q registers, which
//! leaves the compiler room to load the next panel row early without spilling.
//! Each depth step issues 16 FMAs against 2 panel loads and 2 A loads (8 per 4
//! steps): one load per 4 FMAs, enough to keep two FMA pipes (Cortex-A76,
//! Neoverse N1) busy from two load ports.
//!
//! The alternatives do worse on this budget: 6x16 with lane FMAs needs 24
//! accumulators + 6 A + 4 panel = 34 registers, so it would fall back to one
//! broadcast load per row per step (10 loads per 24 FMAs); 8x16 needs 32
//! accumulators alone; 8x12 breaks the table's rule that NR is a multiple of 8
//! or divides 16. NR = 8 also pads less than 16 on the channel counts of mobile
//! networks (24, 40, 72, 120, ...), and MR = 8 divides the driver's 240-row
//! blocks.
//!
//! Depth runs shorter than 4 (NCHW input, the ends of NCHWc blocks, `k % 4`)
//! take one step at a time with a broadcast load per row. Each kernel has one
//! instance per row count, so a ragged last tile does only its own rows' work.
//! `8x4` is the narrow companion for at most 4 output channels per group.

use core::arch::aarch64::*;

use crate::abi::{clamped_rows, for_each_panel, store_tile_elementwise, TileArgs};

const LANES: usize = 4;

/// The shared NEON body for a tile of exactly `MR` rows and `V·4` columns.
///
/// # Safety
/// The ABI contract for `NR = V·4`, with `t.m == MR`; the CPU has NEON.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn tile<const MR: usize, const V: usize>(t: &TileArgs) {
    // `tile_8xn` runs the instance whose MR is the tile's m: row loops have
    // constant trip counts.
    debug_assert_eq!(t.m, MR);
    let nr = V * LANES;
    // SAFETY: the contract gives m >= 1 readable row pointers.
    let a_rows: [*const f32; MR] = unsafe { clamped_rows(t.a_rows, t.m) };
    let mut acc = [[vdupq_n_f32(0.0); V]; MR];

    if !t.bias.is_null() {
        for v in 0..V {
            // SAFETY: bias holds NR floats.
            let b = unsafe { vld1q_f32(t.bias.add(v * LANES)) };
            for row in acc.iter_mut() {
                row[v] = b;
            }
        }
    }

    // The depth axis in contiguous runs: the whole depth for NHWC, one block for
    // NCHWc, one element for NCHW. A 4-wide A load must stay inside its run: the
    // element after a run lies in another block, or past the end of the buffer.
    //
    // The runs are those of `Strides::for_each_run`, walked here rather than
    // through its closure: LLVM does not inline a closure this large at both of
    // its call sites, and the outlined closure sees `acc` through a reference,
    // so the accumulators would go through memory on every run (every step for
    // NCHW). In this loop they stay in registers.
    let s = t.a_k;
    let (block, mut in_block) = if s.block == 0 { (t.k, 0) } else { (s.block, s.phase) };
    let mut block_start = 0;
    let mut done = 0;
    let mut panel = t.b_panel;
    while done < t.k {
        let (offset, len) = (block_start + in_block, (block - in_block).min(t.k - done));
        let mut p = 0;
        while p + LANES <= len {
            // SAFETY: elements p..p+4 of this run are in bounds by the contract.
            let a: [float32x4_t; MR] = core::array::from_fn(|i| unsafe { vld1q_f32(a_rows[i].add(offset + p)) });
            // SAFETY: the 4 panel rows of these depth steps are in bounds (p + 4 <= len).
            unsafe {
                lane_step::<MR, V, 0>(&mut acc, &a, panel);
                lane_step::<MR, V, 1>(&mut acc, &a, panel.add(nr));
                lane_step::<MR, V, 2>(&mut acc, &a, panel.add(2 * nr));
                lane_step::<MR, V, 3>(&mut acc, &a, panel.add(3 * nr));
                // Stays within (or one past) the k·NR panel.
                panel = panel.add(LANES * nr);
            }
            p += LANES;
        }
        // The last 0..=3 elements of the run, one depth step each, A broadcast
        // by `ld1r`.
        while p < len {
            // SAFETY: the panel row of this depth step is in bounds (p < len).
            let b: [float32x4_t; V] = core::array::from_fn(|v| unsafe { vld1q_f32(panel.add(v * LANES)) });
            for (acc_row, row) in acc.iter_mut().zip(&a_rows) {
                // SAFETY: element p of this run is in bounds by the contract.
                let a = unsafe { vld1q_dup_f32(row.add(offset + p)) };
                for v in 0..V {
                    acc_row[v] = vfmaq_f32(acc_row[v], b[v], a);
                }
            }
            // SAFETY: stays within (or one past) the k·NR panel.
            panel = unsafe { panel.add(nr) };
            p += 1;
        }
        done += len;
        block_start += s.block_stride;
        in_block = 0;
    }

    // By value: a reference would make `acc` an address-taken stack array, and
    // LLVM then stores every accumulator to it on every depth step.
    // SAFETY: the contract's pointers for rows < m, columns < n.
    unsafe { store_tile::<MR, V>(t, acc) };
}

/// One depth step whose A values are lane `L` of `a`: `acc[i] += a[i][L] · B`
/// for the panel row at `b_row`.
///
/// # Safety
/// `b_row` points at `V·4` readable floats; the CPU has NEON.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn lane_step<const MR: usize, const V: usize, const L: i32>(
    acc: &mut [[float32x4_t; V]; MR],
    a: &[float32x4_t; MR],
    b_row: *const f32,
) {
    // SAFETY: forwarded; NEON loads need only f32 alignment.
    let b: [float32x4_t; V] = core::array::from_fn(|v| unsafe { vld1q_f32(b_row.add(v * LANES)) });
    for (acc_row, &a_i) in acc.iter_mut().zip(a) {
        for v in 0..V {
            acc_row[v] = vfmaq_laneq_f32::<L>(acc_row[v], b[v], a_i);
        }
    }
}

/// Epilogue: accumulate, residual, clamp and store the `MR == m` rows,
/// columns `< n`. Bias is already in the accumulators.
///
/// # Safety
/// The ABI contract with `t.m == MR`; the CPU has NEON.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn store_tile<const MR: usize, const V: usize>(t: &TileArgs, acc: [[float32x4_t; V]; MR]) {
    if !t.vector_columns(LANES) {
        // A copy on this path only (see `store_tile_elementwise`).
        let mut values = [[[0.0f32; LANES]; V]; MR];
        for i in 0..MR {
            for v in 0..V {
                // SAFETY: 4 floats fit.
                unsafe { vst1q_f32(values[i][v].as_mut_ptr(), acc[i][v]) };
            }
        }
        // SAFETY: MR == m rows of V·4 >= n values; the contract holds.
        unsafe { store_tile_elementwise(t, values.as_flattened().as_flattened(), V * LANES) };
        return;
    }
    let lo = vdupq_n_f32(t.clamp_min);
    let hi = vdupq_n_f32(t.clamp_max);
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: i < MR == m.
        let (c_row, r_row) = unsafe { t.rows(i) };
        for (v, &acc_v) in acc_row.iter().enumerate() {
            let first = v * LANES;
            if first >= t.n {
                break;
            }
            let live = t.n - first;
            // SAFETY: columns first..first+min(live, 4) are in the tile and
            // contiguous (vectors_contiguous); lanes past them are not accessed.
            unsafe {
                let c = c_row.add(t.c_cols.offset(first));
                let mut x = acc_v;
                if t.accumulate != 0 {
                    x = vaddq_f32(x, load(c, live));
                }
                if !r_row.is_null() {
                    x = vaddq_f32(x, load(r_row.add(t.r_cols.offset(first)), live));
                }
                // FMAX/FMIN (not FMAXNM/FMINNM) return NaN when either operand
                // is NaN, so a NaN sum stays NaN, as PyTorch's clamp keeps it.
                x = vminq_f32(vmaxq_f32(x, lo), hi);
                store(c, live, x);
            }
        }
    }
}

/// Loads `min(live, 4)` floats at `p`; the other lanes are zero.
///
/// # Safety
/// `min(live, 4)` floats at `p` are readable.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn load(p: *const f32, live: usize) -> float32x4_t {
    // SAFETY: forwarded; each arm reads exactly its first `live` floats.
    unsafe {
        match live {
            1 => vld1q_lane_f32::<0>(p, vdupq_n_f32(0.0)),
            2 => vcombine_f32(vld1_f32(p), vdup_n_f32(0.0)),
            3 => vld1q_lane_f32::<2>(p.add(2), vcombine_f32(vld1_f32(p), vdup_n_f32(0.0))),
            _ => vld1q_f32(p),
        }
    }
}

/// Stores the first `min(live, 4)` lanes of `x` at `p`, and nothing else.
///
/// # Safety
/// `min(live, 4)` floats at `p` are writable.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn store(p: *mut f32, live: usize, x: float32x4_t) {
    // SAFETY: forwarded; each arm writes exactly its first `live` floats.
    unsafe {
        match live {
            1 => vst1q_lane_f32::<0>(p, x),
            2 => vst1_f32(p, vget_low_f32(x)),
            3 => {
                vst1_f32(p, vget_low_f32(x));
                vst1q_lane_f32::<2>(p.add(2), x);
            }
            _ => vst1q_f32(p, x),
        }
    }
}

/// Runs the instance of the `8 x (V·4)` tile with exactly `m` rows: a ragged
/// last tile, or a layer of one pixel (classifier, squeeze-excitation), does
/// not pay for 8 rows of FMAs and loads.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 8`, `NR = V·4`; the CPU has NEON.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn tile_8xn<const V: usize>(t: &TileArgs) {
    // SAFETY: forwarded contract (m <= MR for each instance).
    unsafe { for_each_panel(t, V * LANES, |panel| per_row_count!(panel, tile::<_, V>, [1, 2, 3, 4, 5, 6, 7], 8)) }
}

/// 8 x 8 NEON kernel: 16 q accumulators, 4-wide A loads with lane FMAs.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 8`, `NR = 8`; the CPU has NEON.
#[target_feature(enable = "neon")]
pub unsafe fn f32_pw_8x8__neon(t: &TileArgs) {
    // SAFETY: forwarded contract; the target feature is enabled on this function.
    unsafe { tile_8xn::<2>(t) }
}

/// 8 x 4 NEON kernel, the narrow companion for layers with at most 4 output
/// channels per group, where the 8x8 tile would spend half its FMAs on zero
/// columns: 8 accumulators, 8 A vectors and 1 panel vector (17 q registers).
/// Dispatch takes it when a group has at most 4 output channels.
///
/// # Safety
/// The [ABI contract](crate::abi) for `MR = 8`, `NR = 4`; the CPU has NEON.
#[target_feature(enable = "neon")]
pub unsafe fn f32_pw_8x4__neon(t: &TileArgs) {
    // SAFETY: forwarded contract; the target feature is enabled on this function.
    unsafe { tile_8xn::<1>(t) }
}
