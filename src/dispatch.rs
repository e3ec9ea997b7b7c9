//! Runtime choice of the instruction set and kernel.
//!
//! Detection goes through pulp's tokens (`V3` = AVX2+FMA, `V4` = AVX-512,
//! `Neon`), whose answers pulp caches. The default ISA is chosen once per
//! process: `POINTWISE_ISA` when set, otherwise the best the CPU supports.
//! [`Conv1x1::pack_for`](crate::Conv1x1::pack_for) forces one from the API.

use std::sync::OnceLock;

use pointwise_kernels::{Kernel, Tuning, KERNELS};

use crate::error::{Error, Result};
use crate::Isa;

/// True when `isa`'s backend is compiled into this build.
pub fn is_compiled(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        Isa::Avx2 => cfg!(pw_avx2),
        Isa::Avx512 => cfg!(pw_avx512),
        Isa::Neon => cfg!(pw_neon),
    }
}

/// True when `isa` is compiled in and this CPU supports it.
pub fn is_available(isa: Isa) -> bool {
    is_compiled(isa) && cpu_supports(isa)
}

/// The compiled ISAs this CPU supports, worst first.
pub fn available_isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|&isa| is_available(isa)).collect()
}

fn cpu_supports(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => pulp::x86::V3::is_available(),
        #[cfg(all(target_arch = "x86_64", pw_avx512))]
        Isa::Avx512 => pulp::x86::V4::is_available(),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => pulp::aarch64::Neon::is_available(),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// The best ISA this CPU supports among those compiled in, ignoring
/// `POINTWISE_ISA`.
pub fn detected_isa() -> Isa {
    available_isas().into_iter().max_by_key(|&isa| preference(isa)).unwrap_or(Isa::Scalar)
}

fn preference(isa: Isa) -> u8 {
    match isa {
        Isa::Scalar => 0,
        Isa::Avx2 | Isa::Neon => 1,
        Isa::Avx512 => 2,
    }
}

/// The ISA used when none is forced through the API: `POINTWISE_ISA` if set,
/// else [`detected_isa`]. Read once per process.
///
/// # Errors
/// `POINTWISE_ISA` names an unknown ISA, or one that is not compiled in or
/// not supported by this CPU.
pub fn default_isa() -> Result<Isa> {
    static DEFAULT: OnceLock<Result<Isa>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| match std::env::var("POINTWISE_ISA") {
            Ok(name) if !name.is_empty() => check(parse_isa(&name)?),
            _ => Ok(detected_isa()),
        })
        .clone()
}

/// Parses an ISA name (`scalar`, `avx2`, `avx512`, `neon`).
///
/// # Errors
/// [`Error::UnknownIsa`] for any other name.
pub fn parse_isa(name: &str) -> Result<Isa> {
    Isa::from_name(name.trim()).ok_or_else(|| Error::UnknownIsa { name: name.to_string() })
}

/// Checks that `isa` can run here.
///
/// # Errors
/// [`Error::IsaNotCompiled`] or [`Error::IsaUnavailable`].
pub fn check(isa: Isa) -> Result<Isa> {
    if !is_compiled(isa) {
        Err(Error::IsaNotCompiled { isa })
    } else if !cpu_supports(isa) {
        Err(Error::IsaUnavailable { isa })
    } else {
        Ok(isa)
    }
}

/// Every compiled kernel of `isa`, in table order.
pub fn kernels_for(isa: Isa) -> impl Iterator<Item = &'static Kernel> {
    KERNELS.iter().filter(move |k| k.isa == isa)
}

/// The processors whose tuned kernels dispatch takes ([`Tuning`]):
/// `POINTWISE_TUNING` (`generic`, or `zen4`: the Zen 4 kernels on any CPU
/// with their ISA) if set, else [`detected_tuning`]. Read once per process.
///
/// # Errors
/// [`Error::UnknownTuning`] when `POINTWISE_TUNING` names none.
pub fn default_tuning() -> Result<Tuning> {
    static DEFAULT: OnceLock<Result<Tuning>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| match std::env::var("POINTWISE_TUNING") {
            Ok(name) if !name.trim().is_empty() => {
                Tuning::from_name(name.trim()).ok_or(Error::UnknownTuning { name: name.clone() })
            }
            _ => Ok(detected_tuning()),
        })
        .clone()
}

/// The processors this one is, as CPUID tells ([`Tuning`]); generic off
/// x86-64 and under Miri. Read once per process.
pub fn detected_tuning() -> Tuning {
    static TUNING: OnceLock<Tuning> = OnceLock::new();
    *TUNING.get_or_init(|| tuning_of(crate::cpu::vendor().as_deref(), crate::cpu::family(), cpu_supports(Isa::Avx512)))
}

/// The tuning of a CPU of `vendor` and `family`: Zen 4 is AMD's family 19h
/// with AVX-512 (the family's other cores, Zen 3, have none).
fn tuning_of(vendor: Option<&str>, family: Option<u32>, has_avx512: bool) -> Tuning {
    if vendor == Some("AuthenticAMD") && family == Some(0x19) && has_avx512 {
        Tuning::Zen4
    } else {
        Tuning::Generic
    }
}

/// The kernel for a GEMM of `n` output channels per group on `isa`, which
/// [`check`] has accepted, on this processor ([`default_tuning`]).
///
/// # Errors
/// [`Error::IsaNotCompiled`], or a bad `POINTWISE_TUNING`.
pub(crate) fn select_kernel(isa: Isa, n: usize) -> Result<&'static Kernel> {
    select_kernel_for(isa, n, default_tuning()?)
}

