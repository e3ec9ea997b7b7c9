//! Cutting a call into tasks, and running them: on the caller's thread, on
//! rayon, or task by task on any pool ([`Plan`]).

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::driver::{self, Call, Schedule};

/// How many threads one call uses.
///
/// Whatever the choice, results are bitwise identical: threads split the
/// output, never the sum over input channels. Layers too small to gain run on
/// one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Threads {
    /// Run on the caller's thread only (the default: it never competes with
    /// an engine's own pool).
    #[default]
    Single,
    /// Split the call over up to `n` threads: the caller's and `n - 1` of
    /// pointwise's own workers (`0`: one thread per core the process may
    /// use; never more than that). No cargo feature is needed.
    ///
    /// The workers start on the first call that needs them and then stay: a
    /// call allocates nothing, from whatever thread it comes. Between calls
    /// they spin for 200 µs, then sleep. One call at a time has them; a call
    /// made while another thread's call has them runs on its own thread.
    Count(usize),
    /// Split the call over up to `n` threads of the current rayon pool
    /// (`0`: all of its threads): the pool an engine runs its layers on.
    /// Without the `rayon` cargo feature this runs like [`Threads::Single`].
    ///
    /// The calling thread takes a share of the work, whether it is one of the
    /// pool's threads or not, and waits for the others by spinning briefly
    /// rather than sleeping. From a thread of the pool (inside
    /// `pool.install(..)`) a call allocates nothing; from outside any pool,
    /// rayon allocates one job record per helping thread, and
    /// [`Threads::Count`] is the allocation-free choice
    /// (`examples/pool_handoff.rs` times the three ways).
    Rayon(usize),
}

impl Threads {
    /// The number of threads a call may use (at most `MAX_PARTICIPANTS`).
    pub(crate) fn count(self) -> usize {
        let requested = match self {
            Threads::Single => 1,
            Threads::Count(requested) => {
                let cores = cores();
                if requested == 0 {
                    cores
                } else {
                    requested.min(cores)
                }
            }
            Threads::Rayon(requested) => rayon_threads(requested),
        };
        requested.min(MAX_PARTICIPANTS)
    }
}

/// The cores this process may use, asked once (the question allocates).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The number of rayon threads a call may use.
fn rayon_threads(requested: usize) -> usize {
    #[cfg(feature = "rayon")]
    {
        let available = rayon::current_num_threads();
        if requested == 0 {
            available
        } else {
            requested.min(available)
        }
    }
    #[cfg(not(feature = "rayon"))]
    {
        let _ = requested;
        1
    }
}

/// At most this many claimable tasks, so that the claim bits live inline
/// (no allocation per call).
const MAX_TASKS: usize = 64 * 64;

/// A validated call cut into independent tasks.
///
/// Run every task exactly once, in any order, on any threads:
/// [`Plan::run_task`] claims a task atomically and returns `false` if it was
/// already claimed, so a task can never run twice. When the plan is dropped
/// every task must have run for the output to be complete.
///
/// ```
/// use pointwise::{Conv1x1, Residual, Tensor, TensorDesc, TensorMut, WeightOrder};
///
/// let conv = Conv1x1::new(64, 64).pack(&vec![0.01; 64 * 64], WeightOrder::OutIn, None)?;
/// let input = vec![1.0; 28 * 28 * 64];
/// let mut output = vec![0.0; 28 * 28 * 64];
/// let plan = conv.plan(
///     Tensor::new(&input, TensorDesc::nhwc(1, 28, 28, 64)),
///     TensorMut::new(&mut output, TensorDesc::nhwc(1, 28, 28, 64)),
///     Residual::None,
///     2,
/// )?;
/// std::thread::scope(|s| {
///     for worker in 0..2 {
///         let plan = &plan;
///         s.spawn(move || {
///             for task in (worker..plan.task_count()).step_by(2) {
///                 plan.run_task(task);
///             }
///         });
///     }
/// });
/// assert!((output[0] - 0.64).abs() < 1e-5);
/// # Ok::<(), pointwise::Error>(())
/// ```
pub struct Plan<'a> {
    call: Call<'a>,
    schedule: Schedule,
    /// The threads the tasks were cut for.
    threads: usize,
    out: *mut f32,
    /// Tasks `[i·per_claim, (i+1)·per_claim)` form claim `i`.
    per_claim: usize,
    claims: usize,
    claimed: [AtomicU64; MAX_TASKS / 64],
    /// [`Plan::run`] deals the claims out in equal ranges, one per
    /// thread; `cursors[r]` counts the claims of range `r` taken so far.
    cursors: [Cursor; MAX_PARTICIPANTS],
    /// Claims run to the end.
    finished: AtomicUsize,
    _output: core::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: the plan holds the exclusive borrow of the output for 'a; tasks
