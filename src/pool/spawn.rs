//! Starting one job's process, the hot path of every run: a clone that shares pmap's memory
//! until it calls `execve`, as `posix_spawn`'s does, but without its costs (see
//! `pool/child.rs`; no `pre_exec`): the job the leader of its own process group, stdin on
//! /dev/null, stdout and stderr on fresh pipes.
//!
//! `std::process::Command` would rebuild the whole environment block on every spawn once
//! `PMAP_SEQ` and `PMAP_SLOT` are set; here the inherited part is built once per run
//! ([`BaseEnv`]). glibc's `posix_spawn` maps and unmaps a fresh stack for every child (the
//! unmap flushes the TLB of every CPU running one of pmap's threads), asks for the file
//! descriptor limit twice per `dup2` it is given, and sleeps until the child has exec'd;
//! here each worker thread keeps a [`Spawner`] with /dev/null open, one child stack mapped
//! for the whole run and its pointer arrays reused, so a spawn costs two pipes and a clone,
//! and allocates only the job's own argument strings.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use crate::event::JobStatus;
use crate::pool::child::{ChildPlan, ChildStack};

/// The environment every job inherits: pmap's own, minus the variables pmap sets per job.
pub struct BaseEnv(Vec<CString>);

impl BaseEnv {
    pub fn capture() -> Self {
        let vars = std::env::vars_os()
            .filter(|(k, _)| !matches!(k.to_str(), Some("PMAP_SEQ" | "PMAP_SLOT" | "PMAP_HOST")))
            .filter_map(|(k, v)| {
                let mut entry = k.into_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                CString::new(entry).ok()
            })
            .collect();
        BaseEnv(vars)
    }
}

/// A started job: its pid (= process group id) and the read ends of its stdout and stderr.
pub struct Started {
    pub pid: i32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// One worker thread's spawning state. What a job's child reads before it execs (its
/// stack, plan, paths, arguments and environment) lives here, and is reused by the next
/// spawn: so a job's child must have been reaped before the same `Spawner` starts another.
pub struct Spawner {
    dev_null: OwnedFd,
    stack: ChildStack,
    plan: Box<ChildPlan>,
    /// Where to look for the program: one path, or each `$PATH` entry joined to its name.
    paths: Vec<CString>,
    argv: Vec<CString>,
    /// The job's own variables, `NAME=value`.
    extra: Vec<CString>,
    pointers: Vec<*mut libc::c_char>,
}

impl Spawner {
    pub fn new() -> io::Result<Self> {
        let dev_null = std::fs::File::open("/dev/null")?;
        Ok(Spawner {
            dev_null: OwnedFd::from(dev_null),
            stack: ChildStack::new()?,
            plan: Box::new(ChildPlan {
                paths: ptr::null(),
                argv: ptr::null(),
                envp: ptr::null(),
                fds: [-1; 3],
                error: AtomicI32::new(0),
            }),
            paths: Vec::new(),
            argv: Vec::new(),
            extra: Vec::new(),
            pointers: Vec::new(),
        })
    }

