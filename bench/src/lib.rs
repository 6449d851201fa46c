//! `gigamcp-bench`: the load generator behind `cargo xtask bench` and the synthetic corpus
//! behind `cargo xtask corpus`. Like the conformance harness it treats the server as a black
//! box: it starts `gigamcp` processes and talks HTTP, and never links the server crate.
pub mod corpus;
pub mod floor;
pub mod guards;
pub mod load;
pub mod procs;
pub mod run;

/// For the tests that measure this process's CPU time.
#[cfg(test)]
pub(crate) mod cpu_tests {
    use std::time::Duration;

    /// Held by each such test, so they do not count each other's CPU time.
    pub static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// This thread's CPU time (not wall time: a thread preempted meanwhile does not count).
    fn thread_cpu() -> Duration {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid timespec to write into; the clock id is a constant.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }

    /// Burns `d` of this thread's CPU time.
    pub fn burn(d: Duration) {
        let start = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - start < d {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}