// write disjoint parts of it, and each is claimed once through an atomic, so
// sharing the plan between threads cannot produce overlapping writes. The
// other fields are shared read-only data.
unsafe impl Sync for Plan<'_> {}
// SAFETY: as above; nothing in the plan is tied to the creating thread.
unsafe impl Send for Plan<'_> {}

/// Runs a validated `call` on `output`, on the threads `kind` names. On one
/// thread, or when the call is one task, the tasks run in order on the
/// calling thread without a [`Plan`], whose claim bits and cursors (4.6 KiB
/// of stack, zeroed by every call) cost the smallest calls about 50 ns of
/// 220 and se.expand (M = 1, 10.6 µs, its 920 KB of weights read from L2)
/// 1.3-3.7% (Zen 4, the two builds alternated three times).
pub(crate) fn run_call(call: Call<'_>, output: &mut [f32], kind: Threads) {
    let threads = kind.count();
    let schedule = Schedule::new(&call, threads);
    if threads <= 1 || schedule.task_count() <= 1 {
        let out = output.as_mut_ptr();
        for task in 0..schedule.task_count() {
            // SAFETY: the call was validated against `output`, which this
            // function borrows exclusively; each task runs once, on this
            // thread.
            unsafe { driver::run_task(&call, &schedule, out, task) };
        }
    } else {
        Plan::with_schedule(call, schedule, output, threads).run(kind);
    }
}

