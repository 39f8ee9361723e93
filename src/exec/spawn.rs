//! Starting one job's process, the hot path of every run: `posix_spawn` (glibc's is a
//! vfork-style clone that execs before the call returns, so no memory is shared with a
//! running child and a failed exec comes back as an error), with the job the leader of its
//! own process group, its signal mask empty, the signals pmap handles or ignores back to
//! their defaults (see [`crate::signals::job_defaults`]), stdin on /dev/null and stdout and
//! stderr on fresh pipes. No `pre_exec`: it would force a fork.
//!
//! `std::process::Command` would rebuild the whole environment block on every spawn once
//! `PMAP_SEQ` and `PMAP_SLOT` are set; here the inherited part is built once per run
//! ([`BaseEnv`]), and each worker thread keeps a [`Spawner`] with /dev/null open and the
//! spawn attributes set up once, so a spawn costs two pipes and the `posix_spawn` itself.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::spawn::{
    PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn, posix_spawnp,
};
use nix::sys::signal::SigSet;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use crate::event::JobStatus;

/// What every job inherits, set up once per run: pmap's environment minus the variables
/// pmap sets per job, and /dev/null for its stdin (one descriptor for every slot, so that
/// a large `-j` does not spend the descriptors jobs need).
pub struct BaseEnv {
    vars: Vec<CString>,
    dev_null: OwnedFd,
}

impl BaseEnv {
    /// pmap's environment; with `tmpdir` (`--tmpdir`), `TMPDIR` is that directory.
    pub fn capture(tmpdir: Option<&std::path::Path>) -> io::Result<Self> {
        let tmpdir = tmpdir.map(|dir| (OsString::from("TMPDIR"), dir.as_os_str().to_os_string()));
        let vars = std::env::vars_os()
            .filter(|(k, _)| !matches!(k.to_str(), Some("PMAP_SEQ" | "PMAP_SLOT" | "PMAP_HOST")))
            .filter(|(k, _)| tmpdir.is_none() || k != "TMPDIR")
            .chain(tmpdir.clone())
            .filter_map(|(k, v)| {
                let mut entry = k.into_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                CString::new(entry).ok()
            })
            .collect();
        let dev_null = OwnedFd::from(std::fs::File::open("/dev/null")?);
        Ok(BaseEnv { vars, dev_null })
    }
}

/// A started job: its pid (= process group id), the read ends of its stdout and stderr, and
/// the write end of its stdin if it was started with a pipe there.
pub struct Started {
    pub pid: i32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub stdin: Option<OwnedFd>,
}

/// One worker thread's spawning state: the attributes every job starts with. Nothing of it
/// is in use once [`Spawner::spawn`] has returned.
pub struct Spawner {
    attr: PosixSpawnAttr,
    argv: Vec<CString>,
}

impl Spawner {
    pub fn new() -> io::Result<Self> {
        let mut attr = PosixSpawnAttr::init()?;
        attr.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
                | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
                | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
        )?;
        attr.set_pgroup(Pid::from_raw(0))?;
        attr.set_sigmask(&SigSet::empty())?;
        attr.set_sigdefault(&crate::signals::job_defaults())?;
        Ok(Spawner {
            attr,
            argv: Vec::new(),
        })
    }

    /// Starts `program` with `args` (`args[0]` is the name the program sees) and the base
    /// environment plus the `extra` variables. A `program` without a slash is looked up in
    /// `$PATH`. Its stdin is /dev/null, or with `stdin_pipe` a new pipe (`--pipe`). An error
    /// means no process was started: the program could not be found or run (the exec's own
    /// error), or pmap ran out of descriptors or processes.
    pub fn spawn(
        &mut self,
        program: &OsStr,
        args: &[&OsStr],
        env: &BaseEnv,
        extra: &[(&str, String)],
        stdin_pipe: bool,
    ) -> io::Result<Started> {
        let program = cstring(program.as_bytes())?;
        self.argv.clear();
        for arg in args {
            self.argv.push(cstring(arg.as_bytes())?);
        }
        let extra = extra
            .iter()
            .map(|(name, value)| cstring(format!("{name}={value}").as_bytes()))
            .collect::<io::Result<Vec<_>>>()?;
        let envp: Vec<&CStr> = env
            .vars
            .iter()
            .chain(&extra)
            .map(CString::as_c_str)
            .collect();

        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdin = if stdin_pipe { Some(pipe()?) } else { None };
        let mut actions = PosixSpawnFileActions::init()?;
        match &stdin {
            Some((read_end, _)) => actions.add_dup2(read_end.as_raw_fd(), 0)?,
            None => actions.add_dup2(env.dev_null.as_raw_fd(), 0)?,
        }
        actions.add_dup2(out_w.as_raw_fd(), 1)?;
        actions.add_dup2(err_w.as_raw_fd(), 2)?;
        let pid = if program.as_bytes().contains(&b'/') {
            posix_spawn(program.as_c_str(), &actions, &self.attr, &self.argv, &envp)
        } else {
            posix_spawnp(&program, &actions, &self.attr, &self.argv, &envp)
        }?;
        Ok(Started {
            pid: pid.as_raw(),
            stdout: out_r,
            stderr: err_r,
            stdin: stdin.map(|(_, write_end)| write_end),
        })
    }
}

/// `--nice N`: sets the calling thread's nice value, which every process it starts from
/// then on inherits (Linux keeps a nice value per thread). A slot thread calls it once, so
/// that jobs start at that priority with no window in which they run at pmap's.
pub fn lower_thread_priority(nice: i32) -> io::Result<()> {
    let tid = nix::unistd::gettid().as_raw();
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let done = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
        crate::exec::supervise::wait_for_exit(pid);
        try_reap(pid, OsStr::new("test")).unwrap()
    }

    #[test]
    fn runs_a_program_with_its_environment_and_pipes() {
        let mut spawner = Spawner::new().unwrap();
        let env = BaseEnv::capture(None).unwrap();
        let args = [
            OsStr::new("sh"),
            OsStr::new("-c"),
            OsStr::new("echo \"$X\"; echo e >&2"),
        ];
        let started = spawner
            .spawn(
                OsStr::new("sh"),
                &args,
                &env,
                &[("X", "42".to_string())],
                false,
            )
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
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let mut spawner = Spawner::new().unwrap();
        let env = BaseEnv::capture(None).unwrap();
        let name = OsStr::new("pmap-surely-missing-program");
        let error = spawner
            .spawn(name, &[name], &env, &[], false)
            .err()
            .unwrap();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