/// [`select_kernel`] on processors of `tuning`. The first generic kernel of
/// the ISA in the tile table is its general one; a narrower companion is
/// taken only when all `n` channels fit in one of its panels (then the
/// general tile would mostly multiply zero columns, while for wider layers
/// its larger register tile wins). A kernel tuned for `tuning`, of the
/// chosen one's shape, then takes its place.
fn select_kernel_for(isa: Isa, n: usize, tuning: Tuning) -> Result<&'static Kernel> {
    let generic = || kernels_for(isa).filter(|k| k.tuning == Tuning::Generic);
    let general = generic().next().ok_or(Error::IsaNotCompiled { isa })?;
    let narrow = generic().filter(|k| k.nr < general.nr && n <= k.nr).min_by_key(|k| k.nr);
    let chosen = narrow.unwrap_or(general);
    let tuned = kernels_for(isa).find(|k| k.tuning == tuning && k.generic() == chosen);
    Ok(tuned.unwrap_or(chosen))
}

#[cfg(test)]
mod tests {
    use super::{kernels_for, select_kernel, select_kernel_for};
    use crate::Isa;
    use pointwise_kernels::Tuning;

    /// The general kernel for every layer wider than a companion's panel,
    /// shallow ones included (on an Intel Xeon the 12x32 AVX-512 kernel ran
    /// the layers of K <= 64 22-75% faster than the 12x16 one), and the
    /// narrowest companion whose panel holds all the channels otherwise.
    #[test]
    fn companions_only_where_the_channels_fit_in_their_panel() {
        let expected: [(Isa, &[(usize, &str)]); 2] = [
            (Isa::Avx2, &[(1, "f32_pw_6x2__avx2_fma"), (2, "f32_pw_6x2__avx2_fma"), (3, "f32_pw_8x8__avx2_fma")]),
            (Isa::Avx512, &[(2, "f32_pw_8x2__avx512f"), (9, "f32_pw_12x16__avx512f"), (16, "f32_pw_12x16__avx512f")]),
        ];
        let mut checked = 0;
        for (isa, narrow) in expected {
            let Some(general) = kernels_for(isa).next() else { continue };
            let pick = |n: usize| select_kernel_for(isa, n, Tuning::Generic).unwrap().name;
            for &(n, name) in narrow {
                assert_eq!(pick(n), name, "{} n = {n}", isa.name());
            }
            for n in [general.nr, general.nr + 1, 3 * general.nr / 2, 48, 4 * general.nr + 8] {
                assert_eq!(pick(n), general.name, "{} n = {n}", isa.name());
            }
            checked += 1;
        }
        // The x86-64 ISAs are compiled in on x86-64 (default features).
        if cfg!(all(target_arch = "x86_64", feature = "avx2", feature = "avx512")) {
            assert_eq!(checked, 2);
        }
    }

    /// On Zen 4 the 12x32 AVX-512 kernel tuned for it stands in for the
    /// generic one, on every layer the generic one would take; the narrow
    /// companions, which have no tuned kernel, stay; AVX2 has none.
    #[test]
    fn a_tuned_kernel_stands_in_for_the_generic_one_of_its_shape() {
        if kernels_for(Isa::Avx512).next().is_none() {
            return;
        }
        let zen4 = |isa, n| select_kernel_for(isa, n, Tuning::Zen4).unwrap().name;
        for n in [17, 32, 33, 96, 1000] {
            assert_eq!(zen4(Isa::Avx512, n), "f32_pw_12x32__avx512f_zen4", "n = {n}");
            assert_eq!(select_kernel_for(Isa::Avx512, n, Tuning::Generic).unwrap().name, "f32_pw_12x32__avx512f");
        }
        assert_eq!(zen4(Isa::Avx512, 2), "f32_pw_8x2__avx512f");
        assert_eq!(zen4(Isa::Avx512, 16), "f32_pw_12x16__avx512f");
        if kernels_for(Isa::Avx2).next().is_some() {
            assert_eq!(zen4(Isa::Avx2, 96), "f32_pw_6x16__avx2_fma");
        }
        // select_kernel follows the tuning in force.
        let tuning = super::default_tuning().unwrap();
        assert_eq!(select_kernel(Isa::Avx512, 96).unwrap().tuning, tuning);
    }

    /// `POINTWISE_TUNING`'s names, and what an unknown one says.
    #[test]
    fn tuning_names() {
        for tuning in Tuning::ALL {
            assert_eq!(Tuning::from_name(tuning.name()), Some(tuning));
        }
        assert_eq!(Tuning::from_name("zen5"), None);
        let err = crate::Error::UnknownTuning { name: "zen5".into() };
        assert_eq!(err.to_string(), "unknown POINTWISE_TUNING \"zen5\"; expected generic or zen4");
    }

    /// Zen 4 only: AMD's family 19h with AVX-512, not its Zen 3 cores
    /// (no AVX-512), not Zen 5 (family 1Ah), not Intel.
    #[test]
    fn zen4_is_amd_family_19h_with_avx512() {
        use super::tuning_of;
        let amd = Some("AuthenticAMD");
        assert_eq!(tuning_of(amd, Some(0x19), true), Tuning::Zen4);
        assert_eq!(tuning_of(amd, Some(0x19), false), Tuning::Generic);
        assert_eq!(tuning_of(amd, Some(0x1A), true), Tuning::Generic);
        assert_eq!(tuning_of(Some("GenuineIntel"), Some(6), true), Tuning::Generic);
        assert_eq!(tuning_of(None, None, false), Tuning::Generic);
    }
}