impl<'a> Plan<'a> {
    pub(crate) fn new(call: Call<'a>, output: &'a mut [f32], threads: usize) -> Plan<'a> {
        let schedule = Schedule::new(&call, threads);
        Plan::with_schedule(call, schedule, output, threads)
    }

    /// A plan of `call` cut as `schedule` says, for `threads` threads.
    fn with_schedule(call: Call<'a>, schedule: Schedule, output: &'a mut [f32], threads: usize) -> Plan<'a> {
        let per_claim = schedule.task_count().div_ceil(MAX_TASKS);
        Plan {
            claims: schedule.task_count().div_ceil(per_claim),
            call,
            schedule,
            threads,
            out: output.as_mut_ptr(),
            per_claim,
            claimed: [const { AtomicU64::new(0) }; MAX_TASKS / 64],
            cursors: [const { Cursor(AtomicUsize::new(0)) }; MAX_PARTICIPANTS],
            finished: AtomicUsize::new(0),
            _output: core::marker::PhantomData,
        }
    }

    /// Number of independent tasks.
    pub fn task_count(&self) -> usize {
        self.claims
    }

    /// Runs task `index` unless it already ran (or is running); returns
    /// whether this call ran it. Out-of-range indices return `false`.
    pub fn run_task(&self, index: usize) -> bool {
        if index >= self.claims {
            return false;
        }
        let bit = 1u64 << (index % 64);
        let previous = self.claimed[index / 64].fetch_or(bit, Ordering::AcqRel);
        if previous & bit != 0 {
            return false;
        }
        let first = index * self.per_claim;
        for task in first..self.schedule.task_count().min(first + self.per_claim) {
            // SAFETY: the call was validated against the output this plan
            // borrows exclusively, and the claim bit makes this thread the only
            // one to run this task.
            unsafe { driver::run_task(&self.call, &self.schedule, self.out, task) };
        }
        self.finished.fetch_add(1, Ordering::Release);
        true
    }

    /// Runs every task not yet run, on the calling thread.
    pub fn run_all(&self) {
        for index in 0..self.claims {
            self.run_task(index);
        }
    }

    /// Runs every task not yet run, on as many threads of the kind `kind`
    /// names as the plan was cut for.
    ///
    /// The tasks are dealt out in equal ranges, one per thread. Each thread
    /// claims tasks from its own range, then from the others' until none is
    /// left, so a thread that the machine slows down runs fewer tasks instead
    /// of holding the others up.
    pub(crate) fn run(&self, kind: Threads) {
        // `cursors` holds one range per participant.
        let participants = self.threads.min(self.claims).min(MAX_PARTICIPANTS);
        if participants <= 1 {
            return self.run_all();
        }
        match kind {
            Threads::Single => self.run_all(),
            Threads::Count(_) => crate::workers::run(participants, &|p| self.participate(p, participants)),
            Threads::Rayon(_) => self.run_on_rayon(participants),
        }
    }

    /// [`Plan::run`] on the current rayon pool (the calling thread among its
    /// threads when it is one of the pool's).
    ///
    /// A thread that runs out of tasks spins, for a bounded time, until the
    /// tasks the others claimed have finished: a rayon worker that waits
    /// longer than a few microseconds goes to sleep, and on this project's
    /// virtual machine waking it took from 15 µs to over 900 µs. Two tasks of
    /// about 490 µs (resnet50.s4.reduce) then took 1.6 ms in all.
    fn run_on_rayon(&self, participants: usize) {
        #[cfg(feature = "rayon")]
        {
            use rayon::prelude::*;
            let participant = |p| {
                self.participate(p, participants);
                self.spin_until_finished();
            };
            if rayon::current_thread_index().is_some() {
                (0..participants).into_par_iter().with_max_len(1).for_each(participant);
            } else {
                // Outside any pool, the caller takes part instead of sleeping
                // while rayon runs the call (see `Threads::Rayon`).
                rayon::in_place_scope(|scope| {
                    for p in 1..participants {
                        scope.spawn(move |_| participant(p));
                    }
                    participant(0);
                });
            }
        }
        #[cfg(not(feature = "rayon"))]
        {
            let _ = participants;
            self.run_all();
        }
    }

    /// Thread `p` of `participants`: runs tasks from its own range first, so
    /// that each thread keeps reading the same rows and panels call after
    /// call, then from the others'.
    fn participate(&self, p: usize, participants: usize) {
        for offset in 0..participants {
            self.claim_from_range((p + offset) % participants, participants);
        }
    }

    /// Claims and runs the tasks of range `range` of `ranges` until none is
    /// left.
    fn claim_from_range(&self, range: usize, ranges: usize) {
        let (start, end) = (range * self.claims / ranges, (range + 1) * self.claims / ranges);
        loop {
            let index = start + self.cursors[range].0.fetch_add(1, Ordering::Relaxed);
            if index >= end {
                return;
            }
            self.run_task(index);
        }
    }

    /// Waits for every claimed task, spinning for at most [`MAX_SPIN`]; past
    /// that, rayon's own wait takes over.
    #[cfg(feature = "rayon")]
    fn spin_until_finished(&self) {
        let start = std::time::Instant::now();
        while self.finished.load(Ordering::Acquire) < self.claims {
            for _ in 0..64 {
                core::hint::spin_loop();
            }
            if start.elapsed() > MAX_SPIN {
                return;
            }
        }
    }
}

/// At most this many threads share one call.
const MAX_PARTICIPANTS: usize = 64;

/// A claim cursor alone on its cache line: each thread takes from its own.
#[repr(align(64))]
struct Cursor(AtomicUsize);

/// The longest a thread that ran out of tasks spins for the others.
#[cfg(feature = "rayon")]
const MAX_SPIN: std::time::Duration = std::time::Duration::from_micros(200);
