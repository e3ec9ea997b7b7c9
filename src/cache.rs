//! This core's caches, as Linux reports them, read once: what the driver
//! sizes its blocks, tiles and walks by. Where the system does not say (Miri,
//! other systems), each figure falls back to a conservative default.

use std::sync::OnceLock;

/// This core's L2 size (512 KiB where the system does not say).
pub(crate) fn l2_bytes() -> usize {
    static BYTES: OnceLock<usize> = OnceLock::new();
    // Nonsense ignored: the blocks stay within 128 KiB..8 MiB.
    *BYTES.get_or_init(|| {
        cache_file(2, "size").and_then(|s| size_bytes(&s)).map_or(512 * 1024, |b| b.clamp(256 * 1024, 16 * 1024 * 1024))
    })
}

/// The ways of an L1 data cache set (8 where the system does not say): a
/// tile of more rows than this, whose rows lie a multiple of 4 KiB apart,
/// evicts its own rows (see `Call::rows_alias_in_l1` in the driver). Zen 3
/// and 4 have 8, recent Intel cores 12. Read rather than assumed: on an Intel
/// Xeon with AVX-512 (48 KiB, 12 ways), the 12x32 kernel's tiles cut to 8
/// rows ran resnet50.s5.reduce at 144-147 GFLOP/s and whole 12-row tiles at
/// 155-157 (one thread, timed in turn in one process, two runs).
pub(crate) fn l1d_ways() -> usize {
    static WAYS: OnceLock<usize> = OnceLock::new();
    // Nonsense ignored: a set has 2..32 ways.
    *WAYS.get_or_init(|| {
        cache_file(1, "ways_of_associativity").and_then(|s| s.parse::<usize>().ok()).map_or(8, |w| w.clamp(2, 32))
    })
}

/// The most bytes of weight panels that one walked kernel call spans (see
/// `panel_calls` in the driver).
///
/// A walk reads all of its call's panels again for every row tile, so they
/// must stay in a cache that feeds them as fast as the FMAs take them. An
/// AMD core's L3 does: there a walk spans up to a third of the L3 (32 MiB
/// where the system does not say, which gives 10.7 MiB), beside the
/// activations and output that stream through it and whatever other cores
/// keep there. Measured on Zen 4 (32 MiB L3, 1 MiB L2), 6x16 AVX2 kernel,
/// one thread, 14x14 pixels, walked against one panel per call, timed in
/// turn in one process: weights of 16 MiB (K = 2048, N = 2048; K = 1024,
/// N = 4096) ran at 33-38 GFLOP/s walked and 85-91 panel by panel; weights
/// of 9 MiB (K = 768, N = 3072 and the reverse) ran 11-31% faster walked
/// than panel by panel. A third of the L3 lies between the two. Cutting such
/// a walk into calls of fewer panels (2-8 MiB) instead lost 2-28% on the 9
/// MiB layers: every call after a block's first then reads the block's rows
/// again, after the panels streaming past have pushed them out of L2.
///
/// Elsewhere a walk spans half the L2 at most (the other half holds the
/// block's activations, see `block_bytes` in the driver). The L3 of an Intel
/// Xeon (a mesh shared by the socket's cores) did not keep up with a walk
/// from it: there (300 MiB L3, 2 MiB L2, AVX-512, one thread, timed in turn
/// in one process, two runs) walking resnet50.s5.reduce, s5.expand and
/// s5.downsample (4-8 MiB of weights) ran at 76-104 GFLOP/s and panel by
/// panel at 144-154; s4.downsample (2.1 MiB) 121 and 152-157.
pub(crate) fn walk_panel_budget_bytes() -> usize {
    static BYTES: OnceLock<usize> = OnceLock::new();
    *BYTES.get_or_init(|| {
        if cpu_vendor().as_deref() == Some("AuthenticAMD") {
            // Nonsense ignored: a walk spans 1..85 MiB of panels at most.
            let l3 = cache_file(3, "size").and_then(|s| size_bytes(&s));
            l3.map_or(32 * 1024 * 1024, |b| b.clamp(3 << 20, 256 << 20)) / 3
        } else {
            l2_bytes() / 2
        }
    })
}

/// A file of CPU 0's data or unified cache of `level` in sysfs (1: the L1
/// data cache; 2: the L2, private on x86-64 and on Arm cores with one of
/// their own; 3: the L3 that CPU 0 shares, where there is one), trimmed;
/// `None` where there is none.
fn cache_file(level: u32, file: &str) -> Option<String> {
    // Miri isolates the program from the file system.
    if cfg!(miri) {
        return None;
    }
    (0..16).find_map(|index| {
        let read = |file: &str| {
            let text = std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu0/cache/index{index}/{file}"));
            text.ok().map(|t| t.trim().to_string())
        };
        let level_here = read("level")?.parse::<u32>().ok()?;
        if level_here != level || read("type")? == "Instruction" {
            return None;
        }
        read(file)
    })
}

/// The CPU's vendor as `/proc/cpuinfo` names it (`AuthenticAMD`,
/// `GenuineIntel`); `None` where the system does not say.
fn cpu_vendor() -> Option<String> {
    if cfg!(miri) {
        return None;
    }
    vendor_in(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// The `vendor_id` field of a `/proc/cpuinfo` text.
fn vendor_in(cpuinfo: &str) -> Option<String> {
    let line = cpuinfo.lines().find(|l| l.starts_with("vendor_id"))?;
    Some(line.split_once(':')?.1.trim().to_string()).filter(|v| !v.is_empty())
}

/// A cache size as sysfs writes it (`1024K`, `32M`, or bytes).
fn size_bytes(text: &str) -> Option<usize> {
    let (digits, scale) = match text.strip_suffix('K') {
        Some(d) => (d, 1024),
        None => match text.strip_suffix('M') {
            Some(d) => (d, 1024 * 1024),
            None => (text, 1),
        },
    };
    let bytes = digits.parse::<usize>().ok()?.checked_mul(scale)?;
    (bytes > 0).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::{size_bytes, vendor_in};

    #[test]
    fn cache_sizes_as_sysfs_writes_them() {
        assert_eq!(size_bytes("1024K"), Some(1024 * 1024));
        assert_eq!(size_bytes("32M"), Some(32 * 1024 * 1024));
        assert_eq!(size_bytes("49152"), Some(49152));
        assert_eq!(size_bytes("0K"), None);
        assert_eq!(size_bytes("12G"), None);
        assert_eq!(size_bytes(""), None);
    }

    #[test]
    fn vendor_as_proc_cpuinfo_writes_it() {
        let amd = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n";
        assert_eq!(vendor_in(amd).as_deref(), Some("AuthenticAMD"));
        assert_eq!(vendor_in("vendor_id\t: GenuineIntel\n").as_deref(), Some("GenuineIntel"));
        // Arm's /proc/cpuinfo has no vendor_id line.
        assert_eq!(vendor_in("processor\t: 0\nCPU implementer\t: 0x41\n"), None);
        assert_eq!(vendor_in("vendor_id\t:\n"), None);
    }
}
