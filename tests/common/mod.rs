//! Test code shared by the libtest targets and the `harness = false` ISA
//! oracle (which runs under QEMU and the AVX-512 emulator, where libtest's
//! threads are unwelcome).
#![allow(dead_code)]

pub mod convs;
pub mod sweep;
