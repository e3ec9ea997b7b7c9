//! This core's caches, as Linux reports them, and the CPU's vendor (CPUID),
//! read once: what the driver sizes its blocks, tiles and walks by. Where
//! the system does not say (Miri, other systems), each figure falls back to
//! a conservative default.

use std::sync::OnceLock;

/// This core's L2 size (512 KiB where the system does not say).
pub(crate) fn l2_bytes() -> usize {
    static BYTES: OnceLock<usize> = OnceLock::new();
    // Nonsense ignored: the blocks stay within 128 KiB..8 MiB.
    *BYTES.get_or_init(|| {
        cache_file(2, "size").and_then(|s| size_bytes(&s)).map_or(512 * 1024, |b| b.clamp(256 * 1024, 16 * 1024 * 1024))
    })
}

/// The L1 data cache's sets, as far as a tile's rows care: its ways, and
/// the bytes that one way spans (its size over its ways: two addresses that
/// many bytes apart fall in the same set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct L1d {
    pub ways: usize,
    pub way_bytes: usize,
}

impl L1d {
    /// What is assumed where the system does not say: 8 ways of 4 KiB (Zen
    /// 3 and 4; recent Intel cores have 12, Arm cores of 64 KiB 4 of 16 KiB).
    const DEFAULT: L1d = L1d { ways: 8, way_bytes: 4096 };

    /// True when a tile of `rows` rows `row_step_bytes` apart evicts its own
    /// rows: the same element of every row falls in one set, and there are
    /// more rows than the set has ways (see `Call::rows_alias_in_l1` in the
    /// driver). Read rather than assumed: on an Intel Xeon with AVX-512 (48
    /// KiB, 12 ways), the 12x32 kernel's tiles cut to 8 rows ran
    /// resnet50.s5.reduce at 144-147 GFLOP/s and whole 12-row tiles at
    /// 155-157 (one thread, timed in turn in one process, two runs).
    pub fn rows_alias(&self, rows: usize, row_step_bytes: usize) -> bool {
        rows > self.ways && row_step_bytes.is_multiple_of(self.way_bytes)
    }

    /// The geometry from sysfs's `size` and `ways_of_associativity` texts
    /// of the L1 data cache; the default where either is missing or makes
    /// no sense (ways outside 2..=32, or a way that is not a whole number of
    /// 64-byte lines, a power of two).
    fn from_sysfs(size: Option<&str>, ways: Option<&str>) -> L1d {
        let parsed = size.and_then(size_bytes).zip(ways.and_then(|w| w.parse::<usize>().ok()));
        match parsed {
            Some((size, ways)) if (2..=32).contains(&ways) && size.is_multiple_of(ways) => {
                let way_bytes = size / ways;
                if way_bytes >= 64 && way_bytes.is_power_of_two() {
                    L1d { ways, way_bytes }
                } else {
                    L1d::DEFAULT
                }
            }
            _ => L1d::DEFAULT,
        }
    }
}

/// This core's L1 data cache, read once.
pub(crate) fn l1d() -> L1d {
    static L1: OnceLock<L1d> = OnceLock::new();
    *L1.get_or_init(|| {
        L1d::from_sysfs(cache_file(1, "size").as_deref(), cache_file(1, "ways_of_associativity").as_deref())
    })
}

