//! What transparent huge pages do for a layer's activations: each layer of
//! `LAYERS` (default: unet.head, whose 16 MiB input streams from beyond the
//! L3's share of this core, and resnet50.s3.reduce.batch8) timed with its
//! input and output on 4 KiB pages and on 2 MiB pages
//! (`madvise(MADV_HUGEPAGE)` before the first touch, as an engine's
//! activation arena could do), in turn in one process, one thread; then a
//! plain read of buffers of 1 to 64 MiB both ways.
//!
//! The packed weights are the library's and stay as they are: a read of up to
//! 5 MiB (the largest packed layer of the suite) ran as fast on either kind of
//! page here.
//!
//! Linux only (it prints why elsewhere, and when the kernel refuses
//! `MADV_HUGEPAGE`). `cargo run --release --example huge_pages`

use std::time::Duration;

use pointwise::measure::{fill, time_medians_interleaved};
use pointwise::{suite, Tensor, TensorMut, WeightOrder};

#[cfg(target_os = "linux")]
fn main() {
    let names = std::env::var("LAYERS").unwrap_or("unet.head,resnet50.s3.reduce.batch8".into());
    let layers = suite::parse(suite::PUBLIC_SUITE).unwrap();
    println!("layer: 4 KiB pages GFLOP/s | 2 MiB pages GFLOP/s (change)");
    for layer in layers.iter().filter(|l| names.split(',').any(|n| n == l.name)) {
        let conv = layer.conv;
        let packed = conv.pack(&fill(conv.out_channels * conv.in_channels / conv.groups, 1), WeightOrder::OutIn, None);
        let packed = packed.unwrap();
        let (in_desc, out_desc) = (layer.input_desc(), layer.output_desc());
        let values = fill(in_desc.len().unwrap(), 3);
        let Some(mut buffers) = [false, true]
            .into_iter()
            .map(|huge| {
                let mut input = PageBuffer::new(values.len(), huge)?;
                input.as_mut_slice().copy_from_slice(&values);
                Some((input, PageBuffer::new(out_desc.len().unwrap(), huge)?))
            })
            .collect::<Option<Vec<_>>>()
        else {
            println!("NOT RUN: the kernel refused MADV_HUGEPAGE (transparent huge pages disabled?)");
            return;
        };
        let times = time_medians_interleaved(Duration::from_millis(3000), 2, |variant| {
            let (input, output) = &mut buffers[variant];
            packed
                .run(Tensor::new(input.as_mut_slice(), in_desc), TensorMut::new(output.as_mut_slice(), out_desc))
                .unwrap();
        });
        let gflops = |t: Duration| layer.flops() / t.as_secs_f64() / 1e9;
        println!(
            "{}: {:.1} | {:.1} ({:+.1}%)",
            layer.name,
            gflops(times[0]),
            gflops(times[1]),
            100.0 * (times[0].as_secs_f64() / times[1].as_secs_f64() - 1.0)
        );
    }
    println!("plain read: 4 KiB pages GB/s | 2 MiB pages GB/s");
    for mib in [1usize, 5, 16, 64] {
        let len = mib << 18;
        let mut buffers: Vec<PageBuffer> =
            [false, true].into_iter().filter_map(|huge| PageBuffer::new(len, huge)).collect();
        if buffers.len() < 2 {
            return;
        }
        for b in &mut buffers {
            b.as_mut_slice().iter_mut().enumerate().for_each(|(i, x)| *x = (i % 7) as f32);
        }
        let times = time_medians_interleaved(Duration::from_millis(2000), 2, |variant| {
            std::hint::black_box(pointwise::peak::read_sum(buffers[variant].as_mut_slice()));
        });
        let gbs = |t: Duration| (len * 4) as f64 / t.as_secs_f64() / 1e9;
        println!("{mib} MiB: {:.1} | {:.1}", gbs(times[0]), gbs(times[1]));
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("NOT RUN: transparent huge pages are Linux's (madvise(MADV_HUGEPAGE))");
}

/// `len` zeroed floats in their own 2 MiB-aligned allocation.
#[cfg(target_os = "linux")]
struct PageBuffer {
    data: *mut f32,
    len: usize,
    layout: std::alloc::Layout,
}

#[cfg(target_os = "linux")]
impl PageBuffer {
    const HUGE_PAGE: usize = 1 << 21;

    /// With `huge`, on transparent huge pages (`None` when the kernel refuses).
    fn new(len: usize, huge: bool) -> Option<Self> {
        const MADV_HUGEPAGE: i32 = 14;
        extern "C" {
            fn madvise(addr: *mut core::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        let bytes = (len.max(1) * 4).next_multiple_of(Self::HUGE_PAGE);
        let layout = std::alloc::Layout::from_size_align(bytes, Self::HUGE_PAGE).ok()?;
        // SAFETY: the layout's size is not zero.
        let data = unsafe { std::alloc::alloc(layout) };
        assert!(!data.is_null(), "out of memory");
        // SAFETY: `data` starts `bytes` bytes of our own, page-aligned
        // allocation, not yet touched (so the advice applies to its first
        // faults); madvise changes no contents.
        if huge && unsafe { madvise(data.cast(), bytes, MADV_HUGEPAGE) } != 0 {
            // SAFETY: allocated above with this layout.
            unsafe { std::alloc::dealloc(data, layout) };
            return None;
        }
        // SAFETY: `bytes` writable bytes at `data`.
        unsafe { std::ptr::write_bytes(data, 0, bytes) };
        Some(PageBuffer { data: data.cast(), len, layout })
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: `len` initialised floats at `data`, borrowed through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }
}

#[cfg(target_os = "linux")]
impl Drop for PageBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.data.cast(), self.layout) };
    }
}
