//! pointwise's own worker threads, for [`crate::Threads::Count`].
//!
//! Why not rayon alone: a call made from outside any rayon pool has to enter
//! the pool through rayon's public API, and every such entry allocates
//! (`spawn` boxes a job, `broadcast` collects a `Vec`, and the queue behind
//! `install` and `join` takes a new block every 63 jobs). These workers take
//! a call from any thread with no allocation at all once they are started,
//! as XNNPACK's pthreadpool and MLAS's thread pool do.
//!
//! The workers start on first use and live as long as the process. One call
//! at a time has them: [`run`] from a second thread while they are busy runs
//! that call on its own thread.
//!
//! A call publishes a type-erased `&F` and opens an entry counter. Workers
//! that see it join through the counter, each with its own participant index.
//! The caller runs participant 0, closes the entry, and waits only for the
//! workers that joined: a worker that wakes late finds the entry closed and
//! never touches the call.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long an idle worker spins for the next call before it sleeps. Layers
/// come back to back in an inference, and waking a sleeping thread took from
/// 15 µs to over 900 µs on this project's virtual machine.
const SPIN: Duration = Duration::from_micros(200);

/// The entry counter's value while no call is open.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// Participant `p` of a call: `run(data, p)`.
#[derive(Clone, Copy)]
struct Job {
    data: *const (),
    run: unsafe fn(*const (), usize),
    participants: usize,
}

struct Pool {
    /// Bumped for every call, so that idle workers see there is one.
    generation: AtomicUsize,
    /// The number of workers that joined the open call, or `CLOSED` plus the
    /// number that came after it closed (who then leave it alone).
    entry: AtomicUsize,
    /// Joined workers that are done with the call.
    left: AtomicUsize,
    /// Written only by the owner, while the entry is closed and every worker
    /// that joined has left; read only by a worker that joined.
    job: UnsafeCell<Job>,
    /// Held by the caller whose call the workers run.
    owned: AtomicBool,
    /// Started workers; touched only by the owner.
    workers: UnsafeCell<Vec<Thread>>,
    /// Workers that have reached their loop: past the allocations of a
    /// thread's start, made on the new thread itself.
    running: AtomicUsize,
}

// SAFETY: `job` and `workers` are only accessed under the protocol described
// on their fields (the `owned` flag, and the entry counter with acquire and
// release ordering); every other field is atomic.
unsafe impl Sync for Pool {}

unsafe fn never_run(_: *const (), _: usize) {}

static POOL: Pool = Pool {
    generation: AtomicUsize::new(0),
    entry: AtomicUsize::new(CLOSED),
    left: AtomicUsize::new(0),
    job: UnsafeCell::new(Job { data: std::ptr::null(), run: never_run, participants: 0 }),
    owned: AtomicBool::new(false),
    workers: UnsafeCell::new(Vec::new()),
    running: AtomicUsize::new(0),
};