/// The most bytes of weight panels that one walked kernel call spans (see
/// `panel_calls` in the driver).
///
/// A walk reads all of its call's panels again for every row tile, so they
/// must stay in a cache that feeds them as fast as the FMAs take them. An
/// AMD core's L3 does (Hygon's cores, AMD's Zen, are taken to do too):
/// there a walk spans up to a third of the L3 (32 MiB where the system does
/// not say, which gives 10.7 MiB), beside the activations and output that
/// stream through it and whatever other cores keep there. Measured on Zen 4
/// (32 MiB L3, 1 MiB L2), 6x16 AVX2 kernel, one thread, 14x14 pixels, walked
/// against one panel per call, timed in turn in one process: weights of 16 MiB (K = 2048, N = 2048; K = 1024,
/// N = 4096) ran at 33-38 GFLOP/s walked and 85-91 panel by panel; weights
/// of 9 MiB (K = 768, N = 3072 and the reverse) ran 11-31% faster walked
/// than panel by panel. A third of the L3 lies between the two. Cutting such
/// a walk into calls of fewer panels (2-8 MiB) instead lost 2-28% on the 9
/// MiB layers: every call after a block's first then reads the block's rows
/// again, after the panels streaming past have pushed them out of L2.
///
/// Elsewhere a walk spans half the L2 at most (the other half holds the
/// block's activations, see `block_bytes` in the driver); weights past that
/// but within the L2 are walked in calls of that many panels
/// (`panel_calls`). The L3 of an Intel
/// Xeon (a mesh shared by the socket's cores) did not keep up with a walk
/// from it: there (300 MiB L3, 2 MiB L2, AVX-512, one thread, timed in turn
/// in one process, two runs) walking resnet50.s5.reduce, s5.expand and
/// s5.downsample (4-8 MiB of weights) ran at 76-104 GFLOP/s and panel by
/// panel at 144-154; s4.downsample (2.1 MiB) 121 and 152-157.
pub(crate) fn walk_panel_budget_bytes() -> usize {
    static BYTES: OnceLock<usize> = OnceLock::new();
    *BYTES.get_or_init(|| {
        if l3_feeds_walks(crate::cpu::vendor().as_deref()) {
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

/// True for the vendors whose cores' L3 feeds a walk (see
/// `walk_panel_budget_bytes`): AMD, and Hygon's cores, which are AMD's Zen.
fn l3_feeds_walks(vendor: Option<&str>) -> bool {
    matches!(vendor, Some("AuthenticAMD" | "HygonGenuine"))
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
    use super::{l3_feeds_walks, size_bytes, L1d};

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
    fn the_l3_feeds_walks_on_amd_cores() {
        assert!(l3_feeds_walks(Some("AuthenticAMD")) && l3_feeds_walks(Some("HygonGenuine")));
        assert!(!l3_feeds_walks(Some("GenuineIntel")) && !l3_feeds_walks(None));
    }

    #[test]
    fn l1d_geometry_as_sysfs_writes_it() {
        let l1 = |size, ways| L1d::from_sysfs(Some(size), Some(ways));
        assert_eq!(l1("32K", "8"), L1d { ways: 8, way_bytes: 4096 });
        assert_eq!(l1("48K", "12"), L1d { ways: 12, way_bytes: 4096 });
        assert_eq!(l1("64K", "4"), L1d { ways: 4, way_bytes: 16384 });
        // Missing or nonsense: 8 ways of 4 KiB.
        for (size, ways) in [("32K", "x"), ("32K", "0"), ("32K", "64"), ("48K", "7"), ("", "8")] {
            assert_eq!(l1(size, ways), L1d::DEFAULT, "{size} {ways}");
        }
        assert_eq!(L1d::from_sysfs(None, Some("8")), L1d::DEFAULT);
    }

    #[test]
    fn tiles_alias_when_their_rows_outnumber_a_sets_ways() {
        let zen = L1d { ways: 8, way_bytes: 4096 };
        let intel = L1d { ways: 12, way_bytes: 4096 };
        let arm = L1d { ways: 4, way_bytes: 16384 };
        // 12 rows 4 or 8 KiB apart: past 8 ways, not past 12.
        assert!(zen.rows_alias(12, 4096) && zen.rows_alias(12, 8192));
        assert!(!intel.rows_alias(12, 4096) && !intel.rows_alias(12, 8192));
        // Rows not a way apart spread over the sets.
        assert!(!zen.rows_alias(12, 4096 + 64) && !zen.rows_alias(12, 2048));
        // 8 rows: past 4 ways of 16 KiB only when 16 KiB apart.
        assert!(!arm.rows_alias(8, 4096) && arm.rows_alias(8, 16384) && !zen.rows_alias(8, 4096));
    }
}
