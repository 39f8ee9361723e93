//! The child side of [`super::spawn`]: a stack mapped once per worker thread, and the few
//! system calls a new job's process makes between `clone` and `execve`.
//!
//! The child is cloned with `CLONE_VM`, as in glibc's `posix_spawn`: it runs in pmap's
//! memory, on this stack, until `execve` gives it memory of its own. Unlike `posix_spawn`,
//! the cloning thread does not sleep until then (no `CLONE_VFORK`): it goes on to watch the
//! job's pipes at once, which saves a sleep and a wake-up per job. So the child must not
//! touch anything pmap's threads use: it makes raw system calls only (no libc function, not
//! even through `errno`, which it would share with the cloning thread), reads only the
//! plan, and the stack and the plan stay untouched until the job has been reaped.
//! On architectures without raw system calls here, the clone adds `CLONE_VFORK` and the
//! child uses libc's wrappers; the cloning thread then sleeps, as under `posix_spawn`.
//!
//! When the clone is made, every signal that pmap handles is blocked in the cloning thread
//! (for good in the thread pool's workers, see [`block_all_signals`]; else just around the
//! clone), so the child starts with them blocked and none of pmap's handlers can run in it;
//! it puts the signals that pmap handles or ignores back to their defaults, then unblocks
//! everything just before `execve`.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

/// What the child is to do: each pointer array is null-terminated, and everything stays
/// alive and unchanged until the child has been reaped.
#[repr(C)]
pub struct ChildPlan {
    /// Paths to try, in order, as `execvp` does.
    pub paths: *const *mut libc::c_char,
    pub argv: *const *mut libc::c_char,
    pub envp: *const *mut libc::c_char,
    /// The descriptors that become the child's 0, 1 and 2 (all above 2).
    pub fds: [libc::c_int; 3],
    /// Set by the child when it could not exec, just before it exits with 127: the errno.
    pub error: AtomicI32,
}

/// How large the child's stack is; it needs a few hundred bytes.
const STACK_SIZE: usize = 64 * 1024;

/// Whether the child can run alongside the cloning thread (see the module doc).
const CONCURRENT: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// A stack for the child, with an unmapped guard page below it.
pub struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
    /// Every signal is blocked in the thread that owns this stack (see
    /// [`block_all_signals`]), so a clone needs no change of the mask around it.
    signals_blocked: bool,
}

/// Blocks every signal but SIGCHLD in the calling thread for good. SIGCHLD stays open
/// because it goes to the thread that started the child: blocked there, the kernel would
/// keep it pending for the process and wake another thread of pmap's to discard it, once
/// per job.
pub fn block_all_signals() {
    // SAFETY: sigfillset initialises the set; pthread_sigmask only reads it.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigdelset(&mut all, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, ptr::null_mut());
    }
}

/// Whether the calling thread blocks every signal it can but SIGCHLD (SIGKILL and SIGSTOP
/// cannot be blocked; glibc keeps signals 32 and 33 for itself). SIGCHLD needs no blocking
/// for the child: pmap has no handler for it.
fn all_signals_blocked() -> bool {
    // SAFETY: pthread_sigmask fills `current`, which is read only if it succeeded.
    unsafe {
        let mut current: libc::sigset_t = std::mem::zeroed();
        if libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut current) != 0 {
            return false;
        }
        (1..=64)
            .filter(|s| !matches!(*s, libc::SIGKILL | libc::SIGSTOP | libc::SIGCHLD | 32 | 33))
            .all(|s| libc::sigismember(&current, s) == 1)
    }
}

impl ChildStack {
    pub fn new() -> io::Result<Self> {
        let page = page_size();
        let len = STACK_SIZE + page;
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack {
            base,
            len,
            signals_blocked: all_signals_blocked(),
        };
        // The lowest page is a guard: an overflow faults instead of writing over the heap.
        // SAFETY: the page lies within the mapping just made.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// Starts a child that carries out `plan`, and returns its pid.
    ///
    /// # Safety
    /// `plan`, everything it points to and this stack must stay alive and unchanged until
    /// the child has been reaped.
    pub unsafe fn start(&mut self, plan: &ChildPlan) -> io::Result<i32> {
        plan.error.store(0, Ordering::Relaxed);
        // SAFETY: the top of the mapping, 16-byte aligned (mmap returns page-aligned memory
        // and the mapping's length is a multiple of 16).
        let top = unsafe { self.base.cast::<u8>().add(self.len) }.cast::<libc::c_void>();
        // SAFETY: sigfillset initialises the set; pthread_sigmask only reads and writes the
        // sets given.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        if !self.signals_blocked {
            unsafe {
                libc::sigfillset(&mut all);
                libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            }
        }
        let mut flags = libc::CLONE_VM | libc::SIGCHLD;
        if !CONCURRENT {
            flags |= libc::CLONE_VFORK;
        }
        // SAFETY: the caller keeps the plan and the stack alive until the child is reaped;
        // the child runs only `child_main`, which makes plain system calls.
        let pid = unsafe {
            libc::clone(
                child_main,
                top,
                flags,
                ptr::from_ref(plan).cast_mut().cast(),
            )
        };
        let clone_error = io::Error::last_os_error();
        if !self.signals_blocked {
            // SAFETY: restores the mask saved above.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut());
            }
        }
        if pid < 0 {
            return Err(clone_error);
        }
        Ok(pid)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new(), no longer in use.
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    }
}

