//! Calls do no heap allocation in the steady state: a counting global
//! allocator watches single-threaded calls and the task API, on NHWC and on
//! planar input with blocked output, two-thread calls on pointwise's own
//! workers made from a thread of no pool, and two-thread calls made from a
//! thread of a rayon pool.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pointwise::{
    Activation, Conv1x1, Layout, Residual, RunOptions, Tensor, TensorDesc, TensorMut, Threads, WeightOrder,
};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn calls_do_not_allocate() {
    let conv = Conv1x1::new(40, 24).with_groups(2).with_stride(2, 1).with_activation(Activation::Gelu);
    let packed = conv.pack(&vec![0.1; 24 * 20], WeightOrder::OutIn, Some(&[0.5; 24])).unwrap();
    for (input_layout, output_layout) in [(Layout::Nhwc, Layout::Nhwc), (Layout::Nchw, Layout::Nchwc(8))] {
        let in_desc = TensorDesc::new(input_layout, 2, 9, 11, 40);
        let out_desc = TensorDesc::new(output_layout, 2, 5, 11, 24);
        let input = vec![1.0; in_desc.len().unwrap()];
        let residual = vec![1.0; out_desc.len().unwrap()];
        let mut output = vec![0.0; out_desc.len().unwrap()];
        // The first call may size a per-thread scratch (planar input); from then
        // on, calls allocate nothing.
        let mut before = ALLOCATIONS.load(Ordering::SeqCst);
        for call in 0..4 {
            if call == 1 {
                before = ALLOCATIONS.load(Ordering::SeqCst);
            }
            packed
                .run_with(
                    Tensor::new(&input, in_desc),
                    TensorMut::new(&mut output, out_desc),
                    Residual::Tensor(Tensor::new(&residual, out_desc)),
                    &RunOptions::default(),
                )
                .unwrap();
            let plan = packed
                .plan(Tensor::new(&input, in_desc), TensorMut::new(&mut output, out_desc), Residual::None, 4)
                .unwrap();
            plan.run_all();
        }
        assert_eq!(ALLOCATIONS.load(Ordering::SeqCst) - before, 0, "a call allocated");
    }

    // Large enough to be cut into tasks for two threads.
    let conv = Conv1x1::new(64, 64);
    let packed = conv.pack(&vec![0.1; 64 * 64], WeightOrder::OutIn, None).unwrap();
    let desc = TensorDesc::nhwc(1, 32, 32, 64);
    let input = vec![1.0; desc.len().unwrap()];
    let mut output = vec![0.0; desc.len().unwrap()];

    // pointwise's own workers, from this thread (of no pool). The first call
    // starts the worker; later calls may find it spinning or asleep.
    let options = RunOptions { threads: Threads::Count(2), ..RunOptions::default() };
    let mut before = 0;
    for call in 0..40 {
        if call == 1 {
            before = ALLOCATIONS.load(Ordering::SeqCst);
        }
        if call % 10 == 9 {
            // Past the workers' spin: they have gone to sleep.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        packed
            .run_with(Tensor::new(&input, desc), TensorMut::new(&mut output, desc), Residual::None, &options)
            .unwrap();
    }
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst) - before, 0, "a two-thread call on pointwise's workers allocated");
    assert!((output[0] - 6.4).abs() < 1e-4);

    // A thread of a rayon pool, as an engine that runs on one pool does (from
    // outside any pool, rayon itself allocates a job record per helping
    // thread).
    output.fill(0.0);
    let options = RunOptions { threads: Threads::Rayon(2), ..RunOptions::default() };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // A thread's first steal registers it with crossbeam-epoch, which rayon's
    // deques use (two allocations, once per thread): make each worker steal
    // once before counting, or a worker that first helps in a counted call
    // shows up as an allocation.
    for spinner in 0..2 {
        pool.broadcast(|context| {
            if context.index() == spinner {
                let stolen = AtomicBool::new(false);
                // The other worker has to steal the second half.
                rayon::join(
                    || {
                        while !stolen.load(Ordering::Acquire) {
                            std::hint::spin_loop();
                        }
                    },
                    || stolen.store(true, Ordering::Release),
                );
            }
        });
    }
    let allocated = pool.install(|| {
        let mut before = 0;
        for call in 0..40 {
            if call == 10 {
                before = ALLOCATIONS.load(Ordering::SeqCst);
            }
            packed
                .run_with(Tensor::new(&input, desc), TensorMut::new(&mut output, desc), Residual::None, &options)
                .unwrap();
        }
        ALLOCATIONS.load(Ordering::SeqCst) - before
    });
    assert_eq!(allocated, 0, "a two-thread call from inside the pool allocated");
    assert!((output[0] - 6.4).abs() < 1e-4);
}
