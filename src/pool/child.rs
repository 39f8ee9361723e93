//! The child side of [`super::spawn`]: a stack mapped once per worker thread, and the few
//! system calls a new job's process makes between `clone` and `execve`.
//!
//! The clone is `CLONE_VM | CLONE_VFORK`, as in glibc's `posix_spawn`: the child runs in
//! pmap's memory, on this stack, while the thread that cloned it sleeps until the child
//! has called `execve` (or exited), so the stack is free again when `run` returns. The
//! child may only make plain system calls: no allocation, no locks, no unwinding. While it
//! runs, every signal is blocked in the cloning thread (and so in the child), so that none
//! of pmap's handlers can run in it; the child puts the signals pmap handles or ignores
//! back to their defaults and unblocks them just before `execve`.

use std::io;
use std::ptr;

/// What the child is to do: each pointer array is null-terminated and stays alive until
/// [`ChildStack::run`] returns.
#[repr(C)]
pub struct ChildPlan {
    /// Paths to try, in order, as `execvp` does.
    pub paths: *const *mut libc::c_char,
    pub argv: *const *mut libc::c_char,
    pub envp: *const *mut libc::c_char,
    /// The descriptors that become the child's 0, 1 and 2 (all above 2).
    pub fds: [libc::c_int; 3],
    /// Set by the child when it could not exec: the errno to report. 0 if it did.
    pub error: libc::c_int,
}

/// How large the child's stack is; it needs a few hundred bytes.
const STACK_SIZE: usize = 64 * 1024;

/// A stack for the child, with an unmapped guard page below it.
pub struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by one Spawner at a time and only used while its thread is
// blocked in `run`.
unsafe impl Send for ChildStack {}

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
        let stack = ChildStack { base, len };
        // The lowest page is a guard: an overflow faults instead of writing over the heap.
        // SAFETY: the page lies within the mapping just made.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// Starts a child that carries out `plan`, and returns its pid once it has called
    /// `execve` or given up (then `plan.error` says why).
    pub fn run(&mut self, plan: &mut ChildPlan) -> io::Result<i32> {
        plan.error = 0;
        // SAFETY: the top of the mapping, 16-byte aligned (mmap returns page-aligned memory
        // and STACK_SIZE is a multiple of 16).
        let top = unsafe { self.base.cast::<u8>().add(self.len) }.cast::<libc::c_void>();
        // SAFETY: sigfillset initialises the set; pthread_sigmask only reads and writes the
        // sets given.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        }
        // SAFETY: CLONE_VFORK suspends this thread until the child has exec'd or exited, so
        // the stack and `plan` outlive the child's use of them; the child runs only
        // `child_main`, which makes plain system calls.
        let pid = unsafe {
            libc::clone(
                child_main,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                ptr::from_mut(plan).cast(),
            )
        };
        let clone_error = io::Error::last_os_error();
        // SAFETY: restores the mask saved above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut());
        }
        if pid < 0 {
            return Err(clone_error);
        }
        // The child wrote through its own pointer; read it as memory that changed.
        // SAFETY: `plan` is a valid, exclusive reference.
        plan.error = unsafe { ptr::read_volatile(&plan.error) };
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
const RESET: [libc::c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGPIPE,
    libc::SIGSEGV,
    libc::SIGBUS,
];

/// The child: its own process group, stdin/stdout/stderr in place, default signals, then
/// `execve` of each path in turn. Any failure is left in `plan.error`, and the child exits
/// with 127.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildPlan` passed to clone, alive and not otherwise touched
    // while the parent thread is suspended; only plain system calls are made below.
    unsafe {
        let plan = &mut *arg.cast::<ChildPlan>();
        let fail = |plan: &mut ChildPlan| -> ! {
            plan.error = *libc::__errno_location();
            libc::_exit(127)
        };
        if libc::setpgid(0, 0) != 0 {
            fail(plan);
        }
        for (target, &source) in plan.fds.iter().enumerate() {
            if libc::dup2(source, target as libc::c_int) < 0 {
                fail(plan);
            }
        }
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in RESET {
            libc::sigaction(signal, &default, ptr::null_mut());
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, ptr::null_mut());

        // As execvp: a path that does not exist is skipped; one that exists but may not be
        // run is remembered; any other error ends the search.
        let mut error = libc::ENOENT;
        let mut denied = false;
        let mut path = plan.paths;
        while !(*path).is_null() {
            libc::execve(*path, plan.argv.cast(), plan.envp.cast());
            error = *libc::__errno_location();
            match error {
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
                libc::EACCES => denied = true,
                _ => break,
            }
            path = path.add(1);
        }
        plan.error = if denied && (*path).is_null() {
            libc::EACCES
        } else {
            error
        };
        libc::_exit(127)
    }
}
