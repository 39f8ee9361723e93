//! Starting one job's process, the hot path of every run: `posix_spawn` (a vfork-style
//! clone, no `pre_exec`), the job the leader of its own process group, stdin on /dev/null,
//! stdout and stderr on fresh pipes.
//!
//! `std::process::Command` would rebuild the whole environment block on every spawn once
//! `PMAP_SEQ` and `PMAP_SLOT` are set; here the inherited part is built once per run
//! ([`BaseEnv`]) and each worker thread keeps a [`Spawner`] with /dev/null open and its
//! pointer arrays reused, so a spawn allocates only the job's own argument strings.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::ptr;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use crate::event::JobStatus;

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

/// One worker thread's spawning state.
pub struct Spawner {
    dev_null: OwnedFd,
    argv: Vec<CString>,
    pointers: Vec<*mut libc::c_char>,
}

impl Spawner {
    pub fn new() -> io::Result<Self> {
        let dev_null = std::fs::File::open("/dev/null")?;
        Ok(Spawner {
            dev_null: OwnedFd::from(dev_null),
            argv: Vec::new(),
            pointers: Vec::new(),
        })
    }

    /// Starts `program` with `args` (`args[0]` is the name the program sees) and the base
    /// environment plus the `extra` variables. A `program` without a slash is looked up in
    /// `$PATH`.
    pub fn spawn(
        &mut self,
        program: &OsStr,
        args: &[&OsStr],
        env: &BaseEnv,
        extra: &[(&str, String)],
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

        // argv pointers, a null, then envp pointers and a null, in one reused array.
        self.pointers.clear();
        self.pointers
            .extend(self.argv.iter().map(|a| a.as_ptr().cast_mut()));
        self.pointers.push(ptr::null_mut());
        let envp_at = self.pointers.len();
        self.pointers
            .extend(env.0.iter().chain(&extra).map(|e| e.as_ptr().cast_mut()));
        self.pointers.push(ptr::null_mut());

        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let actions = FileActions::new(&[
            (self.dev_null.as_raw_fd(), 0),
            (out_w.as_raw_fd(), 1),
            (err_w.as_raw_fd(), 2),
        ])?;
        let attr = Attr::new()?;
        let mut pid: libc::pid_t = 0;
        let search = !program.as_bytes().contains(&b'/');
        // SAFETY: every pointer array is null-terminated and outlives the call; the file
        // actions and attributes were initialised above and are destroyed on drop.
        let rc = unsafe {
            let spawn = if search {
                libc::posix_spawnp
            } else {
                libc::posix_spawn
            };
            spawn(
                &mut pid,
                program.as_ptr(),
                &actions.0,
                &attr.0,
                self.pointers.as_ptr(),
                self.pointers[envp_at..].as_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Started {
            pid,
            stdout: out_r,
            stderr: err_r,
        })
    }
}

/// Reaps the exited `pid` and says how it ended.
pub fn reap(pid: i32, name: &OsStr) -> JobStatus {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return JobStatus::Exited(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return JobStatus::Signaled(sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return JobStatus::NotStarted {
                    code: 126,
                    message: format!("cannot wait for '{}': {e}", crate::template::display(name)),
                };
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

struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new(dups: &[(RawFd, RawFd)]) -> io::Result<Self> {
        // SAFETY: init fills the zeroed struct; destroy runs in Drop.
        unsafe {
            let mut actions = FileActions(std::mem::zeroed());
            check(libc::posix_spawn_file_actions_init(&mut actions.0))?;
            for &(from, to) in dups {
                check(libc::posix_spawn_file_actions_adddup2(
                    &mut actions.0,
                    from,
                    to,
                ))?;
            }
            Ok(actions)
        }
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in new().
        unsafe {
            libc::posix_spawn_file_actions_destroy(&mut self.0);
        }
    }
}

/// Own process group, an empty signal mask, and SIGPIPE back to its default (pmap, like
/// every Rust program, ignores it, and an ignored signal stays ignored across exec).
struct Attr(libc::posix_spawnattr_t);

impl Attr {
    fn new() -> io::Result<Self> {
        // SAFETY: init fills the zeroed struct; destroy runs in Drop; the sigsets are
        // initialised by sigemptyset before use.
        unsafe {
            let mut attr = Attr(std::mem::zeroed());
            check(libc::posix_spawnattr_init(&mut attr.0))?;
            let flags = libc::POSIX_SPAWN_SETPGROUP
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(&mut attr.0, flags as _))?;
            check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            check(libc::posix_spawnattr_setsigmask(&mut attr.0, &set))?;
            libc::sigaddset(&mut set, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &set))?;
            Ok(attr)
        }
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in new().
        unsafe {
            libc::posix_spawnattr_destroy(&mut self.0);
        }
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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
        assert!(matches!(
            reap(started.pid, OsStr::new("sh")),
            JobStatus::Exited(0)
        ));
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let mut spawner = Spawner::new().unwrap();
        let env = BaseEnv::capture();
        let name = OsStr::new("pmap-surely-missing-program");
        let err = spawner.spawn(name, &[name], &env, &[]).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
