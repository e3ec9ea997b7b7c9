//! Build script of `pointwise`: emits one cfg per ISA backend that this
//! target and feature set compile (`pw_avx2`, `pw_avx512`, `pw_neon`), so the
//! code says `#[cfg(pw_avx512)]` instead of repeating `all(target_arch = ...,
//! feature = ...)`.
//!
//! The tile table's one test per kernel comes from the kernels crate's build
//! script (`pointwise_kernels::with_tile_names!`, which `tests/kernels.rs`
//! calls): that crate owns `tiles.csv`, a file outside this package.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");

    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let feature = |name: &str| env::var(format!("CARGO_FEATURE_{}", name.to_uppercase())).is_ok();
    for (cfg, target_arch, cargo_feature) in
        [("pw_avx2", "x86_64", "avx2"), ("pw_avx512", "x86_64", "avx512"), ("pw_neon", "aarch64", "neon")]
    {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if arch == target_arch && feature(cargo_feature) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