    /// Starts `program` with `args` (`args[0]` is the name the program sees) and the base
    /// environment plus the `extra` variables. A `program` without a slash is looked up in
    /// `$PATH`. The previous child of this `Spawner` must have been reaped.
    ///
    /// The child execs after this returns: if it cannot, it exits with 127 and, once it
    /// has been reaped, [`Spawner::exec_error`] says why.
    pub fn spawn(
        &mut self,
        program: &OsStr,
        args: &[&OsStr],
        env: &BaseEnv,
        extra: &[(&str, String)],
    ) -> io::Result<Started> {
        self.paths.clear();
        if program.as_bytes().contains(&b'/') {
            self.paths.push(cstring(program.as_bytes())?);
        } else {
            search_path(program.as_bytes(), &mut self.paths)?;
        }
        self.argv.clear();
        for arg in args {
            self.argv.push(cstring(arg.as_bytes())?);
        }
        self.extra.clear();
        for (name, value) in extra {
            self.extra
                .push(cstring(format!("{name}={value}").as_bytes())?);
        }

        // Paths, argv and envp, each null-terminated, in one reused array.
        self.pointers.clear();
        self.pointers
            .extend(self.paths.iter().map(|p| p.as_ptr().cast_mut()));
        self.pointers.push(ptr::null_mut());
        let argv_at = self.pointers.len();
        self.pointers
            .extend(self.argv.iter().map(|a| a.as_ptr().cast_mut()));
        self.pointers.push(ptr::null_mut());
        let envp_at = self.pointers.len();
        self.pointers.extend(
            env.0
                .iter()
                .chain(&self.extra)
                .map(|e| e.as_ptr().cast_mut()),
        );
        self.pointers.push(ptr::null_mut());

        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        self.plan.paths = self.pointers.as_ptr();
        self.plan.argv = self.pointers[argv_at..].as_ptr();
        self.plan.envp = self.pointers[envp_at..].as_ptr();
        self.plan.fds = [
            self.dev_null.as_raw_fd(),
            out_w.as_raw_fd(),
            err_w.as_raw_fd(),
        ];
        // SAFETY: the plan and what it points to (this Spawner's buffers and `env`, which
        // lives for the whole run) are left alone until the next spawn, which comes only
        // after this child has been reaped. The child has its own copy of the descriptor
        // table, so closing the write ends here leaves its copies open.
        let pid = unsafe { self.stack.start(&self.plan)? };
        drop((out_w, err_w));
        Ok(Started {
            pid,
            stdout: out_r,
            stderr: err_r,
        })
    }

    /// Why the last child could not exec, once it has been reaped (it then exited with
    /// 127); None if it did exec.
    pub fn exec_error(&self) -> Option<io::Error> {
        match self.plan.error.load(Ordering::Relaxed) {
            0 => None,
            errno => Some(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// The paths `execvp` would try for `name` (see [`crate::config::path_candidates`]).
fn search_path(name: &[u8], paths: &mut Vec<CString>) -> io::Result<()> {
    let candidates = crate::config::path_candidates(name);
    if candidates.is_empty() {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    }
    for candidate in candidates {
        paths.push(cstring(&candidate)?);
    }
    Ok(())
}

/// Reaps `pid` if it has exited and says how it ended; None while it is still running.
pub fn try_reap(pid: i32, name: &OsStr) -> Option<JobStatus> {
    loop {
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return None,
            Ok(WaitStatus::Exited(_, code)) => return Some(JobStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Some(JobStatus::Signaled(sig as i32)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Some(JobStatus::NotStarted {
                    code: 126,
                    message: format!("cannot wait for '{}': {e}", crate::template::display(name)),
                });
            }
        }
    }
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// A close-on-exec pipe whose ends are above the standard descriptors, so that the
/// `dup2` onto 0, 1 or 2 in the child never meets its own source (pmap may have been
/// started with one of them closed).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
    Ok((above_stdio(r)?, above_stdio(w)?))
}

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let moved = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn reap_now(pid: i32) -> JobStatus {
        crate::pool::supervise::wait_for_exit(pid);
        try_reap(pid, OsStr::new("test")).unwrap()
    }

    #[test]
    fn runs_a_program_with_its_environment_and_pipes() {
        let mut spawner = Spawner::new().unwrap();
        let env = BaseEnv::capture();
        let args = [
            OsStr::new("sh"),
            OsStr::new("-c"),
            OsStr::new("echo \"$X\"; echo e >&2"),
        ];
        let started = spawner
            .spawn(OsStr::new("sh"), &args, &env, &[("X", "42".to_string())])
            .unwrap();
        let mut out = String::new();
        std::fs::File::from(started.stdout)
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        std::fs::File::from(started.stderr)
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!((out.as_str(), err.as_str()), ("42\n", "e\n"));
        assert!(matches!(reap_now(started.pid), JobStatus::Exited(0)));
        assert!(spawner.exec_error().is_none());
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let mut spawner = Spawner::new().unwrap();
        let env = BaseEnv::capture();
        let name = OsStr::new("pmap-surely-missing-program");
        let started = spawner.spawn(name, &[name], &env, &[]).unwrap();
        assert!(matches!(reap_now(started.pid), JobStatus::Exited(127)));
        assert_eq!(
            spawner.exec_error().unwrap().kind(),
            io::ErrorKind::NotFound
        );
    }
}