/// Signals the child puts back to their defaults before unblocking: those pmap handles
/// (signal-hook: INT, TERM, HUP; Rust's runtime: SEGV, BUS) or ignores (PIPE, which would
/// stay ignored across `execve`).
const RESET: [libc::c_long; 6] = [
    libc::SIGINT as libc::c_long,
    libc::SIGTERM as libc::c_long,
    libc::SIGHUP as libc::c_long,
    libc::SIGPIPE as libc::c_long,
    libc::SIGSEGV as libc::c_long,
    libc::SIGBUS as libc::c_long,
];

/// The child: its own process group, stdin/stdout/stderr in place, default signals, then
/// `execve` of each path in turn. Any failure is left in `plan.error`, and the child exits
/// with 127.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildPlan` given to clone, kept alive and unchanged by the
    // caller of `start`; only raw system calls are made below.
    unsafe {
        let plan = &*arg.cast_const().cast::<ChildPlan>();
        let fail = |errno: libc::c_long| -> ! {
            plan.error.store(errno as i32, Ordering::Relaxed);
            sys::call(libc::SYS_exit_group, 127, 0, 0, 0);
            unreachable_exit()
        };
        let r = sys::call(libc::SYS_setpgid, 0, 0, 0, 0);
        if r < 0 {
            fail(-r);
        }
        for (target, &source) in plan.fds.iter().enumerate() {
            let r = sys::call(libc::SYS_dup3, source as _, target as _, 0, 0);
            if r < 0 {
                fail(-r);
            }
        }
        // The kernel's struct sigaction for SIG_DFL (0) with no flags, restorer or mask: all
        // zeros, on every architecture. Four words cover its largest layout.
        let default = [0u64; 4];
        // The kernel's sigset_t: 64 signals.
        let sigset_size = 8;
        for signal in RESET {
            sys::call(
                libc::SYS_rt_sigaction,
                signal,
                default.as_ptr() as _,
                0,
                sigset_size,
            );
        }
        let none = 0u64;
        sys::call(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK as _,
            ptr::from_ref(&none) as _,
            0,
            sigset_size,
        );

        // As execvp: a path that does not exist is skipped; one that exists but may not be
        // run is remembered; any other error ends the search.
        let mut error = libc::ENOENT as libc::c_long;
        let mut denied = false;
        let mut path = plan.paths;
        while !(*path).is_null() {
            error = -sys::call(
                libc::SYS_execve,
                *path as _,
                plan.argv as _,
                plan.envp as _,
                0,
            );
            match error as libc::c_int {
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
                libc::EACCES => denied = true,
                _ => break,
            }
            path = path.add(1);
        }
        if denied && (*path).is_null() {
            error = libc::EACCES as libc::c_long;
        }
        fail(error)
    }
}

/// After `exit_group`, which does not return.
fn unreachable_exit() -> ! {
    loop {
        std::hint::spin_loop();
    }
}

/// A raw system call with up to four arguments (pass 0 for the others): the result, or
/// -errno. On x86-64 and AArch64 it never touches `errno`; elsewhere it is libc's
/// `syscall`, which sets `errno` on failure, harmless there because the cloning thread
/// sleeps until the child has exec'd (`CLONE_VFORK`).
mod sys {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    use std::arch::asm;

    pub unsafe fn call(
        nr: libc::c_long,
        a: libc::c_long,
        b: libc::c_long,
        c: libc::c_long,
        d: libc::c_long,
    ) -> libc::c_long {
        #[cfg(target_arch = "x86_64")]
        {
            let ret: libc::c_long;
            // SAFETY: the Linux x86-64 system call convention; the caller vouches for the
            // arguments.
            unsafe {
                asm!(
                    "syscall",
                    inlateout("rax") nr => ret,
                    in("rdi") a,
                    in("rsi") b,
                    in("rdx") c,
                    in("r10") d,
                    lateout("rcx") _,
                    lateout("r11") _,
                    options(nostack),
                );
            }
            ret
        }
        #[cfg(target_arch = "aarch64")]
        {
            let ret: libc::c_long;
            // SAFETY: the Linux AArch64 system call convention; the caller vouches for the
            // arguments.
            unsafe {
                asm!(
                    "svc 0",
                    in("x8") nr,
                    inlateout("x0") a => ret,
                    in("x1") b,
                    in("x2") c,
                    in("x3") d,
                    options(nostack),
                );
            }
            ret
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            // SAFETY: the caller vouches for the arguments; errno is read right after.
            match unsafe { libc::syscall(nr, a, b, c, d) } {
                r if r < 0 => -(unsafe { *libc::__errno_location() }) as libc::c_long,
                r => r,
            }
        }
    }
}
