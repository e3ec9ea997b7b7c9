//! What CPUID says of the processor: its vendor and family, for the choices
//! that depend on more than the ISA (the L3's part in panel walks, in
//! `cache.rs`; the kernels tuned for some processors, in `dispatch.rs`).
//! Nothing off x86-64, and nothing under Miri, which cannot run CPUID.

/// CPUID leaf `leaf`'s EAX, EBX, ECX and EDX; `None` off x86-64 and under
/// Miri. Only leaves 0 and 1, which every x86-64 CPU has.
fn cpuid(leaf: u32) -> Option<[u32; 4]> {
    debug_assert!(leaf <= 1);
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // CPUID is safe to call from Rust 1.9x on and unsafe before (the
        // crate builds from 1.89): through an `unsafe fn` pointer the call
        // reads the same on both.
        let cpuid: unsafe fn(u32) -> core::arch::x86_64::CpuidResult = core::arch::x86_64::__cpuid;
        // SAFETY: every x86-64 CPU has the CPUID instruction, with leaves 0
        // and 1.
        let r = unsafe { cpuid(leaf) };
        Some([r.eax, r.ebx, r.ecx, r.edx])
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = leaf;
        None
    }
}

/// The CPU's vendor string from CPUID leaf 0 (`AuthenticAMD`,
/// `GenuineIntel`, `HygonGenuine`).
pub(crate) fn vendor() -> Option<String> {
    cpuid(0).map(|[_, ebx, ecx, edx]| vendor_from_registers(ebx, edx, ecx))
}

/// The CPU's family from CPUID leaf 1 (0x19 for AMD's Zen 3 and Zen 4).
pub(crate) fn family() -> Option<u32> {
    cpuid(1).map(|[eax, ..]| family_from_signature(eax))
}

/// The 12-character vendor string that CPUID leaf 0 spells in EBX, EDX,
/// ECX, in that order.
fn vendor_from_registers(ebx: u32, edx: u32, ecx: u32) -> String {
    let bytes: Vec<u8> = [ebx, edx, ecx].iter().flat_map(|r| r.to_le_bytes()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The family of a CPUID leaf 1 signature (EAX): the base family, plus the
/// extended family when the base is 0xF.
fn family_from_signature(eax: u32) -> u32 {
    let base = (eax >> 8) & 0xF;
    if base == 0xF {
        base + ((eax >> 20) & 0xFF)
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::{family_from_signature, vendor_from_registers};

    #[test]
    fn vendor_as_cpuid_spells_it() {
        // "Auth" "enti" "cAMD" and "Genu" "ineI" "ntel", little-endian.
        assert_eq!(vendor_from_registers(0x6874_7541, 0x6974_6e65, 0x444d_4163), "AuthenticAMD");
        assert_eq!(vendor_from_registers(0x756e_6547, 0x4965_6e69, 0x6c65_746e), "GenuineIntel");
    }

    /// Signatures of real processors (CPUID leaf 1 EAX).
    #[test]
    fn family_as_cpuid_spells_it() {
        assert_eq!(family_from_signature(0x00A6_0F12), 0x19); // Zen 4, Ryzen 7000
        assert_eq!(family_from_signature(0x00A1_0F11), 0x19); // Zen 4, EPYC 9004
        assert_eq!(family_from_signature(0x00A2_0F10), 0x19); // Zen 3, Ryzen 5000
        assert_eq!(family_from_signature(0x00B4_0F40), 0x1A); // Zen 5, Ryzen 9000
        assert_eq!(family_from_signature(0x0008_06C1), 6); // Intel Tiger Lake
        assert_eq!(family_from_signature(0x0008_06F8), 6); // Intel Sapphire Rapids
    }

    /// The register order and the family against Linux's own reading of CPUID.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn cpuid_is_read_as_linux_reads_it() {
        let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
            println!("cpu: NOT CHECKED against /proc/cpuinfo (not readable here)");
            return;
        };
        let field = |name: &str| {
            let line = cpuinfo.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("a {name} line"));
            line.split_once(':').expect("name: value").1.trim().to_string()
        };
        assert_eq!(super::vendor(), Some(field("vendor_id")));
        assert_eq!(super::family(), Some(field("cpu family").parse().expect("a decimal family")));
    }
}