/// Runs `participant(p)` for `p` in `0..participants`: `p = 0` on the calling
/// thread, every other `p` on a worker, if one joins before `participant(0)`
/// returns. `participant(0)` must therefore finish the whole job alone when
/// no worker comes (as [`crate::Plan`]'s claims do). Returns once every
/// participant that started has returned.
///
/// The first call that needs more workers than are running starts them (the
/// only allocation) and returns once they have started; a worker that cannot
/// be started leaves its share to the others.
pub(crate) fn run<F: Fn(usize) + Sync>(participants: usize, participant: &F) {
    if participants <= 1 || POOL.owned.swap(true, Ordering::Acquire) {
        return participant(0);
    }
    // Released (and the workers waited for) even if `participant` panics.
    let _owner = Owner;
    // SAFETY: `owned` was false and this call set it, so this thread is the
    // only one to touch `workers` until `Owner` drops.
    let workers = unsafe { &mut *POOL.workers.get() };
    while workers.len() < participants - 1 {
        let started =
            std::thread::Builder::new().name(format!("pointwise-{}", workers.len() + 1)).spawn(|| work(&POOL));
        match started {
            Ok(handle) => workers.push(handle.thread().clone()),
            Err(_) => break,
        }
    }
    // A new thread allocates as it starts (its name, its handle, its
    // thread-locals), on itself and later than `spawn` returns. Waiting for
    // that here keeps every allocation in the call that starts the workers:
    // the no-allocation test saw 4 allocations in a later call, once in 30
    // runs, when a worker started late.
    while POOL.running.load(Ordering::Acquire) < workers.len() {
        std::thread::yield_now();
    }
    let job = Job {
        data: (participant as *const F).cast(),
        run: run_participant::<F>,
        participants: participants.min(workers.len() + 1),
    };
    // SAFETY: the entry is closed and every worker that joined the last call
    // has left it (`Owner::drop` waited), so no thread reads `job` now.
    unsafe { *POOL.job.get() = job };
    POOL.left.store(0, Ordering::Relaxed);
    // Publishes the job and the reset `left` to the workers that join.
    POOL.entry.store(0, Ordering::Release);
    POOL.generation.fetch_add(1, Ordering::Release);
    for worker in &workers[..job.participants - 1] {
        worker.unpark();
    }
    participant(0);
}

/// `run` for one closure type: `data` is a `&F`.
///
/// # Safety
/// `data` must point to an `F` that lives until this returns.
unsafe fn run_participant<F: Fn(usize) + Sync>(data: *const (), p: usize) {
    // SAFETY: the caller's contract; `F: Sync`, so a shared reference may be
    // used from this thread.
    let participant = unsafe { &*data.cast::<F>() };
    participant(p);
}

/// Closes the entry of the owner's call, waits for the workers that joined,
/// and gives up ownership.
struct Owner;

impl Drop for Owner {
    fn drop(&mut self) {
        let entry = POOL.entry.swap(CLOSED, Ordering::AcqRel);
        // Still closed if the call never opened (a panic before it did).
        let joined = if entry & CLOSED == 0 { entry } else { 0 };
        let start = Instant::now();
        // Joined workers are running, so this wait is short, unless the
        // system takes one off its core.
        while POOL.left.load(Ordering::Acquire) < joined {
            if start.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        POOL.owned.store(false, Ordering::Release);
    }
}

/// A worker's life: wait for a call, join it if it is still open, run its
/// participant, leave.
fn work(pool: &'static Pool) {
    let mut seen = pool.generation.load(Ordering::Acquire);
    pool.running.fetch_add(1, Ordering::Release);
    loop {
        seen = wait_for_call(pool, seen);
        let joined_before = pool.entry.fetch_add(1, Ordering::AcqRel);
        if joined_before & CLOSED != 0 {
            continue;
        }
        // SAFETY: this worker joined an open call: the owner wrote `job` before
        // opening the entry (release, paired with the acquire above) and will
        // not write it again before this worker leaves.
        let job = unsafe { *pool.job.get() };
        let p = joined_before + 1;
        if p < job.participants {
            // A participant that panics would leave the caller waiting
            // forever, or the output half written: stop the process instead.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: `job.data` is the `&F` of the open call, whose owner
                // waits in `Owner::drop` until this worker has left.
                unsafe { (job.run)(job.data, p) }
            }));
            if ran.is_err() {
                std::process::abort();
            }
        }
        pool.left.fetch_add(1, Ordering::Release);
    }
}

/// Spins for [`SPIN`], then sleeps, until the generation differs from `seen`;
/// returns the new one.
fn wait_for_call(pool: &Pool, seen: usize) -> usize {
    let start = Instant::now();
    loop {
        let now = pool.generation.load(Ordering::Acquire);
        if now != seen {
            return now;
        }
        if start.elapsed() < SPIN {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        } else {
            // The owner unparks after bumping the generation; a wake-up that
            // comes before this park makes it return at once.
            std::thread::park();
        }
    }
}
