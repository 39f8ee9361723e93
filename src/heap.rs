//! Tuning of glibc's allocator for pmap's pattern of use.
//!
//! Every finished job's result (its output, its values, the result itself) is allocated on
//! a slot thread and freed on the collector's. When jobs finish by the hundred thousand a
//! second (the process pool), glibc keeps giving the freed top of the slots' heaps back to
//! the system and faulting fresh pages in again for the next results: about a fifth of
//! pmap's own CPU in the process-pool benchmark. Keeping a few MB of freed memory, and
//! growing heaps a MB at a time, removes that churn for a bounded cost in memory.

/// Freed memory at the top of a heap is kept up to this size before it is given back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const KEEP_FREED: libc::c_int = 8 << 20;

/// Heaps grow by at least this much beyond what an allocation needs.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const GROW_BY: libc::c_int = 1 << 20;

/// Applies the tuning; to be called before any thread is started.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters, which glibc reads under its own
    // locks; it is called before pmap starts any thread, and with valid parameter numbers.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREED);
        libc::mallopt(libc::M_TOP_PAD, GROW_BY);
    }
}
