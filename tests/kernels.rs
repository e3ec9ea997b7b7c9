//! One test per kernel of the tile table (its names from the kernels crate's
//! build script, through `with_tile_names!`), and a test that fails when an ISA
//! this CPU supports was compiled in but not tested.

mod common;

use pointwise::dispatch;
use pointwise::kernels::{Isa, KERNELS};

/// One test per kernel name, and `TABLE`, every kernel of the table.
macro_rules! kernel_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            #[allow(non_snake_case)]
            fn $name() {
                common::sweep::test_kernel_by_name(stringify!($name));
            }
        )*
        /// Every kernel of the table, compiled or not.
        const TABLE: &[&str] = &[$(stringify!($name)),*];
    };
}
pointwise::kernels::with_tile_names!(kernel_tests);

#[test]
fn every_compiled_kernel_has_a_generated_test() {
    for kernel in KERNELS {
        assert!(TABLE.contains(&kernel.name), "{} is registered but has no generated test", kernel.name);
    }
}

/// Every ISA that is compiled in and supported by this CPU has at least one
/// kernel in the table, so the generated tests exercise it. With
/// `POINTWISE_EXPECT_ISAS=avx2,avx512` (as CI sets it), the test also fails
/// when one of those ISAs is missing from this CPU or this build, so that a CI
/// machine that silently lost an ISA cannot pass.
#[test]
fn every_available_isa_is_tested() {
    for isa in dispatch::available_isas() {
        assert!(
            KERNELS.iter().any(|k| k.isa == isa),
            "{} is available but no kernel of the table uses it: it would go untested",
            isa.name()
        );
    }
    if let Ok(expected) = std::env::var("POINTWISE_EXPECT_ISAS") {
        for name in expected.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let isa = Isa::from_name(name).unwrap_or_else(|| panic!("POINTWISE_EXPECT_ISAS: unknown ISA {name:?}"));
            assert!(dispatch::is_compiled(isa), "{name} expected but not compiled in");
            assert!(dispatch::is_available(isa), "{name} expected but this CPU lacks it: its kernels were NOT tested");
        }
    }
}

/// The driver takes a general x86-64 kernel's strided entry point up to the
/// kernel's `strided_depth`; past `STRIDED_WALK_DEPTH`, that entry point only
/// hands the call to the indirect one, which the driver can call itself (and
/// did, faster, on the deeper layers). The two numbers live apart (the tile
/// table and the walk); this keeps them in step. (The dot kernels, of two
/// columns, take `any`: their entry point walks or hands over by itself.)
#[cfg(all(target_arch = "x86_64", any(feature = "avx2", feature = "avx512")))]
#[test]
fn strided_depth_is_where_the_strided_walk_goes() {
    for kernel in KERNELS.iter().filter(|k| matches!(k.isa, Isa::Avx2 | Isa::Avx512) && k.nr > 2) {
        assert!(kernel.run_strided.is_some(), "{} has no strided entry point", kernel.name);
        assert!(
            kernel.strided_depth <= pointwise::kernels::x86_64::STRIDED_WALK_DEPTH,
            "{}: strided_depth {} is past the strided walk's depth {}",
            kernel.name,
            kernel.strided_depth,
            pointwise::kernels::x86_64::STRIDED_WALK_DEPTH
        );
    }
}

/// `row_range` cuts a call's `b_next` into its row tiles' shares: together
/// they cover the call's `b_next_len` floats exactly once, in order, each
/// starting a whole number of lines (16 floats) from `b_next`, and a share
/// of a share (the driver's calls of a block, then a kernel's tiles of a
/// call) does the same.
#[test]
fn next_weights_shares_cover_b_next_once() {
    use pointwise::kernels::abi::{row_range, row_tiles};
    use pointwise::kernels::{Strides, TileArgs};
    let base: *const f32 = core::ptr::dangling();
    let call = |m: usize, b_next_len: usize| TileArgs {
        m,
        n: 1,
        k: 1,
        a_rows: core::ptr::null(),
        a_k: Strides::CONTIGUOUS,
        b_panel: core::ptr::null(),
        b_panel_stride: 0,
        bias: core::ptr::null(),
        c_rows: core::ptr::null(),
        c_cols: Strides::CONTIGUOUS,
        r_rows: core::ptr::null(),
        r_cols: Strides::CONTIGUOUS,
        clamp_min: f32::NEG_INFINITY,
        clamp_max: f32::INFINITY,
        accumulate: 0,
        a_cold: 0,
        b_next: base,
        b_next_len,
    };
    // Checks that the shares of `t`'s row tiles of `mr` rows tile `at..at +
    // t.b_next_len` (floats from `base`), and returns them.
    fn shares(t: &TileArgs, mr: usize, base: *const f32) -> Vec<TileArgs> {
        let start = (t.b_next as usize - base as usize) / 4;
        let mut next = start;
        let tiles: Vec<TileArgs> = row_tiles(t.m, mr).map(|(first, count)| row_range(t, first, count)).collect();
        for tile in &tiles {
            let at = (tile.b_next as usize - base as usize) / 4;
            if tile.b_next_len > 0 {
                assert_eq!(at, next, "m {} mr {mr}: a gap or an overlap", t.m);
                assert!((at - start).is_multiple_of(16), "m {} mr {mr}: a share off a line", t.m);
            }
            next = at + tile.b_next_len;
        }
        assert_eq!(next, start + t.b_next_len, "m {} mr {mr}: the shares end short or past", t.m);
        tiles
    }
    for m in 1..100 {
        for len in [0, 1, 15, 16, 17, 160, 1000, 4096, 65536 + 5] {
            for mr in [6, 8, 12, 16] {
                for part in shares(&call(m, len), mr, base) {
                    shares(&part, 12, base);
                }
            }
        }
    }
    // No rows, no share.
    assert_eq!(row_range(&call(0, 64), 0, 0).b_next_len, 0);
}
